"""The worker side of a backtest job: fetch in batches (progress, cancel checks), compute, store, finish.

Claiming, fencing by attempt, the heartbeat, failure handling and recovery are the analysis jobs'
(`jobs.execution`, `jobs.tasks`); `jobs.tasks` picks this executor for jobs of kind "backtest".
A resumed attempt starts over: the bars come from the cache and the computation takes seconds,
and the results are written once, in the transaction that completes the job.
"""

import logging
import time
from datetime import date

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from backtests.models import BacktestResult, BacktestSymbol
from backtests.services import fetch_for_backtest, report_for_job
from jobs.execution import beat, beating
from jobs.models import AnalysisJob, JobStatus
from stocks.backtest import BacktestReport
from thetool import shutdown

logger = logging.getLogger("jobs")


def _fenced(job_id, attempt: int):
    return AnalysisJob.objects.filter(pk=job_id, status=JobStatus.PROCESSING, attempt=attempt)


def execute_backtest(*, job_id, attempt: int) -> str:
    """Run one claimed backtest job; returns how the attempt ended ("completed" or "stopped")."""
    started = time.monotonic()
    job = AnalysisJob.objects.get(pk=job_id)
    histories, errors = [], {}
    with beating(job_id=job.pk, attempt=attempt):
        for start in range(0, len(job.symbols), settings.THETOOL_JOB_BATCH_SIZE):
            shutdown.checkpoint()  # a worker told to stop hands the job back here
            # Also the cancellation check: a job that is no longer ours stops before the next fetch.
            if not beat(job_id=job.pk, attempt=attempt):
                return _stopped(job.pk, attempt)
            batch = job.symbols[start : start + settings.THETOOL_JOB_BATCH_SIZE]
            fetched, failed = fetch_for_backtest(symbols=batch, source=job.data_source)
            histories += fetched
            errors.update(failed)
            _fenced(job.pk, attempt).update(
                completed=len(histories) + len(errors), successful=len(histories), heartbeat_at=timezone.now()
            )
        report = report_for_job(job=job, histories=histories)
        if not store_report(job=job, attempt=attempt, report=report, errors=errors):
            return _stopped(job.pk, attempt)
    logger.info(
        "Backtest job %s completed: %d symbols, %d scored days, attempt %d, %.1fs",
        job.pk,
        job.total,
        report.signals,
        attempt,
        time.monotonic() - started,
    )
    return "completed"


def store_report(*, job: AnalysisJob, attempt: int, report: BacktestReport, errors: dict[str, str]) -> bool:
    """Write the buckets and symbols and complete the job in one transaction, if this attempt owns it."""
    frame = {
        "first_day": _date(report.first_day),
        "last_day": _date(report.last_day),
        "total_signals": report.signals,
        "buy_and_hold_percent": report.buy_and_hold_percent,
        "costs": job.parameters.get("costs", {}),
    }
    buckets = [
        BacktestResult(
            job=job,
            strategy_id=report.strategy_id,
            verdict=bucket.verdict,
            position=position,
            signals=bucket.signals,
            trades=bucket.trades,
            too_few_signals=bucket.too_few_signals,
            hit_rate=bucket.hit_rate,
            expectancy_percent=bucket.expectancy_percent,
            stats=bucket.to_dict(),
            **frame,
        )
        for position, bucket in enumerate(report.buckets)
    ]
    symbols = [
        BacktestSymbol(
            job=job,
            symbol=outcome.symbol,
            strategy_id=report.strategy_id,
            scored_days=outcome.scored_days,
            first_day=_date(outcome.first_day),
            last_day=_date(outcome.last_day),
            buy_and_hold_percent=outcome.buy_and_hold_percent,
            recent_signals=outcome.recent_signals,
            error="" if outcome.scored_days else "No day could be scored (too few bars, or a suspect price jump)",
        )
        for outcome in report.symbols
    ] + [
        BacktestSymbol(job=job, symbol=symbol, strategy_id=report.strategy_id, error=error[:2000])
        for symbol, error in errors.items()
    ]
    with transaction.atomic():
        if not _fenced(job.pk, attempt).select_for_update().exists():
            return False
        BacktestResult.objects.bulk_create(buckets, ignore_conflicts=True)
        BacktestSymbol.objects.bulk_create(symbols, ignore_conflicts=True)
        finished = _fenced(job.pk, attempt).transition(
            to=JobStatus.COMPLETED, finished_at=timezone.now(), status_reason=""
        )
    return bool(finished)


def _date(value: str | None) -> date | None:
    return date.fromisoformat(value) if value else None


def _stopped(job_id, attempt: int) -> str:
    logger.info("Backtest job %s attempt %d stops: cancelled or owned by another attempt", job_id, attempt)
    return "stopped"
