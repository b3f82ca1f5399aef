"""The API's single error shape: {"error": {"code": ..., "message": ..., "details": {...}}}.

Every error an API view can raise passes through `exception_handler`: DRF's own exceptions
(validation, parse, 404, 405, 415, auth), Django's Http404/PermissionDenied and the 400s Django
itself decides (`SuspiciousOperation`, `TooManyFieldsSent`; `RequestDataTooBig` is a 413), and
TheTool's `ApplicationError`s. A database or broker outage is a 503 with `Retry-After`, here and
on every page (`answer_outage`, used by thetool.middleware and `handler500`). Anything else is
logged with its traceback and answered with a generic 500 in the same shape, so clients never see
a stack trace or an HTML error page.
"""

import logging
import sys

from django.core.exceptions import PermissionDenied, RequestDataTooBig, SuspiciousOperation, TooManyFieldsSent
from django.db import DatabaseError, InterfaceError, OperationalError
from django.http import Http404, HttpResponse, JsonResponse
from django.template.loader import render_to_string
from django.views import defaults
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError
from rest_framework import exceptions, serializers, status
from rest_framework.response import Response
from rest_framework.views import exception_handler as drf_exception_handler

from thetool.exceptions import RETRY_AFTER_SECONDS, ApplicationError, ServiceUnavailable

logger = logging.getLogger("thetool.api")

OUTAGE_MESSAGE = "The service is temporarily unavailable. Try again shortly."
# The Redis broker refusing or timing out is the same kind of outage as the database.
BROKER_OUTAGES = (RedisConnectionError, RedisTimeoutError)


def error_body(code: str, message: str, details: dict | None = None) -> dict:
    return {"error": {"code": code, "message": message, "details": details or {}}}


class ErrorDetailSerializer(serializers.Serializer):
    code = serializers.CharField()
    message = serializers.CharField()
    details = serializers.DictField()


class ErrorSerializer(serializers.Serializer):
    """The error shape, for the OpenAPI schema."""

    error = ErrorDetailSerializer()


def _validation_message(detail) -> str:
    """The first human-readable message in a DRF ValidationError detail, prefixed with its field."""
    if isinstance(detail, dict):
        for field, value in detail.items():
            inner = _validation_message(value)
            return inner if field == "non_field_errors" else f"{field}: {inner}"
    if isinstance(detail, list) and detail:
        return _validation_message(detail[0])
    return str(detail)


def is_outage(exc: BaseException) -> bool:
    """Is this the database or the broker failing to answer (down, restarting, unreachable, locked)?

    OperationalError and InterfaceError are what both backends raise for a lost or refused
    connection. A bare DatabaseError (psycopg's own, unclassified) counts too; its subclasses
    IntegrityError, DataError and ProgrammingError are answers about a query, not an outage.
    """
    if isinstance(exc, (OperationalError, InterfaceError, *BROKER_OUTAGES)):
        return True
    return type(exc) is DatabaseError


def is_api_request(request) -> bool:
    return request.path.startswith("/api/")


def answer_outage(*, request, exc: BaseException) -> HttpResponse:
    """503 + Retry-After: the JSON error shape under /api/, a self-contained page elsewhere.

    Rendering touches nothing that could need the database again: no request context (so no
    context processors, no session, no user), a template that extends nothing.
    """
    logger.warning("Outage answered 503 on %s %s: %s: %s", request.method, request.path, type(exc).__name__, exc)
    if is_api_request(request):
        response = JsonResponse(error_body(ServiceUnavailable.code, OUTAGE_MESSAGE), status=503)
    else:
        response = HttpResponse(render_to_string("503.html"), status=503)
    response["Retry-After"] = str(RETRY_AFTER_SECONDS)
    response["Cache-Control"] = "no-store"
    return response


def refuse_request(*, request, status_code: int, code: str, message: str) -> HttpResponse:
    """A 4xx decided before any view runs: the JSON error shape under /api/, the plain 400 page elsewhere."""
    if is_api_request(request):
        return JsonResponse(error_body(code, message), status=status_code)
    return HttpResponse(render_to_string("400.html", {"message": message}), status=status_code)


def require_json(request) -> None:
    """Refuse (415) a request that does not say Content-Type: application/json, even with no body.

    For the job-creating endpoints an empty body means "every stock"; DRF reads an empty form
    body as empty data. A cross-site HTML form can post form, multipart or text bodies, never
    JSON without a CORS preflight, so JSON-only is what keeps another site from starting jobs.
    """
    media_type = request.content_type.split(";")[0].strip().lower()
    if media_type == "application/json" or media_type.endswith("+json"):
        return
    raise exceptions.UnsupportedMediaType(
        media_type or "none", detail="Send the request body as JSON, with Content-Type: application/json."
    )


def _django_refusal(exc: SuspiciousOperation) -> Response:
    """The 4xx Django itself gives these (DRF's handler does not know them and would answer 500)."""
    if isinstance(exc, RequestDataTooBig):
        return Response(error_body("request_too_large", "The request body is too large."), status=413)
    if isinstance(exc, TooManyFieldsSent):
        return Response(error_body("too_many_fields", "The request has too many fields."), status=400)
    return Response(error_body("bad_request", "The request was refused as malformed."), status=400)


def exception_handler(exc, context):
    if is_outage(exc):
        view = context.get("view")
        name = type(view).__name__ if view else "API"
        logger.warning("Outage in %s answered 503: %s: %s", name, type(exc).__name__, exc)
        exc = ServiceUnavailable(OUTAGE_MESSAGE)

    if isinstance(exc, ApplicationError):
        response = Response(error_body(exc.code, exc.message, exc.details), status=exc.status_code)
        if isinstance(exc, ServiceUnavailable):
            response["Retry-After"] = str(exc.retry_after)
        return response

    if isinstance(exc, SuspiciousOperation):
        return _django_refusal(exc)

    if isinstance(exc, Http404):
        exc = exceptions.NotFound(str(exc) or "Not found.")
    elif isinstance(exc, PermissionDenied):
        exc = exceptions.PermissionDenied()

    response = drf_exception_handler(exc, context)
    if response is None:
        view = context.get("view")
        logger.error("Unhandled error in %s", type(view).__name__ if view else "API", exc_info=exc)
        return Response(
            error_body("server_error", "An unexpected error occurred. It has been logged."),
            status=status.HTTP_500_INTERNAL_SERVER_ERROR,
        )

    if isinstance(exc, exceptions.ValidationError):
        details = exc.detail if isinstance(exc.detail, dict) else {"non_field_errors": exc.detail}
        response.data = error_body("invalid", _validation_message(exc.detail), details)
    else:
        code = exc.get_codes() if isinstance(exc, exceptions.APIException) else "error"
        code = code if isinstance(code, str) else "error"
        message = str(getattr(exc, "detail", exc))
        response.data = error_body(code, message)
    return response


def handler400(request, exception=None):
    """Django's own 400s (SuspiciousOperation outside a DRF view): the error shape under /api/."""
    if is_api_request(request):
        return JsonResponse(error_body("bad_request", "The request was refused as malformed."), status=400)
    return HttpResponse(render_to_string("400.html", {"message": "The request was refused as malformed."}), status=400)


def handler404(request, exception=None):
    """URLs that match no route: the JSON error shape under /api/, the HTML 404 page elsewhere."""
    if is_api_request(request):
        return JsonResponse(error_body("not_found", f"No API endpoint at {request.path}"), status=404)
    return defaults.page_not_found(request, exception)


def handler500(request):
    """Unexpected errors: 500. An outage raised outside a view (in a middleware) is still a 503.

    Django calls this inside its `except` block, so the exception being handled is at hand.
    """
    exc = sys.exc_info()[1]
    if exc is not None and is_outage(exc):
        return answer_outage(request=request, exc=exc)
    if is_api_request(request):
        return JsonResponse(error_body("server_error", "An unexpected error occurred. It has been logged."), status=500)
    return defaults.server_error(request)
