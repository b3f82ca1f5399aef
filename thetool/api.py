"""The API's single error shape: {"error": {"code": ..., "message": ..., "details": {...}}}.

Every error an API view can raise passes through `exception_handler`: DRF's own exceptions
(validation, parse, 404, 405, auth), Django's Http404/PermissionDenied, and TheTool's
`ApplicationError`s. Anything else is logged with its traceback and answered with a generic 500
in the same shape, so clients never see a stack trace or an HTML error page.
"""

import logging

from django.core.exceptions import PermissionDenied
from django.http import Http404, JsonResponse
from django.views import defaults
from rest_framework import exceptions, serializers, status
from rest_framework.response import Response
from rest_framework.views import exception_handler as drf_exception_handler

from thetool.exceptions import ApplicationError, ServiceUnavailable

logger = logging.getLogger("thetool.api")


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


def exception_handler(exc, context):
    if isinstance(exc, ApplicationError):
        response = Response(error_body(exc.code, exc.message, exc.details), status=exc.status_code)
        if isinstance(exc, ServiceUnavailable):
            response["Retry-After"] = str(exc.retry_after)
        return response

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


def _is_api(request) -> bool:
    return request.path.startswith("/api/")


def handler404(request, exception=None):
    """URLs that match no route: the JSON error shape under /api/, the HTML 404 page elsewhere."""
    if _is_api(request):
        return JsonResponse(error_body("not_found", f"No API endpoint at {request.path}"), status=404)
    return defaults.page_not_found(request, exception)


def handler500(request):
    if _is_api(request):
        return JsonResponse(error_body("server_error", "An unexpected error occurred. It has been logged."), status=500)
    return defaults.server_error(request)
