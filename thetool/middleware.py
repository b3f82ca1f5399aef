"""Request-wide behaviour: API times in UTC, bad input refused early, outages answered 503, and the API's
error shape with DEBUG on too.

Times: UTC in the database and in the JSON API; Asia/Kolkata (TIME_ZONE) on the pages people read.
"""

from datetime import UTC

from django.conf import settings
from django.core.exceptions import RequestDataTooBig, SuspiciousOperation, TooManyFieldsSent
from django.http import HttpResponse
from django.http.multipartparser import MultiPartParserError
from django.utils import timezone

from thetool.api import answer_outage, handler400, handler404, is_api_request, is_outage, refuse_request


class UTCForAPIMiddleware:
    """Serialise API datetimes in UTC ("...Z"), whatever TIME_ZONE pages display in."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        if not request.path.startswith("/api/"):
            return self.get_response(request)
        with timezone.override(UTC):
            return self.get_response(request)


class DebugApiErrorsMiddleware:
    """Under /api/, the JSON error shape for Django's own 400 and 404 with DEBUG on too.

    With DEBUG on (what `make run` uses), Django answers a URL that matches no route and a refused
    Host header with its technical HTML pages instead of calling handler404/handler400, so an
    integrator's mistyped URL on the default install got an HTML page. Only answers that no view
    produced (no URL was resolved) are replaced: the browsable API's own HTML pages stay.
    With DEBUG off the handlers already answer, and this does nothing.
    """

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        response = self.get_response(request)
        if (
            settings.DEBUG
            and response.status_code in (400, 404)
            and request.resolver_match is None
            and is_api_request(request)
            and not response.get("Content-Type", "").startswith("application/json")
        ):
            return handler404(request) if response.status_code == 404 else handler400(request)
        return response


class RefuseBadInputMiddleware:
    """Refuse input that no view should see, before a view or the database does.

    - A body larger than DATA_UPLOAD_MAX_MEMORY_SIZE is a 413 (Django alone says 400; inside a
      DRF view it became a 500).
    - A NUL character in the path, the query string or a page's form fields is a 400: PostgreSQL
      cannot store NUL in text and its driver's error would be a 500. (API bodies are JSON, where
      thetool.parsers.StrictJSONParser refuses NUL.)
    - More than DATA_UPLOAD_MAX_NUMBER_FIELDS fields, or a malformed multipart body, is a 400.
    It sits before the session and CSRF middleware, which would otherwise parse the body first.
    """

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        refusal = refuse_bad_input(request=request)
        return refusal if refusal is not None else self.get_response(request)


def refuse_bad_input(*, request) -> HttpResponse | None:
    limit = settings.DATA_UPLOAD_MAX_MEMORY_SIZE
    if limit is not None and _content_length(request) > limit:
        return refuse_request(
            request=request,
            status_code=413,
            code="request_too_large",
            message=f"The request body exceeds {limit} bytes.",
        )
    try:
        fields = [request.path_info, *_field_strings(request.GET)]
        # API bodies are left to the API's JSON parser: reading a form here would hide it from DRF's 415.
        if request.method == "POST" and not is_api_request(request):
            fields.extend(_field_strings(request.POST))
    except RequestDataTooBig:
        return refuse_request(
            request=request, status_code=413, code="request_too_large", message="The request is too large."
        )
    except TooManyFieldsSent:
        return refuse_request(
            request=request, status_code=400, code="too_many_fields", message="The request has too many fields."
        )
    except (SuspiciousOperation, MultiPartParserError):
        return refuse_request(
            request=request, status_code=400, code="bad_request", message="The request body is malformed."
        )
    if any("\x00" in field for field in fields):
        return refuse_request(
            request=request, status_code=400, code="invalid", message="NUL characters are not allowed in the request."
        )
    return None


def _content_length(request) -> int:
    try:
        return int(request.META.get("CONTENT_LENGTH") or 0)
    except ValueError:
        return 0  # what Django itself assumes for a malformed length


def _field_strings(query_dict) -> list[str]:
    return [text for key, values in query_dict.lists() for text in (key, *values) if isinstance(text, str)]


class AnswerOutagesMiddleware:
    """A database or broker outage answers 503 + Retry-After on every URL, never 500.

    `process_exception` sees what a view raises (and what a template raises while the response
    is rendered, e.g. the session read behind `user`) before Django turns it into a 500. What a
    middleware raises never reaches it: `thetool.api.handler500` answers those with the same 503.
    """

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        return self.get_response(request)

    def process_exception(self, request, exception):
        return answer_outage(request=request, exc=exception) if is_outage(exception) else None
