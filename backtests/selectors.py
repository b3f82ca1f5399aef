"""Reads of the backtests domain."""

from django.db.models import QuerySet

from backtests.models import BacktestResult, BacktestSymbol
from jobs.exceptions import JobNotFound
from jobs.models import AnalysisJob, JobKind, JobStatus
from jobs.selectors import get_job


def get_backtest_job(job_id) -> AnalysisJob:
    """The backtest job `job_id`; JobNotFound for an unknown id or a job of another kind."""
    job = get_job(job_id)
    if job.kind != JobKind.BACKTEST:
        raise JobNotFound(f"Job {job.pk} is not a backtest", details={"job_id": str(job.pk)})
    return job


def backtest_buckets(job: AnalysisJob) -> QuerySet[BacktestResult]:
    return BacktestResult.objects.filter(job=job).order_by("strategy_id", "position")


def backtest_symbols(job: AnalysisJob) -> QuerySet[BacktestSymbol]:
    return BacktestSymbol.objects.filter(job=job).order_by("symbol")


def completed_backtests() -> QuerySet[AnalysisJob]:
    return AnalysisJob.objects.filter(kind=JobKind.BACKTEST, status=JobStatus.COMPLETED).order_by("-finished_at")


def latest_universe_backtests() -> dict[int, AnalysisJob]:
    """strategy id -> the latest completed backtest of every active stock with that strategy."""
    latest: dict[int, AnalysisJob] = {}
    for job in completed_backtests().filter(is_all_stocks=True).only("pk", "strategy_id", "finished_at"):
        latest.setdefault(job.strategy_id, job)
    return latest


def latest_symbol_backtest(*, symbol: str, strategy_id: int) -> BacktestSymbol | None:
    """The symbol's row in the latest completed backtest of that strategy that scored it."""
    return (
        BacktestSymbol.objects.filter(
            symbol=symbol,
            strategy_id=strategy_id,
            error="",
            job__kind=JobKind.BACKTEST,
            job__status=JobStatus.COMPLETED,
        )
        .select_related("job")
        .order_by("-job__finished_at")
        .first()
    )
