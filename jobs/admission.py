"""A client's job request: the service's decision, with who-may-supersede and the creation limits.

Both the API and the pages go through `request_job_for_client`, so one rule set applies to both.
"""

from jobs import services
from jobs.models import AnalysisJob
from jobs.permissions import ensure_may_manage_job, owner_of
from jobs.throttles import charge_job_creation, check_job_creation


def _is_heavy(*, force: bool, is_all_stocks: bool) -> bool:
    # A forced job always runs (no deduplication); a full-universe job is 2,000+ symbols of work.
    return force or is_all_stocks


def request_job_for_client(*, request, requested_by: str, service=None, **params) -> tuple[AnalysisJob, bool]:
    """`service` (request_analysis_job, or another kind's) on behalf of `request`'s client.

    Raises JobPermissionDenied (403) when `force` would supersede someone else's job,
    TooManyJobs (429) past a creation limit; a duplicate answer is neither checked nor charged."""
    service = service or services.request_analysis_job  # looked up per call, so tests can patch it
    user = owner_of(request)
    force = bool(params.get("force"))

    def admit(*, spec, replacing, force):
        if force and replacing is not None:
            ensure_may_manage_job(user=request.user, job=replacing, action="supersede")
        check_job_creation(request=request, heavy=_is_heavy(force=force, is_all_stocks=spec.is_all_stocks))

    job, created = service(**params, requested_by=requested_by, requested_by_user=user, admit=admit)
    if created:
        charge_job_creation(request=request, heavy=_is_heavy(force=force, is_all_stocks=job.is_all_stocks))
    return job, created
