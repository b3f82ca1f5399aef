"""Named errors of the jobs domain."""

from thetool.exceptions import ApplicationError, Conflict, NotFound, ServiceUnavailable


class JobNotFound(NotFound):
    code = "job_not_found"


class InvalidJobId(ApplicationError):
    code = "invalid_job_id"


class JobAlreadyFinished(Conflict):
    code = "job_already_finished"


class InvalidJobTransition(Exception):
    """A status change the lifecycle table does not allow (a programming error, not a client error)."""


class JobNotEnqueued(ServiceUnavailable):
    """A job row was created, but the task queue refused it (the job is marked failed with the reason)."""

    code = "job_not_enqueued"
