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


class WorkerShutdown(SystemExit):
    """Raised inside a running task when its worker process is told to stop (SIGTERM, SIGINT).

    A SystemExit, so that `except Exception` anywhere in the analysis cannot swallow it, django-q2's
    worker loop does not record it as a task failure, and the process exits quietly (code 0).
    """

    def __init__(self, signal_name: str):
        super().__init__(0)
        self.signal_name = signal_name

    def __str__(self) -> str:
        return f"received {self.signal_name}"
