"""The Procfile's web process: its gunicorn flags are valid, and its log lines are stamped in UTC."""

import logging
import os
import runpy
import subprocess
import time
from datetime import UTC, datetime, timedelta

import pytest
from django.conf import settings
from gunicorn.config import Config

CONF = settings.BASE_DIR / "thetool" / "gunicorn.conf.py"
MOMENT = datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)  # 08:34:05 in Asia/Kolkata


def web_arguments(**env: str) -> list[str]:
    """The Procfile's web command as the shell honcho starts expands it, given these variables."""
    line = next(line for line in (settings.BASE_DIR / "Procfile").read_text().splitlines() if line.startswith("web:"))
    expanded = subprocess.run(
        ["bash", "-c", f"printf '%s\\n' {line.removeprefix('web:')}"],
        env={"PATH": os.environ["PATH"], **env},
        capture_output=True,
        text=True,
        check=True,
    ).stdout.splitlines()
    assert expanded[:2] == ["gunicorn", "thetool.wsgi"]
    return expanded[2:]


@pytest.fixture
def india_local_time(monkeypatch):
    """The process time zone a worker has once Django's settings are loaded (TIME_ZONE)."""
    monkeypatch.setenv("TZ", "Asia/Kolkata")
    time.tzset()
    yield
    monkeypatch.undo()
    time.tzset()


@pytest.fixture
def logger(india_local_time):
    cfg = Config()
    cfg.set("accesslog", "-")
    yield runpy.run_path(str(CONF))["logger_class"](cfg)
    for log in (logging.getLogger("gunicorn.error"), logging.getLogger("gunicorn.access")):
        log.handlers.clear()


def test_the_procfile_web_line_is_valid_gunicorn_flags_and_loads_the_config_file():
    parsed = Config().parser().parse_args(web_arguments())
    assert parsed.config == "thetool/gunicorn.conf.py"
    assert (settings.BASE_DIR / parsed.config).is_file()
    assert (parsed.bind, parsed.workers) == (["127.0.0.1:8000"], 2)


def test_the_procfile_web_line_takes_bind_and_workers_from_the_environment():
    parsed = Config().parser().parse_args(web_arguments(THETOOL_BIND="0.0.0.0:9000", WEB_CONCURRENCY="5"))
    assert (parsed.bind, parsed.workers) == (["0.0.0.0:9000"], 5)


def test_the_access_log_time_is_utc(logger):
    # Not a frozen clock: time-machine's local time is UTC, which would hide the bug.
    before = datetime.now(UTC).replace(microsecond=0)
    stamp = logger.now()
    after = datetime.now(UTC)
    moment = datetime.strptime(stamp, "[%d/%b/%Y:%H:%M:%S %z]")
    assert moment.utcoffset() == timedelta(0), stamp
    assert before <= moment <= after, stamp


def test_gunicorn_own_log_lines_are_stamped_in_utc(logger):
    record = logging.LogRecord("gunicorn.error", logging.INFO, __file__, 1, "Booting worker", None, None)
    record.created = MOMENT.timestamp()
    (handler,) = [h for h in logger.error_log.handlers if getattr(h, "_gunicorn", False)]
    assert handler.format(record).startswith("[2026-01-02 03:04:05 +0000]")
