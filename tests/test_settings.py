"""Settings come from the environment; malformed values stop start-up naming the variable."""

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
from django.conf import settings
from django.core import checks
from django.core.management import call_command

BASE = {k: v for k, v in os.environ.items() if not k.startswith(("DJANGO_", "THETOOL_", "DATABASE_URL", "REDIS_URL"))}


def start(**env) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "manage.py", "check"],
        cwd=settings.BASE_DIR,
        env={**BASE, **env},
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_a_fresh_clone_starts_with_no_variables_set():
    result = start()
    assert result.returncode == 0, result.stderr


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("DJANGO_DEBUG", "maybe"),
        ("THETOOL_DEDUP_WINDOW_SECONDS", "five minutes"),
        ("THETOOL_JOB_CREATE_RETRIES", "0"),
        ("THETOOL_JOB_CREATE_BACKOFF", "fast"),
        ("THETOOL_DATA_SOURCE", "bloomberg"),
        ("DATABASE_URL", "mysql://x@y/z"),
        ("THETOOL_Q_WORKERS", "-1"),
        ("THETOOL_RESULTS_KEEP_DAYS", "0"),
        ("THETOOL_RESULTS_THIN_TO", "fortnight"),
    ],
)
def test_a_malformed_variable_stops_start_up_naming_it(name, value):
    result = start(**{name: value})
    assert result.returncode != 0
    # The error itself names the variable (the traceback's source lines always would).
    error = result.stderr.strip().splitlines()[-1]
    assert error.startswith(f"django.core.exceptions.ImproperlyConfigured: Environment variable {name} "), error


def test_the_secret_key_is_required_when_not_debugging():
    result = start(DJANGO_DEBUG="false")
    assert result.returncode != 0
    assert "Environment variable DJANGO_SECRET_KEY is required" in result.stderr.strip().splitlines()[-1]
    assert start(DJANGO_DEBUG="false", DJANGO_SECRET_KEY="x" * 50).returncode == 0


@pytest.mark.sqlite
def test_sqlite_runs_in_immediate_mode_with_wal_and_a_busy_timeout():
    options = settings.DATABASES["default"]["OPTIONS"]
    assert options["transaction_mode"] == "IMMEDIATE"
    assert "journal_mode=WAL" in options["init_command"] and "busy_timeout=20000" in options["init_command"]


def test_the_q_cluster_check_refuses_a_timeout_at_or_above_retry():
    conf = {**settings.Q_CLUSTER, "timeout": 600, "retry": 600}
    from jobs.checks import check_q_cluster

    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(settings, "Q_CLUSTER", conf)
        ids = [message.id for message in check_q_cluster(None)]
    assert "jobs.E001" in ids
    assert [m for m in checks.run_checks() if m.id.startswith("jobs.")] == []


def test_the_q_cluster_check_refuses_unbounded_task_retries():
    from jobs.checks import check_q_cluster

    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(settings, "Q_CLUSTER", {**settings.Q_CLUSTER, "max_attempts": 0})
        assert "jobs.E002" in [message.id for message in check_q_cluster(None)]


def test_timeout_stays_below_retry_by_default():
    assert settings.Q_CLUSTER["timeout"] < settings.Q_CLUSTER["retry"]
    call_command("check")


@pytest.mark.postgres
def test_postgresql_keeps_connections_with_health_checks():
    database = settings.DATABASES["default"]
    assert database["CONN_MAX_AGE"] == 60 and database["CONN_HEALTH_CHECKS"] is True


def test_connections_are_kept_on_every_database():
    # django-q2 closes obsolete connections before each task and each ORM-broker poll: with 0, a worker
    # reopened its SQLite file (and re-registered Django's SQL functions) several times a second.
    assert settings.DATABASES["default"]["CONN_MAX_AGE"] == 60


def read_setting_names() -> list[str]:
    """Every environment variable settings.py reads: `env_int("NAME", …)`, `env.str("NAME", …)`, `_typed("NAME", …)`."""
    source = (Path(settings.BASE_DIR) / "thetool" / "settings.py").read_text()
    return sorted(set(re.findall(r'(?:\benv(?:_[a-z]+|\.[a-z_]+)|\b_typed)\(\s*"([A-Z][A-Z0-9_]+)"', source)))


def test_every_setting_read_is_listed_in_env_example_and_the_readme_settings_table():
    names = read_setting_names()
    assert "THETOOL_WORKER_ALIVE_SECONDS" in names and "DATABASE_URL" in names, "the pattern finds the reads"
    env_example = (Path(settings.BASE_DIR) / ".env.example").read_text()
    readme = (Path(settings.BASE_DIR) / "README.md").read_text()
    table = readme.split("\n## Settings\n", 1)[1].split("\n## ", 1)[0]
    missing_env = [n for n in names if not re.search(rf"^#?\s*{n}=", env_example, re.M)]
    missing_readme = [n for n in names if f"`{n}`" not in table]
    assert missing_env == [], "add these to .env.example"
    assert missing_readme == [], "add these to the README's settings table (full names)"
