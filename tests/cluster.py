"""Run a real worker (`manage.py run_worker`: a django-q2 cluster plus the reaper) against the test database.

Use with a `transactional_db` (or `live_server`) test, so that what the test writes is committed
and visible to the cluster process.
"""

import os
import signal
import subprocess
import sys
import time
from contextlib import contextmanager
from pathlib import Path

from django.conf import settings
from django.db import connection

LOG_DIR = Path(settings.BASE_DIR) / ".cache" / "test-logs"


def test_database_url() -> str:
    """A DATABASE_URL pointing at the database this test process is using."""
    conf = connection.settings_dict
    if connection.vendor == "sqlite":
        return f"sqlite:///{Path(conf['NAME']).resolve()}"
    user = conf.get("USER") or "postgres"
    password = f":{conf['PASSWORD']}" if conf.get("PASSWORD") else ""
    host = conf.get("HOST") or "127.0.0.1"
    port = conf.get("PORT") or 5432
    return f"postgres://{user}{password}@{host}:{port}/{conf['NAME']}"


def cluster_env(**overrides) -> dict:
    env = dict(os.environ)
    env.update(
        {
            "DATABASE_URL": test_database_url(),
            "THETOOL_DATA_SOURCE": "demo",
            "THETOOL_Q_POLL": "0.1",
            "THETOOL_Q_WORKERS": "1",
            "THETOOL_LOG_LEVEL": "INFO",
            "PYTHONUNBUFFERED": "1",
        }
    )
    env.update({k: str(v) for k, v in overrides.items()})
    return env


class Cluster:
    def __init__(self, name: str, env: dict):
        LOG_DIR.mkdir(parents=True, exist_ok=True)
        self.log_path = LOG_DIR / f"{name}-{int(time.time() * 1000)}.log"
        self._log = open(self.log_path, "w")  # noqa: SIM115 (closed in stop())
        self.process = subprocess.Popen(
            [sys.executable, str(Path(settings.BASE_DIR) / "manage.py"), "run_worker"],
            env=env,
            stdout=self._log,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # its own process group, so a SIGKILL can take every worker at once
        )

    def log(self) -> str:
        if not self._log.closed:
            self._log.flush()
        return self.log_path.read_text()

    def kill_hard(self):
        """SIGKILL the cluster and all its workers, as an OOM killer or a host crash would."""
        try:
            os.killpg(self.process.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        self.process.wait(timeout=10)

    def signal_group(self, signum=signal.SIGTERM):
        """Signal every process of the worker at once, as `kill -TERM -- -PGID`, honcho and systemd do."""
        os.killpg(self.process.pid, signum)

    def signal_main(self, signum=signal.SIGTERM):
        """Signal the worker's main process only."""
        self.process.send_signal(signum)

    def stop(self):
        """Stop gracefully by signalling the main process only."""
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.kill_hard()
        # Workers of a stopped cluster must not outlive it.
        try:
            os.killpg(self.process.pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass
        self._log.close()


@contextmanager
def running_cluster(name: str = "qcluster", **env_overrides):
    cluster = Cluster(name, cluster_env(**env_overrides))
    try:
        yield cluster
    finally:
        cluster.stop()


def wait_for(predicate, *, timeout: float = 60, interval: float = 0.2, message="condition"):
    """Poll until predicate() is truthy. `message` may be a callable, evaluated only on timeout."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(interval)
    raise AssertionError(f"Timed out after {timeout}s waiting for {message() if callable(message) else message}")
