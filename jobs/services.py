"""Writes of the jobs domain: requesting, cancelling and recovering analysis jobs.

Deduplication is the database's job. `job_one_active_per_analysis` (a conditional unique
constraint) allows at most one queued/processing job per analysis key; the decision to reuse,
retire or supersede the active job is taken inside one short transaction that locks the active
row (`select_for_update` on PostgreSQL; SQLite's IMMEDIATE transactions serialise writers).
A concurrent request that loses the race gets an IntegrityError and takes the whole decision
again: by then the winner may be running, or already finished.

The worker side (claiming, recording batches, finishing) lives in jobs.execution.
"""

import hashlib
import json
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import timedelta
from decimal import Decimal, InvalidOperation

from django.conf import settings
from django.db import IntegrityError, InterfaceError, OperationalError, connection, transaction
from django.db.models import F
from django.utils import timezone
from django_q.tasks import async_task

from jobs.exceptions import JobAlreadyFinished
from jobs.models import ACTIVE_STATUSES, AnalysisJob, JobChunk, JobKind, JobStatus
from jobs.selectors import get_job
from stocks.analysis import TradeParams
from stocks.exceptions import InvalidSymbol, InvalidTradeParameters
from stocks.models import Stock
from stocks.strategies import get_strategy
from stocks.universe import normalize_symbols
from thetool.exceptions import ApplicationError, ServiceUnavailable

logger = logging.getLogger("jobs")

DEFAULT_CAPITAL = Decimal("100000")
DEFAULT_RISK_PERCENT = Decimal("2")
# Losing the insert race is normal under load; it costs one more decision, not a backoff.
MAX_RACE_RETRIES = 5
TRANSIENT_DB_ERRORS = (OperationalError, InterfaceError)


class EmptyUniverse(ApplicationError):
    code = "empty_universe"


@dataclass(frozen=True)
class AnalysisSpec:
    """A validated, normalised analysis request: everything that changes the result."""

    symbols: tuple[str, ...]
    strategy_id: int
    capital: Decimal
    risk_percent: Decimal
    max_position_percent: Decimal
    data_source: str
    is_all_stocks: bool
    kind: str = JobKind.ANALYSIS
    parameters: dict = field(default_factory=dict)  # kind-specific (a backtest's period, costs, ...)

    @property
    def key(self) -> str:
        """Digest of the analysis: same symbols (as a set), strategy, parameters, data source and kind."""
        payload = {
            "symbols": list(self.symbols),
            "strategy_id": self.strategy_id,
            "capital": str(self.capital),
            "risk_percent": str(self.risk_percent),
            "max_position_percent": str(self.max_position_percent),
            "data_source": self.data_source,
        }
        if self.kind != JobKind.ANALYSIS:
            # Analysis keys predate kinds and stay as they were; every other kind is in its key.
            payload.update(kind=str(self.kind), parameters=self.parameters)
        return hashlib.sha256(json.dumps(payload, sort_keys=True).encode()).hexdigest()


def _decimal(value, *, field: str) -> Decimal:
    try:
        number = Decimal(str(value))
    except (InvalidOperation, ValueError, TypeError):
        raise InvalidTradeParameters(f"{field} must be a number", details={"field": field}) from None
    if not number.is_finite():
        raise InvalidTradeParameters(f"{field} must be a finite number", details={"field": field})
    return number.quantize(Decimal("0.01"))


def build_analysis_spec(
    *,
    symbols: list[str] | None,
    capital=DEFAULT_CAPITAL,
    strategy_id: int = 1,
    risk_percent=DEFAULT_RISK_PERCENT,
    max_position_percent=None,
    data_source: str | None = None,
) -> AnalysisSpec:
    """Validate and normalise a request. `symbols` empty or None means every active stock."""
    strategy = get_strategy(strategy_id)
    capital = _decimal(capital, field="capital")
    risk_percent = _decimal(risk_percent, field="risk_percent")
    max_position = _decimal(
        strategy.max_position_percent if max_position_percent is None else max_position_percent,
        field="max_position_percent",
    )
    # TradeParams owns the bounds (capital, risk %, position %): one rule set for every caller.
    TradeParams(capital=float(capital), risk_percent=float(risk_percent), max_position_percent=float(max_position))

    is_all = not symbols
    if is_all:
        normalised = _read_active_universe()
        if not normalised:
            raise EmptyUniverse("The stock universe has no active stocks; load one with manage.py load_universe")
    else:
        normalised = normalize_symbols(symbols)
    limit = settings.THETOOL_MAX_SYMBOLS_PER_JOB
    if len(normalised) > limit:
        raise InvalidSymbol(
            f"A job may analyse at most {limit} symbols, got {len(normalised)}",
            details={"max_symbols": limit, "count": len(normalised)},
        )
    return AnalysisSpec(
        symbols=tuple(normalised),
        strategy_id=strategy.id,
        capital=capital,
        risk_percent=risk_percent,
        max_position_percent=max_position,
        data_source=data_source or settings.THETOOL_DATA_SOURCE,
        is_all_stocks=is_all,
    )


def _read_active_universe() -> list[str]:
    """Every active stock's symbol. Read before the job decision, so it retries transient
    database errors the same way (then 503) instead of failing the request with a 500."""
    attempt = 0
    while True:
        try:
            stocks = Stock.objects.filter(is_active=True).order_by("yahoo_symbol")
            return list(stocks.values_list("yahoo_symbol", flat=True))
        except TRANSIENT_DB_ERRORS as exc:
            attempt += 1
            _back_off_or_give_up(exc, attempt=attempt, what="Reading the universe")


def _back_off_or_give_up(exc: Exception, *, attempt: int, what: str) -> None:
    """After a transient database error: raise ServiceUnavailable (a 503) once THETOOL_JOB_CREATE_RETRIES
    attempts have failed, else wait THETOOL_JOB_CREATE_BACKOFF x attempt seconds on a fresh connection."""
    attempts = settings.THETOOL_JOB_CREATE_RETRIES
    if attempt >= attempts:
        logger.error("%s failed (attempt %d/%d), giving up: %s", what, attempt, attempts, exc)
        raise ServiceUnavailable(
            "The database is unavailable; the job was not created. Try again shortly.",
            details={"attempts": attempt},
        ) from exc
    logger.warning("%s failed (attempt %d/%d), retrying... (%s)", what, attempt, attempts, exc)
    connection.close_if_unusable_or_obsolete()
    time.sleep(settings.THETOOL_JOB_CREATE_BACKOFF * attempt)


def is_job_live(job: AnalysisJob, *, now) -> bool:
    """An active job blocks an identical request while it is young or its worker is beating.

    Outside the dedup window and stale (AnalysisJob.is_stale: queued but never picked up, or
    processing with a dead worker) it no longer blocks: the next identical request retires it.
    """
    window = timedelta(seconds=settings.THETOOL_DEDUP_WINDOW_SECONDS)
    return job.created_at >= now - window or not job.is_stale_at(now=now)


def request_analysis_job(
    *,
    symbols: list[str] | None,
    capital=DEFAULT_CAPITAL,
    strategy_id: int = 1,
    risk_percent=DEFAULT_RISK_PERCENT,
    max_position_percent=None,
    force: bool = False,
    requested_by: str = "",
    requested_by_user=None,
    admit: Callable[..., None] | None = None,
) -> tuple[AnalysisJob, bool]:
    """Return the active job for this analysis (created=False) or a new, enqueued one (created=True).

    Raises ApplicationError subclasses for bad input (nothing is written) and ServiceUnavailable
    when the database keeps failing (nothing half-created: the decision is one transaction).
    `admit(spec=, replacing=, force=)` is called inside the locked decision only when a job is
    about to be created (never for a duplicate); it raises to refuse (permission, rate limit),
    and then nothing changes: not even the job it would have replaced.
    """
    spec = build_analysis_spec(
        symbols=symbols,
        capital=capital,
        strategy_id=strategy_id,
        risk_percent=risk_percent,
        max_position_percent=max_position_percent,
    )
    return decide_job(
        spec=spec, force=force, requested_by=requested_by, requested_by_user=requested_by_user, admit=admit
    )


def decide_job(
    *, spec: AnalysisSpec, force: bool, requested_by: str, requested_by_user=None, admit=None
) -> tuple[AnalysisJob, bool]:
    """The deduplicated decision for any kind of job: the active one for `spec.key`, or a new, enqueued one."""
    job, created = _decide_with_retries(
        spec=spec, force=force, requested_by=requested_by, requested_by_user=requested_by_user, admit=admit
    )
    if created:
        # Hand the job to the broker only once its row is committed, so a worker never looks
        # for a job that is not there yet. Outside a transaction this runs immediately.
        transaction.on_commit(lambda: hand_over(job))
        job.refresh_from_db()
    return job, created


def hand_over(job: AnalysisJob) -> bool:
    """Put a new job on the task queue: its chunks' tasks first, if it has chunks, then its own task.

    A large job's chunks are made with it (_decide), so their tasks are on the queue when the first
    worker starts the job, and every worker takes one straight away; a chunk delivered before the
    job's own task starts the job itself (jobs.tasks.run_job_chunk). With the job fanned out only
    when its task ran, the others would first wait for the broker's next poll (THETOOL_Q_POLL).
    """
    if job.fans_out:  # _decide made its chunks; a small job has none to look up
        chunks = list(job.chunks.values_list("index", flat=True))
        if not enqueue_chunks(job_id=job.pk, indexes=chunks):
            return False
    return enqueue_job(job_id=job.pk)


def _decide_with_retries(*, spec: AnalysisSpec, force: bool, **requester) -> tuple[AnalysisJob, bool]:
    attempt = races = 0
    while True:
        try:
            return _decide(spec=spec, force=force, **requester)
        except IntegrityError:
            # Another request inserted the active job between our read and our insert.
            races += 1
            logger.info("Lost the race to create a job for key %s (race %d); deciding again", spec.key[:12], races)
            if races >= MAX_RACE_RETRIES:
                raise ServiceUnavailable("Too much contention creating this job; try again shortly") from None
        except TRANSIENT_DB_ERRORS as exc:
            attempt += 1
            _back_off_or_give_up(exc, attempt=attempt, what="Job creation")


def _decide(
    *, spec: AnalysisSpec, force: bool, requested_by: str, requested_by_user=None, admit=None
) -> tuple[AnalysisJob, bool]:
    now = timezone.now()
    if not force:
        # Fast path for the common duplicate: a plain read, no lock. Correctness does not depend
        # on it: creation below is still decided under the lock and the unique constraint.
        active = _active_job(spec.key)
        if active is not None and is_job_live(active, now=now):
            return _count_duplicate(active, now=now), False
    with transaction.atomic():
        active = _active_job(spec.key, lock=True)
        if active is not None:
            if not force and is_job_live(active, now=now):
                return _count_duplicate(active, now=now), False
        if admit is not None:
            # Under the lock: the job it would replace cannot change owner or finish meanwhile.
            admit(spec=spec, replacing=active, force=force)
        if active is not None:
            if force:
                reason, new_status = "Superseded by a forced request", JobStatus.CANCELLED
            else:
                reason, new_status = _retire_reason(active, now=now), JobStatus.FAILED
            _retire(active, status=new_status, reason=reason, now=now)

        job = AnalysisJob.objects.create(
            analysis_key=spec.key,
            symbols=list(spec.symbols),
            total=len(spec.symbols),
            strategy_id=spec.strategy_id,
            capital=spec.capital,
            risk_percent=spec.risk_percent,
            max_position_percent=spec.max_position_percent,
            data_source=spec.data_source,
            is_all_stocks=spec.is_all_stocks,
            kind=spec.kind,
            parameters=spec.parameters,
            requested_by=requested_by[:150],
            requested_by_user=requested_by_user,
        )
        logger.info("Creating new %s job %s for %d symbols", spec.kind, job.pk, job.total)
        if job.fans_out:
            chunks = JobChunk.objects.create_for(job)
            logger.info("Job %s split into %d chunks", job.pk, len(chunks))
        if active is not None:
            AnalysisJob.objects.filter(pk=active.pk).update(superseded_by=job)
            logger.info("Job %s replaces job %s (%s)", job.pk, active.pk, "forced" if force else "stale")
    logger.info("Job %s created atomically", job.pk)
    return job, True


def _active_job(key: str, *, lock: bool = False) -> AnalysisJob | None:
    jobs = AnalysisJob.objects.select_for_update() if lock else AnalysisJob.objects
    active = jobs.filter(analysis_key=key, status__in=ACTIVE_STATUSES).first()
    if active is not None:
        logger.info("Found active job %s with status %s", active.pk, active.status)
    return active


def _count_duplicate(job: AnalysisJob, *, now) -> AnalysisJob:
    """Record the duplicate hit (operators watch the duplicate rate) with one atomic increment."""
    AnalysisJob.objects.filter(pk=job.pk).update(duplicate_count=F("duplicate_count") + 1, last_duplicate_at=now)
    job.duplicate_count += 1
    job.last_duplicate_at = now
    logger.info("Duplicate detected. Returning existing job %s", job.pk)
    return job


def _retire_reason(job: AnalysisJob, *, now) -> str:
    age = int((now - job.created_at).total_seconds())
    if job.status == JobStatus.QUEUED:
        return f"Retired by a new request: queued for {age}s and never picked up by a worker"
    beat = int((now - job.heartbeat_at).total_seconds()) if job.heartbeat_at else age
    return f"Retired by a new request: its worker stopped responding (last heartbeat {beat}s ago)"


def _retire(job: AnalysisJob, *, status: str, reason: str, now) -> None:
    AnalysisJob.objects.filter(pk=job.pk).transition(to=status, status_reason=reason, finished_at=now)
    logger.info("Job %s %s: %s", job.pk, status, reason)


def enqueue_job(*, job_id) -> bool:
    """Hand a committed job to django-q2. On failure the job is marked failed with the reason."""
    try:
        task_id = async_task(
            "jobs.tasks.run_analysis_job",
            str(job_id),
            task_name=f"analysis-job-{job_id}",
            group="analysis-jobs",
        )
    except Exception as exc:  # the broker (Redis, or the ORM queue table) refused: say so, keep nothing pending
        logger.error("Failed to enqueue job %s: %s", job_id, exc, exc_info=True)
        # Only a job still waiting for the broker: one a worker already holds is not failed here.
        _fail_unhanded(
            AnalysisJob.objects.filter(pk=job_id, status=JobStatus.QUEUED),
            job_id=job_id,
            reason=f"Could not hand the job to the task queue: {exc}",
        )
        return False
    AnalysisJob.objects.filter(pk=job_id).update(enqueued=True, enqueued_at=timezone.now(), task_id=task_id or "")
    logger.info("Enqueued job %s on django-q2 as task %s", job_id, task_id)
    return True


def enqueue_chunks(*, job_id, indexes) -> bool:
    """Hand chunks of a fanned-out job to django-q2. On failure the job is failed with the reason.

    The tasks are written in one transaction: with the ORM broker that is one commit for the whole
    fan-out (on SQLite one turn of the write lock, not one per chunk while the first chunks already
    run), and a broker that refuses part-way leaves none of them. A second delivery of the same
    chunk is harmless: only one claim succeeds.
    """
    indexes = list(indexes)
    index = None
    try:
        with transaction.atomic():
            for index in indexes:
                async_task(
                    "jobs.tasks.run_job_chunk",
                    str(job_id),
                    index,
                    task_name=f"analysis-job-{job_id}-chunk-{index}",
                    group="analysis-jobs",
                )
    except Exception as exc:  # the broker refused: the job cannot end, so say so now
        logger.error("Failed to enqueue chunk %s of job %s: %s", index, job_id, exc, exc_info=True)
        _fail_unhanded(
            AnalysisJob.objects.filter(pk=job_id),
            job_id=job_id,
            reason=f"Could not hand chunk {index} to the task queue: {exc}",
        )
        return False
    JobChunk.objects.filter(job_id=job_id, index__in=indexes).update(enqueued_at=timezone.now())
    return True


def _fail_unhanded(jobs, *, job_id, reason: str) -> None:
    """Fail a job the broker refused, with the reason. With the database down too, it stays as it is:
    the reaper hands over queued jobs and chunks that were never enqueued."""
    try:
        jobs.transition(to=JobStatus.FAILED, status_reason=reason, finished_at=timezone.now())
    except TRANSIENT_DB_ERRORS:
        logger.error("Could not mark job %s failed after the enqueue failure", job_id, exc_info=True)


def cancel_job(*, job_id, reason: str = "Cancelled by request", cancelled_by: str = "") -> AnalysisJob:
    """Cancel a queued or processing job. Its worker stops before its next batch and writes nothing more."""
    job = get_job(job_id)
    text = f"{reason} ({cancelled_by})" if cancelled_by else reason
    updated = AnalysisJob.objects.filter(pk=job.pk).transition(
        to=JobStatus.CANCELLED, status_reason=text, finished_at=timezone.now()
    )
    job.refresh_from_db()
    if not updated:
        raise JobAlreadyFinished(
            f"Job {job.pk} already finished with status {job.status}",
            details={"job_id": str(job.pk), "status": job.status},
        )
    logger.info("Job %s cancelled: %s", job.pk, text)
    return job


def rerun_job(*, job_id, requested_by: str = "", requested_by_user=None) -> AnalysisJob:
    """Start a forced new job with the same analysis as an existing one."""
    job = get_job(job_id)
    new_job, _ = request_analysis_job(
        symbols=[] if job.is_all_stocks else job.symbols,
        capital=job.capital,
        strategy_id=job.strategy_id,
        risk_percent=job.risk_percent,
        max_position_percent=job.max_position_percent,
        force=True,
        requested_by=requested_by,
        requested_by_user=requested_by_user,
    )
    return new_job
