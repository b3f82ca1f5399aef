"""Logging: UTC timestamps, one event per line; optionally JSON (THETOOL_LOG_FORMAT=json).

Every record carries the request id (RequestIdMiddleware) and, when a request made it, the user.
The JSON format adds the job id, attempt and counts that TheTool's log lines already state in words
("Job <id> claimed (attempt 1/3, 4 symbols)"), so a log pipeline can filter on them without parsing.
"""

import contextvars
import json
import logging
import re
import time
import uuid

from django.utils.functional import empty

# The request being served on this thread, if any (None in workers and commands).
_current_request = contextvars.ContextVar("thetool_request", default=None)

REQUEST_ID_HEADER = "X-Request-ID"
# A client's request id is kept when it is short and plain; anything else is replaced.
_SAFE_REQUEST_ID = re.compile(r"^[A-Za-z0-9._:-]{1,128}$")

# Facts the job log lines state in words (see the README's table of log lines).
_JOB_ID = re.compile(r"\b[Jj]ob ([0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12})\b")
_ATTEMPT = re.compile(r"\battempt (\d+)\b")
_COUNTS = {
    "symbols": re.compile(r"\b(\d+) symbols\b"),
    "analysed": re.compile(r"\b(\d+) analysed\b"),
    "failed": re.compile(r"\b(\d+) failed\b"),
}
# Attributes every LogRecord has; anything else on a record came from `extra=` and is kept.
_STANDARD_ATTRS = set(vars(logging.LogRecord("", 0, "", 0, "", (), None))) | {"message", "asctime", "request_id"}
_STANDARD_ATTRS |= {"user", "taskName"}


class UTCFormatter(logging.Formatter):
    converter = time.gmtime
    default_msec_format = "%s.%03dZ"


class RequestContextFilter(logging.Filter):
    """Adds `request_id` and `user` to every record ("-" / "" outside a request)."""

    def filter(self, record):
        request = _current_request.get()
        record.request_id = getattr(request, "request_id", "-") if request is not None else "-"
        record.user = _username(request)
        return True


def _username(request) -> str:
    if request is None:
        return ""
    user = getattr(request, "user", None)
    # Never force the lazy user (a session query) just to log: use it only when the view already did.
    if user is None or getattr(user, "_wrapped", None) is empty:
        return ""
    return user.get_username() if user.is_authenticated else ""


class JSONFormatter(UTCFormatter):
    """One JSON object per line: time (UTC), level, logger, message, request_id, user, job facts, extras."""

    def format(self, record):
        message = record.getMessage()
        entry = {
            "time": self.formatTime(record),
            "level": record.levelname,
            "logger": record.name,
            "message": message,
            "request_id": getattr(record, "request_id", "-"),
            "user": getattr(record, "user", ""),
        }
        entry.update(job_facts(message))
        for key, value in vars(record).items():
            if key not in _STANDARD_ATTRS and not key.startswith("_"):
                entry[key] = value
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        return json.dumps(entry, default=str)


def job_facts(message: str) -> dict:
    """job_id, attempt and counts stated in a log message, as fields."""
    facts = {}
    if match := _JOB_ID.search(message):
        facts["job_id"] = match.group(1)
    if match := _ATTEMPT.search(message):
        facts["attempt"] = int(match.group(1))
    for name, pattern in _COUNTS.items():
        if match := pattern.search(message):
            facts[name] = int(match.group(1))
    return facts


class RequestIdMiddleware:
    """Gives every request an id (the client's X-Request-ID when sane), logs it, and returns it."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        given = request.headers.get(REQUEST_ID_HEADER, "")
        request.request_id = given if _SAFE_REQUEST_ID.match(given) else uuid.uuid4().hex
        token = _current_request.set(request)
        try:
            response = self.get_response(request)
        finally:
            _current_request.reset(token)
        response[REQUEST_ID_HEADER] = request.request_id
        return response
