"""Shared test set-up.

The suite runs twice (see the Makefile's `test` target): on SQLite, and on PostgreSQL when
DATABASE_URL points at it. Tests marked `postgres` run only in the PostgreSQL pass, tests marked
`sqlite` only in the SQLite pass, and browser tests only in the SQLite pass: they are deselected,
not skipped, in the other pass.
"""

import os
import socket

import pytest
from django.conf import settings

SHARED_DATA = settings.BASE_DIR.parent / "shared" / "data"


def _vendor() -> str:
    return "postgresql" if "postgresql" in settings.DATABASES["default"]["ENGINE"] else "sqlite"


def pytest_collection_modifyitems(config, items):
    vendor = _vendor()
    keep, drop = [], []
    for item in items:
        if vendor == "sqlite" and item.get_closest_marker("postgres"):
            drop.append(item)
        elif vendor == "postgresql" and (item.get_closest_marker("sqlite") or item.get_closest_marker("browser")):
            drop.append(item)
        else:
            keep.append(item)
    if drop:
        config.hook.pytest_deselected(items=drop)
        items[:] = keep


def pytest_configure(config):
    config.addinivalue_line("markers", "sqlite: runs only in the SQLite pass (e.g. multi-process SQLite locking)")


def service_reachable(host: str, port: int) -> bool:
    try:
        with socket.create_connection((host, port), timeout=1):
            return True
    except OSError:
        return False


def require_service(name: str, host: str, port: int):
    """Skip with a clear reason on a laptop without the service; fail in CI, where it must run."""
    if service_reachable(host, port):
        return
    message = f"{name} is not reachable at {host}:{port}"
    if os.environ.get("CI") == "true":
        pytest.fail(f"{message}, and CI=true requires it")
    pytest.skip(f"{message}; start it to run this test")


@pytest.fixture
def shared_data():
    """../shared/data when present (real NSE files); tests that need it skip without it."""
    if not SHARED_DATA.is_dir():
        if os.environ.get("CI") == "true":
            pytest.fail(f"{SHARED_DATA} is missing, and CI=true requires it")
        pytest.skip(f"{SHARED_DATA} is not present on this machine")
    return SHARED_DATA


DB_FIXTURES = {"db", "transactional_db", "live_server", "django_db_reset_sequences", "django_db_serialized_rollback"}


@pytest.fixture(autouse=True)
def _empty_cache_for_database_tests(request):
    """Start every database test with an empty Django cache (throttle counters live there).

    The cache is the `thetool_cache` table, which is no model: the flush after each transactional
    test (live servers, real workers, schemathesis) leaves its rows, so counters charged by one test
    would throttle the next. Only the database and local-memory caches are cleared, never a Redis
    server that others may share.
    """
    if not (request.node.get_closest_marker("django_db") or DB_FIXTURES & set(request.fixturenames)):
        return
    from django.core.cache import caches
    from django.core.cache.backends.db import DatabaseCache
    from django.core.cache.backends.locmem import LocMemCache

    cache = caches["default"]
    if isinstance(cache, DatabaseCache | LocMemCache):
        request.getfixturevalue("_django_db_helper")
        cache.clear()
