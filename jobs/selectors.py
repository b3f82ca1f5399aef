"""Reads of the jobs domain."""

import uuid
from datetime import timedelta

from django.db.models import Case, F, IntegerField, QuerySet, Value, When
from django.db.models.expressions import OrderBy
from django.utils import timezone

from jobs.exceptions import InvalidJobId, JobNotEnqueued, JobNotFound
from jobs.models import ACTIVE_STATUSES, FINISHED_STATUSES, AnalysisJob, JobStatus
from stocks.models import AnalysisResult, Verdict


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
    jobs = active_first(AnalysisJob.objects.select_related("requested_by_user"))
    return jobs.filter(status=status) if status else jobs


def jobs_requested_by(jobs: QuerySet[AnalysisJob], *, user) -> QuerySet[AnalysisJob]:
    """ "My jobs": the ones this account requested (none for an anonymous client)."""
    if user is None or not user.is_authenticated:
        return jobs.none()
    return jobs.filter(requested_by_user=user)


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
    """Best score first, failed symbols (no score) last, ties by symbol: one order on every database.

    PostgreSQL sorts NULLs first in a descending order and SQLite last, so the NULLs' place is explicit.
    """
    return AnalysisResult.objects.filter(job=job).order_by(F("score").desc(nulls_last=True), "symbol")


# How a job's results can be ordered (the job page and its exports share it, so a download is what
# the page shows). Failed symbols have no score: they sort last both ways (PostgreSQL and SQLite
# disagree otherwise).
RESULT_SORTS = {
    "-score": (F("score").desc(nulls_last=True), "symbol"),
    "score": (F("score").asc(nulls_last=True), "symbol"),
    "symbol": ("symbol",),
    "-symbol": ("-symbol",),
}
DEFAULT_RESULT_SORT = "-score"
FAILED_RESULTS = "error"  # the verdict filter value that keeps the failed symbols


def filter_job_results(*, job: AnalysisJob, verdict: str = "", sort: str = DEFAULT_RESULT_SORT):
    """The results of `job` as the job page shows them: `verdict` a Verdict value, FAILED_RESULTS or ""
    (all); `sort` a RESULT_SORTS key. Unknown values mean "no filter" and the default order."""
    results = AnalysisResult.objects.filter(job=job)
    if verdict == FAILED_RESULTS:
        results = results.exclude(error="")
    elif verdict in Verdict.values:
        results = results.filter(verdict=verdict)
    return results.order_by(*RESULT_SORTS.get(sort, RESULT_SORTS[DEFAULT_RESULT_SORT]))


def heartbeat_age_seconds(job: AnalysisJob, *, now=None) -> int | None:
    if job.heartbeat_at is None:
        return None
    return int(((now or timezone.now()) - job.heartbeat_at).total_seconds())


def is_stale(job: AnalysisJob, *, now=None) -> bool:
    """Active, and no sign of life for THETOOL_JOB_STALE_SECONDS (the one definition: AnalysisJob.is_stale)."""
    return job.is_stale_at(now=now or timezone.now())


def check_job_enqueued(*, job: AnalysisJob) -> None:
    """Raise JobNotEnqueued when a just-created job is failed because the task queue refused it.

    The one definition of "created but not enqueued", for the API (503) and the pages (a message).
    """
    if job.status == JobStatus.FAILED and not job.enqueued:
        raise JobNotEnqueued(
            f"Job {job.pk} was created but could not be handed to the task queue; it is marked failed",
            details={"job_id": str(job.pk), "status": job.status, "reason": job.status_reason},
        )
