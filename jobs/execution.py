"""The worker side of a job: claim, analyse in batches, record, finish; and recovery of stale jobs.

Every write a worker makes is fenced by its attempt number: a claim increments `attempt`, and
later writes only apply while the job is still `processing` under that attempt. A worker whose
job was cancelled, retired or taken over by another attempt therefore changes nothing.

Liveness: while a job runs, a heartbeat thread refreshes `heartbeat_at` every
THETOOL_JOB_HEARTBEAT_SECONDS (a quarter of THETOOL_JOB_STALE_SECONDS by default), also during a
long market-data fetch; the reaper (`recover_stale_jobs`, run by `manage.py run_worker` outside
the job queue) re-queues a job whose heartbeat is older than THETOOL_JOB_STALE_SECONDS.
"""

import logging
import threading
import time
from contextlib import contextmanager
from dataclasses import dataclass, field

from django.conf import settings
from django.db import close_old_connections, connection, transaction
from django.db.models import Count, Q, Value
from django.db.models.functions import Coalesce
from django.utils import timezone

from jobs.models import AnalysisJob, JobStatus, heartbeat_interval
from jobs.services import enqueue_job
from stocks.analysis import TradeParams
from stocks.models import AnalysisResult
from stocks.services import analyze_symbols, build_result, record_results

logger = logging.getLogger("jobs")


def claim_job(*, job_id) -> int | None:
    """Take a queued job (or a processing one whose worker died) and return this worker's attempt.

    Returns None when there is nothing to do: the job finished, was cancelled, or a live worker
    holds it (a second delivery of the same task lands here and does nothing).
    """
    now = timezone.now()
    with transaction.atomic():
        this_job = AnalysisJob.objects.select_for_update().filter(pk=job_id)
        job = this_job.filter(status=JobStatus.QUEUED).first()
        job = job or this_job.stale(now=now).filter(status=JobStatus.PROCESSING).first()
        if job is None:
            return None
        max_attempts = settings.THETOOL_JOB_MAX_ATTEMPTS
        if job.attempt >= max_attempts:
            _give_up(job, now=now)
            return None
        attempt = job.attempt + 1
        AnalysisJob.objects.filter(pk=job.pk, attempt=job.attempt).transition(
            to=JobStatus.PROCESSING,
            attempt=attempt,
            heartbeat_at=now,
            started_at=Coalesce("started_at", Value(now)),
        )
    logger.info("Job %s claimed (attempt %d/%d, %d symbols)", job_id, attempt, max_attempts, job.total)
    return attempt


def _fenced(job_id, attempt: int):
    return AnalysisJob.objects.filter(pk=job_id, status=JobStatus.PROCESSING, attempt=attempt)


def beat(*, job_id, attempt: int) -> bool:
    """Refresh the heartbeat. False means stop: the job was cancelled or taken over."""
    return _fenced(job_id, attempt).update(heartbeat_at=timezone.now()) == 1


@contextmanager
def beating(*, job_id, attempt: int):
    """Beat from a thread while the body runs, so a long fetch never looks like a dead worker.

    The thread stops when the body ends, or for good as soon as a beat finds that this attempt
    no longer owns the job (cancelled, retired, taken over): a worker that lost its job must not
    keep it looking alive. It uses its own database connection (Django's are per thread).
    """
    stop = threading.Event()

    def run():
        try:
            while not stop.wait(heartbeat_interval()):
                try:
                    close_old_connections()  # a connection broken by a database restart is replaced
                    if not beat(job_id=job_id, attempt=attempt):
                        logger.info("Job %s attempt %d no longer owns the job; heartbeat stops", job_id, attempt)
                        return
                except Exception:
                    # A busy or briefly unreachable database: the next beat tries again.
                    logger.warning("Job %s heartbeat failed; retrying", job_id, exc_info=True)
        finally:
            connection.close()

    thread = threading.Thread(target=run, name=f"heartbeat-{job_id}", daemon=True)
    thread.start()
    try:
        yield
    finally:
        stop.set()
        # Bounded: a beat stuck on the database must not hold up a worker that is stopping.
        thread.join(timeout=5)


def record_batch(*, job: AnalysisJob, attempt: int, outcomes) -> bool:
    """Store one batch of results and the job's progress in one transaction, if this attempt still owns the job."""
    results = [
        build_result(o, strategy_id=job.strategy_id, capital=job.capital, job=job, source=job.data_source)
        for o in outcomes
    ]
    with transaction.atomic():
        if not _fenced(job.pk, attempt).select_for_update().exists():
            return False
        # The (job, symbol) constraint makes a re-delivered batch a no-op instead of a duplicate;
        # record_results also moves each stock's LatestResult pointer in this same transaction.
        record_results(results=results, ignore_conflicts=True)
        counts = AnalysisResult.objects.filter(job_id=job.pk).aggregate(
            done=Count("id"), ok=Count("id", filter=Q(error=""))
        )
        _fenced(job.pk, attempt).update(
            completed=counts["done"],
            successful=counts["ok"],
            heartbeat_at=timezone.now(),
        )
    return True


def execute_job(*, job_id, attempt: int) -> str:
    """Analyse the job's remaining symbols in batches; returns how the attempt ended."""
    started = time.monotonic()
    job = AnalysisJob.objects.get(pk=job_id)
    params = _trade_params(job)
    done = set(AnalysisResult.objects.filter(job_id=job.pk).values_list("symbol", flat=True))
    remaining = [s for s in job.symbols if s not in done]
    logger.info(
        "Job %s attempt %d: analysing %d of %d symbols (%d already stored)",
        job.pk,
        attempt,
        len(remaining),
        job.total,
        len(done),
    )
    with beating(job_id=job.pk, attempt=attempt):
        for batch in _batches(remaining, settings.THETOOL_JOB_BATCH_SIZE):
            # Also the cancellation check: a job that is no longer ours stops before the next fetch.
            if not beat(job_id=job.pk, attempt=attempt):
                return _stopped(job.pk, attempt)
            outcomes = analyze_symbols(
                symbols=batch, strategy_id=job.strategy_id, params=params, source=job.data_source
            )
            if not record_batch(job=job, attempt=attempt, outcomes=outcomes):
                return _stopped(job.pk, attempt)
    finished = _fenced(job.pk, attempt).transition(to=JobStatus.COMPLETED, finished_at=timezone.now(), status_reason="")
    if not finished:
        return _stopped(job.pk, attempt)
    job.refresh_from_db()
    logger.info(
        "Job %s completed: %d symbols, %d analysed, %d failed, attempt %d, %.1fs",
        job.pk,
        job.total,
        job.successful,
        job.failed,
        attempt,
        time.monotonic() - started,
    )
    return "completed"


def _batches(items: list, size: int):
    for start in range(0, len(items), size):
        yield items[start : start + size]


def _trade_params(job: AnalysisJob) -> TradeParams:
    return TradeParams(
        capital=float(job.capital),
        risk_percent=float(job.risk_percent),
        max_position_percent=float(job.max_position_percent) if job.max_position_percent is not None else None,
    )


def _stopped(job_id, attempt: int) -> str:
    status = AnalysisJob.objects.filter(pk=job_id).values_list("status", flat=True).first()
    logger.info("Job %s attempt %d stops: the job is now %s or owned by another attempt", job_id, attempt, status)
    return "stopped"


def fail_job(*, job_id, attempt: int, reason: str) -> bool:
    updated = _fenced(job_id, attempt).transition(to=JobStatus.FAILED, status_reason=reason, finished_at=timezone.now())
    if updated:
        logger.error("Job %s failed (attempt %d): %s", job_id, attempt, reason)
    return bool(updated)


def release_job(*, job_id, attempt: int, reason: str) -> bool:
    """Hand a job back at once (its worker is shutting down): queued again, and on the broker again.

    The heartbeat is cleared (no worker holds it) and the attempt is kept, so the next claim
    counts a new attempt; the stored results stay, so the next attempt resumes where this one
    stopped. If the broker refuses, enqueue_job marks the job failed with the reason.
    """
    updated = _fenced(job_id, attempt).transition(
        to=JobStatus.QUEUED, status_reason=reason, heartbeat_at=None, enqueued=False
    )
    if updated:
        logger.warning("Job %s released by attempt %d: %s", job_id, attempt, reason)
        enqueue_job(job_id=job_id)
    return bool(updated)


def _give_up(job: AnalysisJob, *, now) -> None:
    reason = (
        f"Gave up after {job.attempt} attempts: the worker stopped responding each time "
        f"(THETOOL_JOB_MAX_ATTEMPTS={settings.THETOOL_JOB_MAX_ATTEMPTS})"
    )
    AnalysisJob.objects.filter(pk=job.pk, attempt=job.attempt, status=job.status).transition(
        to=JobStatus.FAILED, status_reason=reason, finished_at=now
    )
    logger.error("Job %s failed: %s", job.pk, reason)


@dataclass
class RecoveryReport:
    requeued: list[str] = field(default_factory=list)
    reenqueued: list[str] = field(default_factory=list)
    failed: list[str] = field(default_factory=list)

    def __str__(self) -> str:
        return (
            f"{len(self.requeued)} stale processing job(s) re-queued, {len(self.reenqueued)} waiting job(s) "
            f"handed to the queue again, {len(self.failed)} job(s) failed after too many attempts"
        )


def recover_stale_jobs(*, job_ids=None) -> RecoveryReport:
    """Re-queue processing jobs whose worker stopped beating; hand waiting jobs to the broker again.

    A processing job that has used THETOOL_JOB_MAX_ATTEMPTS attempts is failed with a reason
    instead (a poison job must not loop forever). Resumed jobs skip the symbols already stored.
    """
    now = timezone.now()
    report = RecoveryReport()
    scope = AnalysisJob.objects.all() if job_ids is None else AnalysisJob.objects.filter(pk__in=job_ids)

    for job in scope.stale(now=now).filter(status=JobStatus.PROCESSING):
        if job.attempt >= settings.THETOOL_JOB_MAX_ATTEMPTS:
            _give_up(job, now=now)
            report.failed.append(str(job.pk))
            continue
        # Fenced by attempt and staleness: a worker that beat in the meantime keeps its job.
        requeued = (
            AnalysisJob.objects.filter(pk=job.pk, attempt=job.attempt)
            .stale(now=now)
            .transition(
                to=JobStatus.QUEUED,
                status_reason=f"Re-queued after attempt {job.attempt}: worker stopped responding",
                heartbeat_at=None,
            )
        )
        if requeued:
            logger.warning(
                "Re-queued stale job %s (attempt %d/%d, last heartbeat %s, %d/%d symbols done)",
                job.pk,
                job.attempt,
                settings.THETOOL_JOB_MAX_ATTEMPTS,
                job.last_sign_of_life.isoformat(),
                job.completed,
                job.total,
            )
            enqueue_job(job_id=job.pk)
            report.requeued.append(str(job.pk))

    # Queued, and not handed to the broker within the stale limit (or its task was lost).
    for job in scope.stale(now=now).filter(status=JobStatus.QUEUED):
        logger.warning(
            "Job %s has waited in the queue since %s; enqueuing it again", job.pk, job.created_at.isoformat()
        )
        enqueue_job(job_id=job.pk)
        report.reenqueued.append(str(job.pk))
    if report.requeued or report.reenqueued or report.failed:
        logger.info("Recovery: %s", report)
    return report
