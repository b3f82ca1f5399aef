"""Writes of the worker registry (`jobs.WorkerProcess`): each `run_worker` says it started, is alive, reaped, stopped.

Only `run_worker`'s reaper thread calls these (jobs/worker.py); operators read the rows through
jobs/ops.py. Every write is one short statement, so a busy database delays a tick, never a job.
"""

import os
import socket
from datetime import datetime, timedelta

from django.utils import timezone

from jobs.models import WorkerProcess

# Rows of workers not seen for this long are deleted when a worker starts: enough to read a week of
# restarts in the admin, small enough that the table stays a few hundred rows.
WORKER_ROWS_KEPT_FOR = timedelta(days=7)


def register_worker(*, processes: int, started_at: datetime, now: datetime | None = None) -> WorkerProcess:
    """Record this process as a running worker (and prune the rows of long-gone ones)."""
    now = now or timezone.now()
    prune_worker_rows(now=now)
    return WorkerProcess.objects.create(
        host=socket.gethostname()[:255],
        pid=os.getpid(),
        started_at=started_at,
        last_seen_at=now,
        processes=processes,
    )


def record_worker_seen(*, worker: WorkerProcess, reaped: bool, now: datetime | None = None) -> None:
    """One tick of the reaper thread: the worker is alive, and its reaper finished a pass if `reaped`."""
    now = now or timezone.now()
    fields = {"last_seen_at": now, **({"last_reap_at": now} if reaped else {})}
    WorkerProcess.objects.filter(pk=worker.pk).update(**fields)


def record_worker_stopped(*, worker: WorkerProcess, now: datetime | None = None) -> None:
    now = now or timezone.now()
    WorkerProcess.objects.filter(pk=worker.pk).update(stopped_at=now, last_seen_at=now)


def prune_worker_rows(*, now: datetime) -> int:
    """Delete rows of workers last seen more than WORKER_ROWS_KEPT_FOR ago; returns how many."""
    deleted, _ = WorkerProcess.objects.filter(last_seen_at__lt=now - WORKER_ROWS_KEPT_FOR).delete()
    return deleted
