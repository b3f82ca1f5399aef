"""The worker side of a job: claim, analyse in batches, record, finish; and recovery of stale jobs.

Every write a worker makes is fenced by its attempt number: a claim increments `attempt`, and
later writes only apply while the job is still `processing` under that attempt. A worker whose
job was cancelled, retired or taken over by another attempt therefore changes nothing.

Liveness: while a job runs, a heartbeat thread refreshes `heartbeat_at` every
THETOOL_JOB_HEARTBEAT_SECONDS (a quarter of THETOOL_JOB_STALE_SECONDS by default), also during a
long market-data fetch; the reaper (`recover_stale_jobs`, run by `manage.py run_worker` outside
the job queue) re-queues a job whose heartbeat is older than THETOOL_JOB_STALE_SECONDS.

Fan-out: a job of more than THETOOL_JOB_CHUNK_SIZE symbols is split into JobChunks, one django-q2
task each, so every worker of the cluster works on it. A chunk is claimed, fenced (its own
attempt number), beaten, handed back and recovered the way a small job is; its results and the
job's progress (F() increments) are stored in one transaction that holds the job's row, so
progress never runs ahead of what is stored and a cancelled job gets nothing more. The job's
status is decided once: by the conditional UPDATE in `finish_job_if_done`, which only the
finisher that sees no unfinished chunk wins.
"""

import logging
import os
import socket
import threading
import time
from collections.abc import Callable
from contextlib import contextmanager
from dataclasses import dataclass, field

from django.conf import settings
from django.db import close_old_connections, connection, transaction
from django.db.models import Count, Exists, F, OuterRef, Q, Value
from django.db.models.functions import Coalesce
from django.utils import timezone

from jobs import signals
from jobs.models import AnalysisJob, ChunkStatus, JobChunk, JobStatus, heartbeat_interval, in_batches
from jobs.services import enqueue_chunks, enqueue_job
from stocks.analysis import TradeParams
from stocks.models import AnalysisResult
from stocks.services import analyze_symbols, build_result, prepare_results, record_results
from thetool import shutdown

logger = logging.getLogger("jobs")

# Rows per INSERT statement on PostgreSQL: 500 x 23 columns stays far below its 65,535 parameters.


def claim_job(*, job_id) -> int | None:
    """Take a queued job (or a processing one whose worker died) and return this worker's attempt.

    Returns None when there is nothing to do: the job finished, was cancelled, or a live worker
    holds it (a second delivery of the same task lands here and does nothing).
    """
    now = timezone.now()
    with transaction.atomic():
        this_job = AnalysisJob.objects.select_for_update().filter(pk=job_id)
        job = this_job.filter(status=JobStatus.QUEUED).first()
        job = job or this_job.stale(now=now).filter(status=JobStatus.PROCESSING).exclude(_has_chunks()).first()
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
    with _beating_with(lambda: beat(job_id=job_id, attempt=attempt), name=f"{job_id}", attempt=attempt):
        yield


@contextmanager
def _beating_with(beat_once: Callable[[], bool], *, name: str, attempt: int):
    stop = threading.Event()

    def run():
        try:
            while not stop.wait(heartbeat_interval()):
                try:
                    close_old_connections()  # a connection broken by a database restart is replaced
                    if not beat_once():
                        logger.info("Job %s attempt %d no longer owns the job; heartbeat stops", name, attempt)
                        return
                except Exception:
                    # A busy or briefly unreachable database: the next beat tries again.
                    logger.warning("Job %s heartbeat failed; retrying", name, exc_info=True)
        finally:
            connection.close()

    thread = threading.Thread(target=run, name=f"heartbeat-{name}", daemon=True)
    thread.start()
    try:
        yield
    finally:
        stop.set()
        # Bounded: a beat stuck on the database must not hold up a worker that is stopping.
        thread.join(timeout=5)


def record_batch(*, job: AnalysisJob, attempt: int, outcomes) -> bool:
    """Store one batch of results and the job's progress in one transaction, if this attempt still owns the job."""
    prepared = _prepare(job, outcomes)
    with transaction.atomic():
        if not _fenced(job.pk, attempt).select_for_update().exists():
            return False
        # The (job, symbol) constraint makes a re-delivered batch a no-op instead of a duplicate;
        # record_results also moves each stock's LatestResult pointer in this same transaction.
        record_results(results=prepared, ignore_conflicts=True)
        counts = AnalysisResult.objects.filter(job_id=job.pk).aggregate(
            done=Count("id"), ok=Count("id", filter=Q(error=""))
        )
        _fenced(job.pk, attempt).update(
            completed=counts["done"],
            successful=counts["ok"],
            heartbeat_at=timezone.now(),
        )
    return True


def _prepare(job: AnalysisJob, outcomes):
    """Result rows and their INSERT statements, built before the transaction (SQLite's write lock is shared)."""
    return prepare_results(
        [
            build_result(o, strategy_id=job.strategy_id, capital=job.capital, job=job, source=job.data_source)
            for o in outcomes
        ]
    )


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
        for batch in in_batches(remaining, settings.THETOOL_JOB_BATCH_SIZE):
            shutdown.checkpoint()  # a worker told to stop hands the work back here
            # The cancellation check: a job that is no longer ours stops before the next fetch. A read:
            # the heartbeat thread and each batch's transaction keep the job looking alive.
            if not _fenced(job.pk, attempt).exists():
                return _stopped(job.pk, attempt)
            outcomes = analyze_symbols(
                symbols=batch, strategy_id=job.strategy_id, params=params, source=job.data_source
            )
            if not record_batch(job=job, attempt=attempt, outcomes=outcomes):
                return _stopped(job.pk, attempt)
    finished = _fenced(job.pk, attempt).transition(to=JobStatus.COMPLETED, finished_at=timezone.now(), status_reason="")
    if not finished:
        return _stopped(job.pk, attempt)
    # Alerts compare the new results with the previous ones (alerts.apps listens): once per job.
    signals.job_completed.send(sender=AnalysisJob, job_id=job.pk)
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


# --- Fan-out: a large job's chunks, processed by any worker of the cluster ---------------------


def _has_chunks():
    return Exists(JobChunk.objects.filter(job_id=OuterRef("pk")))


def fan_out_job(*, job_id, attempt: int) -> str:
    """Make sure a claimed large job has its chunks and that each unfinished one is on the task queue.

    A job requested through the services gets its chunks with it, and their tasks are handed to the
    queue at once (jobs.services.hand_over), so every worker starts together. This first attempt then
    only hands over chunks that never reached the queue (the web process stopped between its commit and
    the hand-over) and splits a job that has no chunks. A later attempt (after a hand-back) hands over
    every queued chunk again. Chunks already made are kept as they are (even if THETOOL_JOB_CHUNK_SIZE or
    _TAPER changed meanwhile); a chunk whose worker died is the reaper's (recover_stale_jobs).
    """
    job = AnalysisJob.objects.get(pk=job_id)
    size, taper = settings.THETOOL_JOB_CHUNK_SIZE, settings.THETOOL_JOB_CHUNK_TAPER
    with transaction.atomic():
        if not _fenced(job.pk, attempt).select_for_update().exists():
            return _stopped(job.pk, attempt)
        made = JobChunk.objects.filter(job_id=job.pk).count()
        layout = "made earlier"
        if not made:
            made = len(JobChunk.objects.create_for(job))
            layout = f"{size} symbols each" + (f", then {taper} of the last {size}" if taper > 1 else "")
        queued = JobChunk.objects.filter(job_id=job.pk, status=ChunkStatus.QUEUED)
        if attempt == 1:
            queued = queued.filter(enqueued_at__isnull=True)
        pending = list(queued.values_list("index", flat=True))
        # Handed to the broker only once the chunks are committed: a worker never looks for a missing row.
        if pending:
            transaction.on_commit(lambda: enqueue_chunks(job_id=job.pk, indexes=pending))
    logger.info(
        "Job %s attempt %d fanned out: %d chunks (%s), %d enqueued",
        job.pk,
        attempt,
        made,
        layout,
        len(pending),
    )
    finish_job_if_done(job_id=job.pk)  # a re-delivery after every chunk ended but before the job did
    return "fanned out"


def is_waiting_to_start(*, job_id) -> bool:
    """Whether the job is still queued: no worker has claimed it yet (a read)."""
    return AnalysisJob.objects.filter(pk=job_id, status=JobStatus.QUEUED).exists()


def _worker_name() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"[:100]


def claim_chunk(*, job_id, index: int) -> int | None:
    """Take a queued chunk (or one whose worker died) of a processing job; return this worker's attempt."""
    now = timezone.now()
    # A read first: most deliveries of a chunk's task find it taken by a worker that went on with the
    # job's chunks, and on SQLite the transaction below would queue for the one write lock.
    candidates = JobChunk.objects.filter(job_id=job_id, index=index, job__status=JobStatus.PROCESSING)
    if not any(chunks.exists() for chunks in _claimable(candidates, now=now)):
        return None
    with transaction.atomic():
        if not AnalysisJob.objects.filter(pk=job_id, status=JobStatus.PROCESSING).exists():
            return None  # cancelled, failed or completed: nothing more is written for it
        queued, abandoned = _claimable(JobChunk.objects.select_for_update().filter(job_id=job_id, index=index), now=now)
        chunk = queued.first() or abandoned.first()
        if chunk is None:
            return None
        if chunk.attempt >= settings.THETOOL_JOB_MAX_ATTEMPTS:
            _give_up_chunk(chunk, now=now)
            return None
        attempt = chunk.attempt + 1
        JobChunk.objects.filter(pk=chunk.pk, attempt=chunk.attempt).update(
            status=ChunkStatus.PROCESSING, attempt=attempt, heartbeat_at=now, claimed_by=_worker_name()
        )
    logger.info("Job %s chunk %d claimed (attempt %d, %d symbols)", job_id, index, attempt, len(chunk.symbols))
    return attempt


def _claimable(chunks, *, now):
    """What a claim may take, in order: the queued chunks, then those whose worker died (stale, processing)."""
    return chunks.filter(status=ChunkStatus.QUEUED), chunks.stale(now=now).filter(status=ChunkStatus.PROCESSING)


def next_queued_chunk(*, job_id) -> int | None:
    """The first queued chunk of a processing job, for a worker with time to spare (a read; the claim decides)."""
    queued = JobChunk.objects.filter(job_id=job_id, status=ChunkStatus.QUEUED, job__status=JobStatus.PROCESSING)
    return queued.order_by("index").values_list("index", flat=True).first()


def _fenced_chunk(job_id, index: int, attempt: int):
    return JobChunk.objects.filter(job_id=job_id, index=index, status=ChunkStatus.PROCESSING, attempt=attempt)


def owns_chunk(*, job_id, index: int, attempt: int) -> bool:
    """Whether this attempt still holds the chunk of a processing job (a read: no lock, no write)."""
    return _fenced_chunk(job_id, index, attempt).filter(job__status=JobStatus.PROCESSING).exists()


def beat_chunk(*, job_id, index: int, attempt: int) -> bool:
    """Refresh the chunk's heartbeat and the job's. False means stop: cancelled, failed or taken over."""
    now = timezone.now()
    if not AnalysisJob.objects.filter(pk=job_id, status=JobStatus.PROCESSING).update(heartbeat_at=now):
        return False
    return _fenced_chunk(job_id, index, attempt).update(heartbeat_at=now) == 1


def record_chunk_batch(*, job: AnalysisJob, index: int, attempt: int, outcomes, last: bool = False) -> bool:
    """Store one batch of a chunk and add it to the job's progress in one transaction, if still ours.

    The chunk's last batch (`last`) also marks the chunk done, in the same transaction.

    Progress is added with F() increments of exactly the rows this batch inserted (all of them on a
    first delivery; on a re-delivery, those not already stored), so it never runs ahead of what is
    stored. The rows' INSERT statements are built before the transaction. The job's row is only touched by
    that last UPDATE, conditional on the job still processing: chunks of one job insert in
    parallel (on PostgreSQL) and queue only for that short update, and a batch that meets a
    cancelled job is rolled back, so nothing more is written after a cancel.
    """
    prepared = _prepare(job, outcomes)
    with transaction.atomic():
        # Locks the chunk: a new attempt claiming it waits for this batch, then sees it stored.
        if not _fenced_chunk(job.pk, index, attempt).select_for_update().exists():
            return False
        recorded = record_results(results=prepared, ignore_conflicts=True)
        now = timezone.now()
        progressed = AnalysisJob.objects.filter(pk=job.pk, status=JobStatus.PROCESSING).update(
            completed=F("completed") + recorded.new,
            successful=F("successful") + recorded.new_ok,
            heartbeat_at=now,
        )
        if not progressed:  # cancelled, failed or retired meanwhile: this batch is not kept
            transaction.set_rollback(True)
            return False
        _fenced_chunk(job.pk, index, attempt).update(heartbeat_at=now, **({"status": ChunkStatus.DONE} if last else {}))
    return True


def execute_chunk(*, job_id, index: int, attempt: int) -> str:
    """Analyse a chunk's remaining symbols in batches; the last chunk to end decides the job's status."""
    job = AnalysisJob.objects.get(pk=job_id)
    chunk = JobChunk.objects.get(job_id=job_id, index=index)
    params = _trade_params(job)
    done = set(AnalysisResult.objects.filter(job_id=job.pk, symbol__in=chunk.symbols).values_list("symbol", flat=True))
    remaining = [s for s in chunk.symbols if s not in done]
    logger.info(
        "Job %s chunk %d attempt %d: analysing %d of %d symbols (%d already stored)",
        job.pk,
        index,
        attempt,
        len(remaining),
        len(chunk.symbols),
        len(done),
    )

    def beat_once() -> bool:
        return beat_chunk(job_id=job.pk, index=index, attempt=attempt)

    batches = list(in_batches(remaining, settings.THETOOL_JOB_BATCH_SIZE))
    with _beating_with(beat_once, name=f"{job.pk} chunk {index}", attempt=attempt):
        for number, batch in enumerate(batches, start=1):
            shutdown.checkpoint()  # a worker told to stop hands the work back here
            # The cancellation check: a chunk that is no longer ours stops before the next fetch. A read,
            # not a beat: on SQLite every write queues for the one write lock that the other workers'
            # batches hold (the heartbeat thread and each batch's transaction keep the chunk alive).
            if not owns_chunk(job_id=job.pk, index=index, attempt=attempt):
                return _stopped_chunk(job.pk, index, attempt)
            outcomes = analyze_symbols(
                symbols=batch, strategy_id=job.strategy_id, params=params, source=job.data_source
            )
            last = number == len(batches)
            if not record_chunk_batch(job=job, index=index, attempt=attempt, outcomes=outcomes, last=last):
                return _stopped_chunk(job.pk, index, attempt)
    # Nothing was left to analyse (every symbol stored by an earlier attempt): done all the same.
    done = bool(batches) or _fenced_chunk(job.pk, index, attempt).update(
        status=ChunkStatus.DONE, heartbeat_at=timezone.now()
    )
    if not done:
        return _stopped_chunk(job.pk, index, attempt)
    # Its own statement, after the chunk's commit: of two chunks ending together, the later
    # check sees both done (in one transaction each could miss the other's and nobody finish).
    if finish_job_if_done(job_id=job.pk):
        return "completed"
    return "chunk done"


def _unfinished_chunks(job_id):
    return JobChunk.objects.filter(job_id=job_id).exclude(status=ChunkStatus.DONE)


def finish_job_if_done(*, job_id) -> bool:
    """Complete a fanned-out job whose chunks have all ended. Exactly one caller gets True.

    One conditional UPDATE (processing, has chunks, none unfinished): concurrent finishers race
    on the job's row and the losers find it no longer processing.
    """
    # A read first, so every chunk but the last ends without a write (on SQLite a write queues for the
    # one lock). Each finisher reads after its own chunk's commit, so the last to commit sees them all done.
    if _unfinished_chunks(job_id).exists():
        return False
    finished = (
        AnalysisJob.objects.filter(pk=job_id)
        .filter(_has_chunks())
        .exclude(Exists(_unfinished_chunks(OuterRef("pk"))))
        .transition(to=JobStatus.COMPLETED, finished_at=timezone.now(), status_reason="")
    )
    if finished:
        # The one place a fanned-out job becomes completed: alerts run once, as for a one-task job.
        signals.job_completed.send(sender=AnalysisJob, job_id=job_id)
        job = AnalysisJob.objects.get(pk=job_id)
        logger.info(
            "Job %s completed: %d symbols, %d analysed, %d failed, %d chunks (last by %s), %.1fs",
            job.pk,
            job.total,
            job.successful,
            job.failed,
            job.chunks.count(),
            _worker_name(),
            (job.finished_at - (job.started_at or job.created_at)).total_seconds(),
        )
    return bool(finished)


def _stopped_chunk(job_id, index: int, attempt: int) -> str:
    status = AnalysisJob.objects.filter(pk=job_id).values_list("status", flat=True).first()
    logger.info(
        "Job %s chunk %d attempt %d stops: the job is now %s or the chunk has another owner",
        job_id,
        index,
        attempt,
        status,
    )
    return "stopped"


def fail_job_from_chunk(*, job_id, index: int, attempt: int, reason: str) -> bool:
    """Fail the whole job (Yahoo unreachable, time limit, crash) from a chunk that still owns its slice.

    Once: the job leaves processing, so the other chunks' next beat or write finds it gone.
    """
    if not _fenced_chunk(job_id, index, attempt).exists():
        return False
    updated = AnalysisJob.objects.filter(pk=job_id).transition(
        to=JobStatus.FAILED, status_reason=reason, finished_at=timezone.now()
    )
    if updated:
        logger.error("Job %s failed (chunk %d, attempt %d): %s", job_id, index, attempt, reason)
    return bool(updated)


def release_chunk(*, job_id, index: int, attempt: int, reason: str) -> bool:
    """Hand a chunk back at once (its worker is shutting down): queued and on the broker again.

    Only the chunk: the job stays processing and its other chunks carry on elsewhere.
    """
    updated = _fenced_chunk(job_id, index, attempt).update(status=ChunkStatus.QUEUED, heartbeat_at=None)
    if updated:
        logger.warning("Job %s chunk %d released by attempt %d: %s", job_id, index, attempt, reason)
        enqueue_chunks(job_id=job_id, indexes=[index])
    return bool(updated)


def _give_up_chunk(chunk: JobChunk, *, now) -> None:
    reason = (
        f"Gave up after {chunk.attempt} attempts at chunk {chunk.index}: the worker stopped responding each "
        f"time (THETOOL_JOB_MAX_ATTEMPTS={settings.THETOOL_JOB_MAX_ATTEMPTS})"
    )
    if AnalysisJob.objects.filter(pk=chunk.job_id).transition(
        to=JobStatus.FAILED, status_reason=reason, finished_at=now
    ):
        logger.error("Job %s failed: %s", chunk.job_id, reason)


def recover_stale_chunks(*, job_ids=None, report: "RecoveryReport") -> None:
    """The reaper's part for fanned-out jobs: re-queue chunks whose worker died, hand lost ones over
    again, and decide a job whose last finisher died between its chunk and the job's status."""
    now = timezone.now()
    chunks = JobChunk.objects.filter(job__status=JobStatus.PROCESSING)
    if job_ids is not None:
        chunks = chunks.filter(job_id__in=job_ids)
    for chunk in chunks.stale(now=now).filter(status=ChunkStatus.PROCESSING):
        if chunk.attempt >= settings.THETOOL_JOB_MAX_ATTEMPTS:
            _give_up_chunk(chunk, now=now)
            report.failed.append(str(chunk.job_id))
            continue
        requeued = (
            JobChunk.objects.filter(pk=chunk.pk, attempt=chunk.attempt, status=ChunkStatus.PROCESSING)
            .stale(now=now)
            .update(status=ChunkStatus.QUEUED, heartbeat_at=None)
        )
        if requeued:
            logger.warning(
                "Re-queued stale chunk %d of job %s (attempt %d/%d, claimed by %s)",
                chunk.index,
                chunk.job_id,
                chunk.attempt,
                settings.THETOOL_JOB_MAX_ATTEMPTS,
                chunk.claimed_by or "nobody",
            )
            enqueue_chunks(job_id=chunk.job_id, indexes=[chunk.index])
            report.requeued_chunks.append(f"{chunk.job_id}:{chunk.index}")
    for chunk in chunks.stale(now=now).filter(status=ChunkStatus.QUEUED):
        logger.warning("Chunk %d of job %s has waited in the queue; enqueuing it again", chunk.index, chunk.job_id)
        enqueue_chunks(job_id=chunk.job_id, indexes=[chunk.index])
        report.reenqueued_chunks.append(f"{chunk.job_id}:{chunk.index}")
    scope = AnalysisJob.objects.filter(status=JobStatus.PROCESSING).filter(_has_chunks())
    if job_ids is not None:
        scope = scope.filter(pk__in=job_ids)
    for job_id in scope.stale(now=now).values_list("pk", flat=True):
        finish_job_if_done(job_id=job_id)


@dataclass
class RecoveryReport:
    requeued: list[str] = field(default_factory=list)
    reenqueued: list[str] = field(default_factory=list)
    failed: list[str] = field(default_factory=list)
    requeued_chunks: list[str] = field(default_factory=list)  # "job_id:index"
    reenqueued_chunks: list[str] = field(default_factory=list)

    def __str__(self) -> str:
        text = (
            f"{len(self.requeued)} stale processing job(s) re-queued, {len(self.reenqueued)} waiting job(s) "
            f"handed to the queue again, {len(self.failed)} job(s) failed after too many attempts"
        )
        if self.requeued_chunks or self.reenqueued_chunks:
            text += (
                f"; {len(self.requeued_chunks)} stale chunk(s) re-queued, "
                f"{len(self.reenqueued_chunks)} waiting chunk(s) handed to the queue again"
            )
        return text


def recover_stale_jobs(*, job_ids=None) -> RecoveryReport:
    """Re-queue processing jobs whose worker stopped beating; hand waiting jobs to the broker again.

    A processing job that has used THETOOL_JOB_MAX_ATTEMPTS attempts is failed with a reason
    instead (a poison job must not loop forever). Resumed jobs skip the symbols already stored.
    """
    now = timezone.now()
    report = RecoveryReport()
    scope = AnalysisJob.objects.all() if job_ids is None else AnalysisJob.objects.filter(pk__in=job_ids)

    # A fanned-out job is recovered chunk by chunk (recover_stale_chunks), never as a whole.
    for job in scope.stale(now=now).filter(status=JobStatus.PROCESSING).exclude(_has_chunks()):
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
    recover_stale_chunks(job_ids=job_ids, report=report)
    if report.requeued or report.reenqueued or report.failed or report.requeued_chunks or report.reenqueued_chunks:
        logger.info("Recovery: %s", report)
    return report
