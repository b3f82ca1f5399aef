"""The worker process (`manage.py run_worker`): a django-q2 cluster that stops on time, and the reaper.

Why not plain `qcluster`. django-q2 1.11.1 stops a cluster through multiprocessing Events shared by
its processes: the main process's SIGTERM handler calls `stop_event.set()` and joins the sentinel,
which then waits for every worker to finish its current task. Signalled as a whole process group
(`kill -TERM -- -PGID`, honcho on Ctrl-C, systemd's KillMode=control-group), the sentinel, pusher,
monitor and workers die at once (the sentinel sets SIGTERM to SIG_DFL and its children inherit it);
a sentinel killed while it sleeps in `stop_event.wait()` never acknowledges the wake-up, so the
main process blocks in `stop_event.set()` forever, and the killed worker never hands its job back.
Signalled alone, the main process waits for the running job to finish, up to an hour.

The design here does not depend on those Events, so it holds whichever processes get the signal:
- each worker process gets a SIGTERM/SIGINT handler (django-q2's `post_spawn` signal) that hands the
  stop to `thetool.shutdown`: an idle worker exits at once; a running task raises WorkerShutdown at
  its next checkpoint (before each batch, and every 0.1 s while it waits for market data), outside any
  transaction; the task hands its job back (re-queued and enqueued again, resuming where it stopped)
  and the worker exits;
- the main process only records the request in its handler, then sends SIGTERM to every process
  of its cluster (so signalling the main process alone is the same as signalling the group), and again
  every half second to those still running (a worker whose task ended after the first signal exits at
  the next), never touches django-q2's Events, and waits at most THETOOL_WORKER_STOP_SECONDS for them;
  a process still alive then (stuck in C code) is killed, and its job is left to the reaper;
- the reaper (`recover_stale_jobs`) runs in a thread of the main process every
  THETOOL_REAPER_INTERVAL_SECONDS, outside the job queue, so a backlog of queued jobs never delays it;
  at start, at every tick and at stop it writes this process's row of the worker registry
  (`jobs.WorkerProcess`), which /readyz, /metrics, the dashboard and `jobs_report` read.

Finding the cluster's processes reads /proc (Linux, where TheTool is deployed).
"""

import logging
import multiprocessing
import os
import signal
import threading
import time
from pathlib import Path

from django.conf import settings
from django.db import close_old_connections, connection, connections
from django.utils import timezone
from django_q.cluster import Cluster
from django_q.signals import post_execute_in_worker, post_spawn, pre_execute

from jobs import execution, signals, worker_registry
from jobs.models import WorkerProcess
from stocks.market_data import nse_calendar
from stocks.services import refresh_quotes
from thetool import shutdown

logger = logging.getLogger("jobs")

STOP_SIGNALS = (signal.SIGTERM, signal.SIGINT)
RESEND_STOP_SECONDS = 0.5


# --- Inside each django-q2 worker process ----------------------------------------------------


def install_shutdown_handlers(**kwargs) -> None:
    """`post_spawn` receiver: runs in every worker process django-q2 starts (and restarts)."""
    for signum in STOP_SIGNALS:
        signal.signal(signum, _on_stop_signal)
    pre_execute.connect(shutdown.enter_task, dispatch_uid="thetool-task-started")
    post_execute_in_worker.connect(shutdown.leave_task, dispatch_uid="thetool-task-ended")


def _on_stop_signal(signum, frame) -> None:
    # Raises only in an idle worker; a running task stops at its next checkpoint (thetool.shutdown).
    shutdown.request_stop(signal.Signals(signum).name)


# --- The main process ------------------------------------------------------------------------


class WorkerSupervisor:
    def __init__(self):
        self.stop_signal: str | None = None
        self.reaper_stop = threading.Event()
        self.started_at = timezone.now()

    def run(self) -> int:
        """Start the cluster and the reaper; on SIGTERM/SIGINT stop both. Returns the exit code."""
        post_spawn.connect(install_shutdown_handlers, dispatch_uid="thetool-worker-shutdown")
        preload_analysis()
        connections.close_all()  # the cluster forks from this process: children must not share a connection
        cluster = Cluster()  # installs django-q2's own handlers, replaced here
        for signum in STOP_SIGNALS:
            signal.signal(signum, self._request_stop)
        try:
            cluster.start()
        except RuntimeError:
            if self.stop_signal is None:
                raise
            # Signalled while starting: the sentinel died of it, which is the stop we were asked for.
        reaper = threading.Thread(target=self._reap_forever, name="job-reaper", daemon=True)
        reaper.start()
        while self.stop_signal is None:
            if not cluster.sentinel.is_alive():
                logger.error("The django-q2 sentinel died (exit code %s); stopping", cluster.sentinel.exitcode)
                self._stop(cluster, reaper)
                return 1
            time.sleep(0.2)
        return self._stop(cluster, reaper)

    def _request_stop(self, signum, frame) -> None:
        # Only a flag: blocking work in a signal handler is how django-q2's own stop deadlocks.
        self.stop_signal = self.stop_signal or signal.Signals(signum).name

    def _reap_forever(self) -> None:
        interval = settings.THETOOL_REAPER_INTERVAL_SECONDS
        worker = None
        try:
            worker = self._register()
            while not self.reaper_stop.wait(interval):
                reaped = False
                try:
                    close_old_connections()  # a connection broken by a database restart is replaced
                    execution.recover_stale_jobs()
                    reaped = True
                except Exception:
                    # A busy or briefly unreachable database: the next tick tries again.
                    logger.exception("The job reaper failed; retrying in %ss", interval)
                # End-of-day scans ride the same tick (watchlists.apps listens to worker_tick; not a
                # django-q2 schedule, which would wait behind queued jobs); each scan is claimed with a
                # conditional UPDATE, so several workers never fire one twice.
                for receiver, outcome in signals.worker_tick.send_robust(sender=type(self)):
                    if isinstance(outcome, Exception):
                        logger.error(
                            "Worker tick duty %s failed; retrying in %ss",
                            getattr(receiver, "__qualname__", receiver),
                            interval,
                            exc_info=outcome,
                        )
                try:
                    refresh_quotes()  # the screener's price columns, for bars cached since the last tick
                except Exception:
                    logger.exception("Quote refresh failed; retrying in %ss", interval)
                worker = self._report_seen(worker, reaped=reaped)
        finally:
            if worker is not None:
                try:
                    worker_registry.record_worker_stopped(worker=worker)
                except Exception:
                    # Not seen any more, it stops counting as alive after THETOOL_WORKER_ALIVE_SECONDS anyway.
                    logger.warning("Could not record this worker's stop in the registry", exc_info=True)
            connection.close()

    def _register(self) -> WorkerProcess | None:
        try:
            return worker_registry.register_worker(processes=settings.Q_CLUSTER["workers"], started_at=self.started_at)
        except Exception:
            logger.warning("Could not register this worker; retrying at the next tick", exc_info=True)
            return None

    def _report_seen(self, worker: WorkerProcess | None, *, reaped: bool) -> WorkerProcess | None:
        """Tell the registry this worker is alive (registering it first if the database refused at start)."""
        if worker is None:
            return self._register()
        try:
            worker_registry.record_worker_seen(worker=worker, reaped=reaped)
        except Exception:
            logger.warning("Could not update this worker's registry row", exc_info=True)
        return worker

    def _stop(self, cluster: Cluster, reaper: threading.Thread) -> int:
        started = time.monotonic()
        self.reaper_stop.set()
        processes = cluster_processes(root=os.getpid())
        logger.info(
            "Worker stopping (%s): signalling %d cluster processes", self.stop_signal or "sentinel died", len(processes)
        )
        for pid in processes:  # the sentinel first, so it restarts nobody
            _send(pid, signal.SIGTERM)
        deadline = started + settings.THETOOL_WORKER_STOP_SECONDS
        resend_at = started + RESEND_STOP_SECONDS
        while time.monotonic() < deadline and any(_is_running(pid) for pid in processes):
            cluster.sentinel.join(timeout=0.05)  # reaps our child, so it is not counted as a zombie
            if time.monotonic() >= resend_at:
                # A worker whose task ended after the first signal is idle now: this one ends it.
                for pid in processes:
                    if _is_running(pid):
                        _send(pid, signal.SIGTERM)
                resend_at += RESEND_STOP_SECONDS
        stuck = [pid for pid in processes if _is_running(pid)]
        for pid in stuck:
            logger.error("Process %d did not stop within %ss; killing it", pid, settings.THETOOL_WORKER_STOP_SECONDS)
            _send(pid, signal.SIGKILL)
        cluster.sentinel.join(timeout=5)
        reaper.join(timeout=1)
        logger.info("Worker stopped in %.1fs", time.monotonic() - started)
        return 1 if stuck else 0


def preload_analysis() -> None:
    """Load before the cluster forks what every worker process would otherwise load on its first job.

    The NSE holiday list (pandas-market-calendars, imported lazily: 0.1-0.5 s) is loaded here once and
    inherited by every worker process django-q2 forks, recycled ones included: the first chunk of the
    first job after a start no longer pays for it in each worker.
    """
    nse_calendar().covers(timezone.now().date())


def run_worker() -> int:
    return WorkerSupervisor().run()


# --- Processes, from /proc ---------------------------------------------------------------------


def cluster_processes(*, root: int) -> list[int]:
    """Every descendant of `root`, parents before children (sentinel, then its workers)."""
    children: dict[int, list[int]] = {}
    for pid, ppid in _parent_pids().items():
        children.setdefault(ppid, []).append(pid)
    if not children:  # no /proc: at least the direct children multiprocessing knows
        return [p.pid for p in multiprocessing.active_children()]
    found, frontier = [], [root]
    while frontier:
        nxt = [child for pid in frontier for child in sorted(children.get(pid, []))]
        found.extend(nxt)
        frontier = nxt
    return found


def _stat_fields(pid: int) -> list[str] | None:
    try:
        text = Path(f"/proc/{pid}/stat").read_text()
    except (FileNotFoundError, ProcessLookupError, PermissionError):
        return None
    # The command name may contain spaces and parentheses: fields start after its last ")".
    return text[text.rindex(")") + 2 :].split()


def _parent_pids() -> dict[int, int]:
    parents = {}
    proc = Path("/proc")
    if not proc.is_dir():
        return parents
    for entry in proc.iterdir():
        if entry.name.isdigit() and (fields := _stat_fields(int(entry.name))):
            parents[int(entry.name)] = int(fields[1])
    return parents


def _is_running(pid: int) -> bool:
    fields = _stat_fields(pid)
    return fields is not None and fields[0] not in ("Z", "X")


def _send(pid: int, signum: int) -> None:
    try:
        os.kill(pid, signum)
    except ProcessLookupError:
        pass
