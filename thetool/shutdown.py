"""Stopping a worker process cleanly: a stop signal is noted, and the running task ends at a checkpoint.

A signal handler that raises wherever the main thread happens to be can land inside database code
(for instance between SQLite's `BEGIN IMMEDIATE` and Django marking the atomic block, which leaves the
write lock held by a transaction nobody commits) or inside a finaliser, where Python prints the
exception and swallows it. Both happened in CI. So, in a worker process under `run_worker`:

- outside a task, a stop signal raises WorkerShutdown at once: an idle worker just exits;
- inside a task, the signal is only noted; the task raises WorkerShutdown at its next `checkpoint()`:
  before each batch, and every POLL_SECONDS while it waits for market data, a rate-limit window or a
  shared Yahoo slot. A checkpoint never raises inside a transaction, and raises again at the next one
  if something swallowed the first;
- once the task hands its work back (`handing_back()`), nothing raises any more, so the hand-back can
  write to the database.

The main process of `run_worker` repeats its SIGTERM until its workers are gone, so a worker whose task
ended normally after the first signal (no checkpoint left) exits at the next one, from its idle loop.
Outside a worker (web processes, tests, management commands) no stop is ever requested and
`checkpoint()` costs one comparison.
"""

import threading
import time
from contextlib import contextmanager

from django.db import connection

POLL_SECONDS = 0.1

_requested: str | None = None  # the name of the first stop signal this process received
_in_task = False
_handing_back = False


class WorkerShutdown(SystemExit):
    """Raised in a running task when its worker process is told to stop (SIGTERM, SIGINT).

    A SystemExit, so that `except Exception` anywhere in the analysis cannot swallow it, django-q2's
    worker loop does not record it as a task failure, and the process exits quietly (code 0).
    """

    def __init__(self, signal_name: str):
        super().__init__(0)
        self.signal_name = signal_name

    def __str__(self) -> str:
        return f"received {self.signal_name}"


def request_stop(signal_name: str) -> None:
    """Called by the worker's signal handler (in the main thread): note the stop, raise at once when idle."""
    global _requested
    if _requested is None:
        _requested = signal_name
    if not _in_task and not _handing_back:
        raise WorkerShutdown(_requested)


def stop_requested() -> bool:
    return _requested is not None


def checkpoint() -> None:
    """Raise WorkerShutdown if this process was told to stop: a safe point of a task (no transaction open)."""
    if _requested is None or _handing_back or connection.in_atomic_block:
        return
    raise WorkerShutdown(_requested)


def sleep(seconds: float) -> None:
    """time.sleep that ends early, with WorkerShutdown, when the process is told to stop."""
    deadline = time.monotonic() + seconds
    while (left := deadline - time.monotonic()) > 0:
        checkpoint()
        time.sleep(min(left, POLL_SECONDS))
    checkpoint()


def wait(event: threading.Event, timeout: float) -> bool:
    """event.wait(timeout) that ends early, with WorkerShutdown, when the process is told to stop."""
    deadline = time.monotonic() + timeout
    while not event.is_set() and (left := deadline - time.monotonic()) > 0:
        checkpoint()
        event.wait(min(left, POLL_SECONDS))
    return event.is_set()


def enter_task(**kwargs) -> None:
    """django-q2 `pre_execute` receiver: from here a stop waits for the task's next checkpoint."""
    global _in_task
    _in_task = True


def leave_task(**kwargs) -> None:
    """django-q2 `post_execute_in_worker` receiver: the task has ended."""
    global _in_task
    _in_task = False


@contextmanager
def running_task():
    """What the worker does around a task, for code that runs a task outside django-q2 (tests)."""
    enter_task()
    try:
        yield
    finally:
        leave_task()


def handing_back() -> None:
    """The task is handing its work back: no checkpoint raises from here on."""
    global _handing_back
    _handing_back = True


def reset() -> None:
    """Forget any stop request (tests that play a worker process)."""
    global _requested, _in_task, _handing_back
    _requested, _in_task, _handing_back = None, False, False
