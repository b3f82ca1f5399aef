"""The error answers every API operation documents, in one place.

Each view names the status codes it can answer (`error_responses(400, 404, ...)`); the bodies are all
the one error shape of `thetool.api`. Codes that middleware, authentication or throttling add to every
operation are in READ_ERRORS and WRITE_ERRORS, so a new cross-cutting answer is one edit here.
"""

from drf_spectacular.utils import OpenApiResponse

from thetool.api import ErrorSerializer

ERROR_DESCRIPTIONS = {
    400: "Invalid input (a malformed id, query parameter or body); nothing was changed",
    401: "Authentication is required",
    403: "Not allowed (or a missing CSRF token with a session)",
    404: "No such resource (or a page number past the end)",
    409: "Conflicts with the resource's current state; nothing was changed",
    413: "The request body is too large",
    415: "The request body is not JSON",
    422: "The Idempotency-Key was used with a different request",
    429: "Too many requests; retry after the time in Retry-After",
    503: "Database or task queue unavailable; retry after the time in Retry-After",
}

# What any operation can answer whatever it does: authentication, permissions, throttling, an outage.
READ_ERRORS = (400, 401, 403, 429, 503)
# What any operation with a body can answer besides: a body that is too large or not JSON.
WRITE_ERRORS = (*READ_ERRORS, 413, 415)


def error_responses(*codes: int) -> dict[int, OpenApiResponse]:
    """`extend_schema(responses=...)` entries for these status codes, each with the one error shape."""
    return {code: OpenApiResponse(ErrorSerializer, description=ERROR_DESCRIPTIONS[code]) for code in sorted(set(codes))}


def document_retry_after(result: dict, generator, request, public) -> dict:
    """drf-spectacular post-processing hook: every 503 answer carries Retry-After (seconds)."""
    header = {"schema": {"type": "integer", "minimum": 0}, "required": True, "description": "Seconds to wait"}
    for path in result.get("paths", {}).values():
        for operation in path.values():
            unavailable = operation.get("responses", {}).get("503")
            if unavailable is not None:
                unavailable.setdefault("headers", {})["Retry-After"] = header
    return result
