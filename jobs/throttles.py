"""Rate limits on the API: generous for reads, counted per created job for job requests.

DRF's throttles count a request before the view runs. A job request cannot be judged that early:
a duplicate (the analysis is already running) must cost nothing and never be refused. So job
creation is checked inside the service's locked decision, only when a job is about to be created
(`check_job_creation`, via `admit`), and charged after it was created (`charge_job_creation`).

Counters live in Django's default cache, shared by every web process (Redis, or a database table;
see settings.CACHES). Check and charge are two steps, as in DRF's own throttles: a burst of
concurrent creations may pass the limit by the number of requests in flight, never more.
"""

from rest_framework.settings import api_settings
from rest_framework.throttling import SimpleRateThrottle

from thetool.exceptions import ApplicationError


class TooManyJobs(ApplicationError):
    status_code = 429
    code = "throttled"

    def __init__(self, message: str, *, retry_after: int, details: dict | None = None):
        super().__init__(message, details=details)
        self.retry_after = retry_after


class _ScopedThrottle(SimpleRateThrottle):
    """Reads its rate when built (not at import), so a settings change takes effect."""

    def get_rate(self):
        return api_settings.DEFAULT_THROTTLE_RATES.get(self.scope)

    def get_cache_key(self, request, view=None):
        user = getattr(request, "user", None)
        ident = f"user-{user.pk}" if user is not None and user.is_authenticated else f"addr-{self.get_ident(request)}"
        return self.cache_format % {"scope": self.scope, "ident": ident}


class ReadThrottle(_ScopedThrottle):
    """Generous limit on reads (GET/HEAD/OPTIONS), per user or address. Writes have their own rules."""

    scope = "api_read"

    def allow_request(self, request, view):
        if request.method not in ("GET", "HEAD", "OPTIONS"):
            return True
        return super().allow_request(request, view)


class JobCreationThrottle(_ScopedThrottle):
    def __init__(self, *, scope: str):
        self.scope = scope
        super().__init__()

    def seconds_until_free(self, request) -> int | None:
        """None while there is room for one more job; else how long until there is."""
        if self.rate is None:
            return None
        self.key = self.get_cache_key(request)
        self.now = self.timer()
        self.history = [t for t in self.cache.get(self.key, []) if t > self.now - self.duration]
        if len(self.history) < self.num_requests:
            return None
        return max(1, int(self.wait() + 0.999))

    def charge(self, request) -> None:
        if self.rate is None:
            return
        self.seconds_until_free(request)
        self.history.insert(0, self.now)
        self.cache.set(self.key, self.history, self.duration)


def creation_scopes(*, request, heavy: bool) -> list[str]:
    """Per user when signed in, per address when anonymous (open access); plus the strict scope for
    full-universe and forced jobs."""
    user = getattr(request, "user", None)
    scopes = ["job_create_user" if user is not None and user.is_authenticated else "job_create_anon"]
    if heavy:
        scopes.append("job_heavy")
    return scopes


def check_job_creation(*, request, heavy: bool) -> None:
    """Raise TooManyJobs when one more job would pass a limit. Changes nothing."""
    for scope in creation_scopes(request=request, heavy=heavy):
        wait = JobCreationThrottle(scope=scope).seconds_until_free(request)
        if wait is not None:
            raise TooManyJobs(
                f"Too many new jobs ({api_settings.DEFAULT_THROTTLE_RATES[scope]} for {scope}); "
                f"try again in {wait} s. Requests for a running analysis are never limited.",
                retry_after=wait,
                details={"scope": scope, "retry_after": wait},
            )


def charge_job_creation(*, request, heavy: bool) -> None:
    for scope in creation_scopes(request=request, heavy=heavy):
        JobCreationThrottle(scope=scope).charge(request)
