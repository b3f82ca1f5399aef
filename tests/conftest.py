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
