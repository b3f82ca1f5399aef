"""Who may do what to a job.

Deduplication is global: every signed-in user reads every job and its results, and an identical
request from anyone returns the running job. Changing a job is narrower: only the account that
requested it, or staff, may cancel it or supersede it with `force`. A job no account owns (asked
for anonymously while open access was on) may be changed by anyone while open access is on.
"""

from django.conf import settings
from rest_framework.permissions import BasePermission

from jobs.models import AnalysisJob
from thetool.exceptions import ApplicationError


class JobPermissionDenied(ApplicationError):
    status_code = 403
    code = "permission_denied"


def may_manage_job(*, user, job: AnalysisJob) -> bool:
    """Cancel or force-supersede `job`: its requester, or staff."""
    if user is not None and user.is_authenticated and user.is_staff:
        return True
    if job.requested_by_user_id is not None:
        return user is not None and user.is_authenticated and job.requested_by_user_id == user.pk
    return bool(settings.THETOOL_OPEN_ACCESS)


def ensure_may_manage_job(*, user, job: AnalysisJob, action: str) -> None:
    if not may_manage_job(user=user, job=job):
        raise JobPermissionDenied(
            f"Only the user who requested job {job.pk}, or staff, may {action} it",
            details={"job_id": str(job.pk), "action": action},
        )


def owner_of(request):
    """The account a request is made by, or None (anonymous, open access)."""
    user = getattr(request, "user", None)
    return user if user is not None and user.is_authenticated else None


class CanManageJob(BasePermission):
    """Object permission for cancel: the job's requester or staff (403 in the error shape otherwise)."""

    message = "Only the user who requested this job, or staff, may cancel it."

    def has_object_permission(self, request, view, obj):
        return may_manage_job(user=request.user, job=obj)
