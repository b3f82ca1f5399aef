"""Idempotency-Key on job creation (IETF draft-ietf-httpapi-idempotency-key-header; Stripe's behaviour).

- same key, same body: the first answer (status and body) is replayed;
- same key while the first request is still being decided: 409;
- same key, different body: 422;
- keys are scoped to the client (user, or address for open-access anonymous clients) and are
  forgotten after THETOOL_IDEMPOTENCY_KEY_TTL_SECONDS (24 h by default).

Only successful answers are remembered. A refused request (bad input, rate limit, 503) forgets the
key, so a retry with the same key is decided again, as Stripe does for requests that never ran.
The unique constraint (scope, key) is what makes the first request win across processes.
"""

import hashlib
import json
import logging
import string
from collections.abc import Callable
from datetime import timedelta

from django.conf import settings
from django.db import DatabaseError, IntegrityError, transaction
from django.utils import timezone
from rest_framework.response import Response
from rest_framework.throttling import BaseThrottle
from rest_framework.utils.encoders import JSONEncoder

from jobs.models import IdempotencyRecord
from thetool.exceptions import ApplicationError, Conflict

logger = logging.getLogger("jobs")

HEADER = "Idempotency-Key"
MAX_KEY_LENGTH = 255
# A record still "in progress" after this long belongs to a request that died (killed worker, lost
# connection): the next retry takes the key over instead of getting 409 until the key expires.
ABANDONED_AFTER_SECONDS = 120
_PRINTABLE = set(string.printable) - set("\t\n\r\x0b\x0c")


class InvalidIdempotencyKey(ApplicationError):
    code = "invalid_idempotency_key"


class IdempotencyKeyInUse(Conflict):
    code = "idempotency_key_in_use"


class IdempotencyKeyReused(ApplicationError):
    status_code = 422
    code = "idempotency_key_reused"


def _scope(request) -> str:
    user = request.user
    if user.is_authenticated:
        return f"user:{user.pk}"
    # The same address the rate limits use (THETOOL_NUM_PROXIES decides whether to trust X-Forwarded-For).
    return f"address:{BaseThrottle().get_ident(request) or 'unknown'}"


def _fingerprint(request) -> str:
    body = json.dumps(request.data, sort_keys=True, cls=JSONEncoder)
    return hashlib.sha256(f"{request.method} {request.path}\n{body}".encode()).hexdigest()


def _valid_key(raw: str) -> str:
    key = raw.strip()
    if not key or len(key) > MAX_KEY_LENGTH or not set(key) <= _PRINTABLE:
        raise InvalidIdempotencyKey(
            f"{HEADER} must be 1-{MAX_KEY_LENGTH} printable ASCII characters", details={"header": HEADER}
        )
    return key


def _claim(*, scope: str, key: str, fingerprint: str) -> IdempotencyRecord | Response:
    """Insert the record (this request decides), or answer from the one that exists."""
    cutoff = timezone.now() - timedelta(seconds=settings.THETOOL_IDEMPOTENCY_KEY_TTL_SECONDS)
    # Expired keys of this client are forgotten here, so the table stays bounded per client.
    IdempotencyRecord.objects.filter(scope=scope, created_at__lt=cutoff).delete()
    for _ in range(3):
        try:
            with transaction.atomic():
                return IdempotencyRecord.objects.create(scope=scope, key=key, fingerprint=fingerprint)
        except IntegrityError:
            existing = IdempotencyRecord.objects.filter(scope=scope, key=key).first()
        if existing is None:
            continue  # the first request failed and forgot the key meanwhile: decide again
        if existing.fingerprint != fingerprint:
            raise IdempotencyKeyReused(
                f"This {HEADER} was already used with a different request body", details={"header": HEADER}
            )
        if existing.response_status is None and existing.created_at < timezone.now() - timedelta(
            seconds=ABANDONED_AFTER_SECONDS
        ):
            IdempotencyRecord.objects.filter(pk=existing.pk, response_status__isnull=True).delete()
            continue
        if existing.response_status is None:
            raise IdempotencyKeyInUse(
                f"A request with this {HEADER} is still being processed; retry shortly", details={"header": HEADER}
            )
        response = Response(existing.response_body, status=existing.response_status)
        response["Idempotent-Replayed"] = "true"
        return response
    raise IdempotencyKeyInUse(f"A request with this {HEADER} is still being processed; retry shortly")


def _forget(record: IdempotencyRecord) -> None:
    try:
        IdempotencyRecord.objects.filter(pk=record.pk).delete()
    except DatabaseError:
        # The database is failing (the request is answered 503): the record is taken over as
        # abandoned after ABANDONED_AFTER_SECONDS.
        logger.warning("Could not forget Idempotency-Key record %s", record.pk, exc_info=True)


def answer_idempotently(*, request, answer: Callable[[], Response]) -> Response:
    """Run `answer` once per Idempotency-Key (when the header is sent), replaying its first success."""
    raw = request.headers.get(HEADER)
    if raw is None:
        return answer()
    claimed = _claim(scope=_scope(request), key=_valid_key(raw), fingerprint=_fingerprint(request))
    if isinstance(claimed, Response):
        return claimed
    try:
        response = answer()
    except BaseException:
        _forget(claimed)
        raise
    if not 200 <= response.status_code < 300:
        _forget(claimed)
        return response
    # Stored as rendered JSON, so the replay is byte-for-byte the same body.
    body = json.loads(json.dumps(response.data, cls=JSONEncoder))
    IdempotencyRecord.objects.filter(pk=claimed.pk).update(response_status=response.status_code, response_body=body)
    return response
