"""Domain errors that the API turns into its one JSON error shape."""

# How long a client should wait after a 503: about what a database restart or failover takes.
RETRY_AFTER_SECONDS = 5


class ApplicationError(Exception):
    """An error a client can act on: it carries an HTTP status, a stable code and details."""

    status_code = 400
    code = "invalid"

    def __init__(self, message: str, *, details: dict | None = None, code: str | None = None):
        super().__init__(message)
        self.message = message
        self.details = details or {}
        if code:
            self.code = code


class NotFound(ApplicationError):
    status_code = 404
    code = "not_found"


class Conflict(ApplicationError):
    status_code = 409
    code = "conflict"


class ServiceUnavailable(ApplicationError):
    """Infrastructure failure (database, broker). Never reported as a conflict or duplicate."""

    status_code = 503
    code = "service_unavailable"

    def __init__(self, message: str, *, retry_after: int = RETRY_AFTER_SECONDS, details: dict | None = None):
        super().__init__(message, details=details)
        self.retry_after = retry_after
