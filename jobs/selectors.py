"""Reads of the jobs domain."""

import uuid
from datetime import timedelta

from django.db.models import Case, IntegerField, QuerySet, Value, When
from django.utils import timezone

from jobs.exceptions import InvalidJobId, JobNotFound
from jobs.models import ACTIVE_STATUSES, FINISHED_STATUSES, AnalysisJob
from stocks.models import AnalysisResult


def parse_job_id(raw) -> uuid.UUID:
    try:
        return raw if isinstance(raw, uuid.UUID) else uuid.UUID(str(raw))
    except (ValueError, TypeError, AttributeError):
        raise InvalidJobId(f"{raw!r} is not a valid job id (a UUID)", details={"job_id": str(raw)[:100]}) from None


def get_job(job_id) -> AnalysisJob:
    pk = parse_job_id(job_id)
    try:
        return AnalysisJob.objects.get(pk=pk)
    except AnalysisJob.DoesNotExist:
        raise JobNotFound(f"No job with id {pk}", details={"job_id": str(pk)}) from None


def active_first(jobs: QuerySet[AnalysisJob]) -> QuerySet[AnalysisJob]:
    """Queued and processing jobs first (what people open a job list for), newest first within each."""
    rank = Case(When(status__in=ACTIVE_STATUSES, then=Value(0)), default=Value(1), output_field=IntegerField())
    return jobs.annotate(active_rank=rank).order_by("active_rank", "-created_at")


def jobs_active_first(*, status: str | None = None) -> QuerySet[AnalysisJob]:
    jobs = active_first(AnalysisJob.objects.all())
    return jobs.filter(status=status) if status else jobs


def active_jobs() -> QuerySet[AnalysisJob]:
    return AnalysisJob.objects.filter(status__in=ACTIVE_STATUSES).order_by("created_at")


def recently_finished_jobs(*, within: timedelta = timedelta(hours=1)) -> QuerySet[AnalysisJob]:
    return AnalysisJob.objects.filter(status__in=FINISHED_STATUSES, finished_at__gte=timezone.now() - within).order_by(
        "-finished_at"
    )


def job_errors(job: AnalysisJob) -> list[dict]:
    """Per-symbol failures of a job, as a list of {symbol, error}."""
    rows = AnalysisResult.objects.filter(job=job).exclude(error="").order_by("symbol").values_list("symbol", "error")
    return [{"symbol": symbol, "error": error} for symbol, error in rows]


def job_results(job: AnalysisJob) -> QuerySet[AnalysisResult]:
    return AnalysisResult.objects.filter(job=job).order_by("-score", "symbol")


def heartbeat_age_seconds(job: AnalysisJob, *, now=None) -> int | None:
    if job.heartbeat_at is None:
        return None
    return int(((now or timezone.now()) - job.heartbeat_at).total_seconds())


def is_stale(job: AnalysisJob, *, now=None) -> bool:
    """Active, and no sign of life for THETOOL_JOB_STALE_SECONDS (the one definition: AnalysisJob.is_stale)."""
    return job.is_stale_at(now=now or timezone.now())
