"""What the worker benchmarks share: a throw-away database, a `run_worker` to wait on, a RESULTS block.

Imported by the scripts next to it (`from _support import ...`; a script's own folder is on sys.path).
Only 127.0.0.1 is contacted.
"""

import os
import shutil
import signal
import subprocess
import tempfile
import time
import uuid
from contextlib import contextmanager
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "bench" / "RESULTS.md"
POSTGRES_ADMIN_URL = "postgresql://postgres@127.0.0.1:5432/postgres"


def throwaway_database(kind: str, *, prefix: str) -> tuple[str, callable]:
    """(DATABASE_URL, drop) of a new empty database: a temporary SQLite file, or a per-run PostgreSQL one."""
    if kind == "sqlite":
        folder = tempfile.mkdtemp(prefix=f"thetool-{prefix}-")
        return f"sqlite:///{folder}/bench.sqlite3", lambda: shutil.rmtree(folder, ignore_errors=True)
    import psycopg

    name = f"thetool_{prefix.replace('-', '_')}_{os.getpid()}_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(POSTGRES_ADMIN_URL, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')

    def drop():
        with psycopg.connect(POSTGRES_ADMIN_URL, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')

    return f"postgres://postgres@127.0.0.1:5432/{name}", drop


@contextmanager
def running_worker(command: list[str], *, env: dict, log_prefix: str):
    """Start a worker (its own process group, output to a kept log file); SIGTERM it on the way out.

    Yields (process, log path).
    """
    log = tempfile.NamedTemporaryFile("w+", prefix=f"{log_prefix}-", suffix=".log", delete=False)  # noqa: SIM115
    process = subprocess.Popen(command, cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    try:
        yield process, log.name
    finally:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)


def wait_for_workers(log: str, *, workers: int, timeout: float = 60) -> None:
    """Wait until `workers` django-q2 workers of the cluster logging to `log` are ready for tasks."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if Path(log).read_text(errors="replace").count("ready for work at") >= workers:
            return
        time.sleep(0.05)
    raise SystemExit(f"{workers} worker(s) not ready after {timeout:.0f} s:\n{Path(log).read_text(errors='replace')}")


def wait_until_finished(job, *, timeout: float, poll: float = 0.2) -> None:
    """Refresh `job` until it is neither queued nor processing (or `timeout` seconds pass)."""
    from jobs.models import ACTIVE_STATUSES

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        job.refresh_from_db()
        if job.status not in ACTIVE_STATUSES:
            return
        time.sleep(poll)


def record_block(text: str, *, section: str, begin: str, end: str, intro: str = "") -> None:
    """Put `text` between the `begin` and `end` markers of bench/RESULTS.md, replacing an earlier block.

    The first time, the block goes at the end of `section` (or, without that section, at the end of the
    file after the heading and `intro`).
    """
    body = RESULTS.read_text()
    block = f"{begin}\n{text}\n{end}"
    if begin in body:
        before, rest = body.split(begin, 1)
        body = before + block + rest.split(end, 1)[1]
    elif section in body:
        head, tail = body.split(section, 1)
        body = head + section + (tail.replace("\n## ", f"\n{block}\n\n## ", 1) if "\n## " in tail else tail + block)
    else:
        body = body.rstrip("\n") + f"\n\n{section}\n\n{intro}" + block + "\n"
    RESULTS.write_text(body)
