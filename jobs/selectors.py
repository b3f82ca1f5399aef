"""Reads of the jobs domain."""

import uuid
from datetime import timedelta

from django.conf import settings
from django.db.models import Case, F, IntegerField, QuerySet, Value, When
from django.db.models.expressions import OrderBy
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


def active_first_ordering() -> list[OrderBy]:
    """Queued and processing jobs first (what people open a job list for), newest first within each.

    Expressions, not an annotation, so that the admin can use them as its ordering as-is.
    """
    rank = Case(When(status__in=ACTIVE_STATUSES, then=Value(0)), default=Value(1), output_field=IntegerField())
    return [rank.asc(), F("created_at").desc()]


def active_first(jobs: QuerySet[AnalysisJob]) -> QuerySet[AnalysisJob]:
    return jobs.order_by(*active_first_ordering())


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
    """Active, and its worker has not beaten for longer than THETOOL_JOB_STALE_SECONDS."""
    if job.status not in ACTIVE_STATUSES:
        return False
    now = now or timezone.now()
    last_sign_of_life = job.heartbeat_at or job.enqueued_at or job.created_at
    return (now - last_sign_of_life).total_seconds() > settings.THETOOL_JOB_STALE_SECONDS
