"""Alerts: find what changed when a job completes, and deliver each change once per subscription.

The flow: `on_job_completed(job_id=...)` (a django-q2 task enqueued when a job completes) compares
each new result with the previous one (`detect_changes`), creates one `AlertDelivery` per matching
subscription (a unique (subscription, change) row: a second run of the hook finds it), and enqueues
`send_delivery` per row. A worker claims the row with a conditional UPDATE before sending, so two
workers never send the same row; a failed send is retried with exponential backoff by the
due-deliveries loop (`send_due_deliveries`, on django-q2's scheduler every minute).
"""

import hashlib
import hmac
import json
import logging
import urllib.error
import urllib.request
from collections.abc import Callable
from datetime import timedelta

from django.conf import settings
from django.core.mail import send_mail
from django.db import IntegrityError, transaction
from django.db.models import F, Q
from django.utils import timezone
from django_q.tasks import async_task

from alerts import selectors
from alerts.models import AlertChange, AlertDelivery, AlertSubscription, Channel, DeliveryStatus, TargetKind, Trigger
from stocks.models import AnalysisResult
from stocks.universe import normalize_symbol
from thetool.exceptions import ApplicationError

logger = logging.getLogger("alerts")

SIGNATURE_HEADER = "X-TheTool-Signature"
DELIVERY_HEADER = "X-TheTool-Delivery"

# Watchlists and saved screens live in another app: it registers how to list a target's symbols,
# e.g. register_target_resolver(kind=TargetKind.WATCHLIST, resolve=lambda ref: {"RELIANCE.NS"}).
_TARGET_RESOLVERS: dict[str, Callable[[str], set[str]]] = {}


class DeliveryFailed(Exception):
    """A send that did not reach its receiver; retried with backoff."""


class InvalidSubscription(ApplicationError):
    code = "invalid_subscription"


def save_subscription(*, user, data: dict, subscription: AlertSubscription | None = None) -> AlertSubscription:
    """Create (or update) a user's subscription after the rules that span fields; 400 names the one broken."""
    subscription = subscription or AlertSubscription(user=user)
    for field, value in data.items():
        setattr(subscription, field, value)
    _check_subscription(subscription)
    subscription.save()
    return subscription


def _check_subscription(subscription: AlertSubscription) -> None:
    def refuse(message: str, field: str) -> None:
        raise InvalidSubscription(message, details={"field": field})

    if subscription.target_kind == TargetKind.ALL_STOCKS:
        subscription.target_ref = ""
    elif not subscription.target_ref.strip():
        refuse(f"target_ref is required for a {subscription.target_kind} subscription", "target_ref")
    elif subscription.target_kind == TargetKind.STOCK:
        subscription.target_ref = normalize_symbol(subscription.target_ref)  # 'reliance' -> 'RELIANCE.NS'
    if subscription.trigger == Trigger.SCORE_CROSS and subscription.threshold is None:
        refuse("threshold is required when the trigger is score", "threshold")
    if subscription.channel == Channel.WEBHOOK and not subscription.webhook_url:
        refuse("webhook_url is required when the channel is webhook", "webhook_url")
    if subscription.webhook_url and not subscription.webhook_url.lower().startswith(("http://", "https://")):
        refuse("webhook_url must be an http:// or https:// address", "webhook_url")
    if subscription.channel == Channel.EMAIL and not (subscription.email or subscription.user.email):
        refuse("email is required: the account has no email address", "email")


def delete_subscription(*, subscription: AlertSubscription) -> None:
    subscription.delete()


def register_target_resolver(*, kind: str, resolve: Callable[[str], set[str]]) -> None:
    _TARGET_RESOLVERS[kind] = resolve


def covers_symbol(*, subscription: AlertSubscription, symbol: str) -> bool:
    if subscription.target_kind == TargetKind.ALL_STOCKS:
        return True
    if subscription.target_kind == TargetKind.STOCK:
        return subscription.target_ref == symbol
    resolve = _TARGET_RESOLVERS.get(subscription.target_kind)
    return resolve is not None and symbol in resolve(subscription.target_ref)


def is_triggered(*, trigger: str, threshold: float | None, old_verdict, new_verdict, old_score, new_score) -> bool:
    """Pure: does this before/after pair fire the trigger? Crossing counts in either direction."""
    if trigger == Trigger.VERDICT_FLIP:
        return old_verdict != new_verdict
    if threshold is None or old_score is None or new_score is None:
        return False
    return (old_score < threshold <= new_score) or (new_score < threshold <= old_score)


def matches(*, subscription: AlertSubscription, change: AlertChange) -> bool:
    if subscription.strategy_id is not None and subscription.strategy_id != change.strategy_id:
        return False
    if not covers_symbol(subscription=subscription, symbol=change.symbol):
        return False
    return is_triggered(
        trigger=subscription.trigger,
        threshold=subscription.threshold,
        old_verdict=change.old_verdict,
        new_verdict=change.new_verdict,
        old_score=change.old_score,
        new_score=change.new_score,
    )


def detect_changes(*, job_id) -> list[AlertChange]:
    """The job's results that differ from the previous result of the same stock and strategy.

    Idempotent: the change of a result is stored once (unique on result); a second run returns it.
    """
    return record_changes(job_id=job_id, pairs=changed_pairs(job_id=job_id))


def changed_pairs(*, job_id) -> list[tuple[AnalysisResult, AnalysisResult]]:
    """(previous, new) pairs whose verdict or score moved: reads only."""
    return [
        (previous, result)
        for previous, result in selectors.list_result_pairs(job_id=job_id)
        if previous.verdict != result.verdict or previous.score != result.score
    ]


def record_changes(*, job_id, pairs) -> list[AlertChange]:
    changes = []
    for previous, result in pairs:
        change, _ = AlertChange.objects.get_or_create(
            result=result,
            defaults={
                "symbol": result.symbol,
                "strategy_id": result.strategy_id,
                "previous_result": previous,
                "job_id": job_id,
                "old_verdict": previous.verdict,
                "new_verdict": result.verdict,
                "old_score": previous.score,
                "new_score": result.score,
            },
        )
        changes.append(change)
    return changes


def create_deliveries(*, changes: list[AlertChange]) -> list[int]:
    """One pending delivery per (matching subscription, change); existing rows are left as they are."""
    now = timezone.now()
    subscriptions = selectors.list_active_subscriptions()
    created = []
    for change in changes:
        for subscription in subscriptions:
            if not matches(subscription=subscription, change=change):
                continue
            try:
                with transaction.atomic():  # a savepoint: a concurrent hook may have inserted it first
                    delivery = AlertDelivery.objects.create(
                        subscription=subscription, change=change, channel=subscription.channel, next_attempt_at=now
                    )
            except IntegrityError:
                continue  # the unique (subscription, change) row exists: that run enqueues it
            created.append(delivery.pk)
    return created


def on_job_completed(*, job_id) -> int:
    """The completion hook: detect changes, create deliveries, enqueue each after commit.

    The comparison reads happen before the transaction: on SQLite a transaction holds the one write
    lock from its start, and every worker's next batch would wait for the whole comparison.
    """
    pairs = changed_pairs(job_id=job_id)
    if not pairs:
        return 0
    with transaction.atomic():
        delivery_ids = create_deliveries(changes=record_changes(job_id=job_id, pairs=pairs))
        for delivery_id in delivery_ids:
            transaction.on_commit(lambda delivery_id=delivery_id: enqueue_delivery(delivery_id=delivery_id))
    if delivery_ids:
        logger.info("Job %s: %d alert deliveries created", job_id, len(delivery_ids))
    return len(delivery_ids)


def enqueue_job_completed(*, job_id) -> None:
    """For jobs.execution: run `on_job_completed` on django-q2 once the completion is committed."""
    transaction.on_commit(lambda: _enqueue("alerts.tasks.alert_on_job_completed", str(job_id)))


def enqueue_delivery(*, delivery_id: int) -> None:
    _enqueue("alerts.tasks.send_alert_delivery", delivery_id)


def _enqueue(func: str, *args) -> None:
    try:
        async_task(func, *args, group="alerts")
    except Exception:  # the broker refused: the due-deliveries loop sends pending rows later
        logger.error("Could not enqueue %s%r; the due-deliveries loop will pick it up", func, args, exc_info=True)


def claim_delivery(*, delivery_id: int, now=None) -> int | None:
    """Take the delivery for one send; the attempt number, or None when another worker has it or it is done.

    A conditional UPDATE: only a row that is pending and due, or whose claim expired (its worker died),
    changes, and the database lets exactly one concurrent UPDATE change it.
    """
    now = now or timezone.now()
    claimable = Q(status=DeliveryStatus.PENDING, next_attempt_at__lte=now) | Q(
        status=DeliveryStatus.SENDING, claimed_until__lt=now
    )
    claimed = AlertDelivery.objects.filter(claimable, pk=delivery_id).update(
        status=DeliveryStatus.SENDING,
        attempts=F("attempts") + 1,
        claimed_until=now + timedelta(seconds=settings.THETOOL_ALERT_CLAIM_SECONDS),
    )
    if not claimed:
        return None
    return AlertDelivery.objects.values_list("attempts", flat=True).get(pk=delivery_id)


def send_delivery(*, delivery_id: int) -> str:
    """Claim, send, record. Returns what happened (for the task's result and logs)."""
    attempt = claim_delivery(delivery_id=delivery_id)
    if attempt is None:
        return "not claimed"
    delivery = AlertDelivery.objects.select_related("subscription__user", "change").get(pk=delivery_id)
    try:
        response_status = deliver(delivery=delivery)
    except DeliveryFailed as exc:
        return _record_failure(delivery=delivery, attempt=attempt, error=str(exc))
    # Fenced by the attempt: a worker whose claim expired and was taken over changes nothing.
    AlertDelivery.objects.filter(pk=delivery_id, attempts=attempt, status=DeliveryStatus.SENDING).update(
        status=DeliveryStatus.SENT, sent_at=timezone.now(), response_status=response_status, last_error=""
    )
    logger.info("Alert delivery %s sent by %s (attempt %d)", delivery_id, delivery.channel, attempt)
    return "sent"


def retry_delay(*, attempt: int) -> timedelta:
    """Exponential backoff: base, 2 x base, 4 x base, ... after the 1st, 2nd, 3rd failed attempt."""
    return timedelta(seconds=settings.THETOOL_ALERT_RETRY_BASE_SECONDS * 2 ** (attempt - 1))


def _record_failure(*, delivery: AlertDelivery, attempt: int, error: str) -> str:
    gave_up = attempt >= settings.THETOOL_ALERT_MAX_ATTEMPTS
    AlertDelivery.objects.filter(pk=delivery.pk, attempts=attempt, status=DeliveryStatus.SENDING).update(
        status=DeliveryStatus.FAILED if gave_up else DeliveryStatus.PENDING,
        next_attempt_at=timezone.now() + retry_delay(attempt=attempt),
        last_error=error[:2000],
    )
    logger.warning(
        "Alert delivery %s attempt %d failed%s: %s", delivery.pk, attempt, " (gave up)" if gave_up else "", error
    )
    return "failed" if gave_up else "retry"


def send_due_deliveries(*, limit: int = 200) -> int:
    """The due-deliveries loop: send pending rows whose time has come and rows whose claim expired."""
    now = timezone.now()
    due = AlertDelivery.objects.filter(
        Q(status=DeliveryStatus.PENDING, next_attempt_at__lte=now)
        | Q(status=DeliveryStatus.SENDING, claimed_until__lt=now)
    ).values_list("pk", flat=True)[:limit]
    return sum(send_delivery(delivery_id=pk) == "sent" for pk in list(due))


def resend_failed_deliveries(*, delivery_ids, by: str) -> int:
    """An operator's "send again": each failed delivery gets one more attempt, now. Returns how many.

    Only rows still failed change (failed -> pending, due now), and each is enqueued after the commit
    (the due-deliveries loop sends it anyway within a minute if the broker refuses). The attempt count is
    kept: attempts stay fenced by their number, and a further failure gives up again at once.
    """
    ids = list(
        AlertDelivery.objects.filter(pk__in=delivery_ids, status=DeliveryStatus.FAILED).values_list("pk", flat=True)
    )
    changed = AlertDelivery.objects.filter(pk__in=ids, status=DeliveryStatus.FAILED).update(
        status=DeliveryStatus.PENDING, next_attempt_at=timezone.now(), claimed_until=None
    )
    for pk in ids:
        transaction.on_commit(lambda pk=pk: enqueue_delivery(delivery_id=pk))
    if changed:
        logger.info("Alert deliveries %s sent again by %s (%d failed deliveries)", ids, by, changed)
    return changed


# --- What is sent ------------------------------------------------------------------------------


def build_payload(*, delivery: AlertDelivery) -> dict:
    change, subscription = delivery.change, delivery.subscription
    return {
        "delivery_id": delivery.pk,
        "subscription_id": subscription.pk,
        "trigger": subscription.trigger,
        "threshold": subscription.threshold,
        "symbol": change.symbol,
        "strategy_id": change.strategy_id,
        "old_verdict": change.old_verdict,
        "new_verdict": change.new_verdict,
        "old_score": change.old_score,
        "new_score": change.new_score,
        "job_id": str(change.job_id) if change.job_id else None,
        "detected_at": change.detected_at.isoformat(),
    }


def describe_change(*, change: AlertChange) -> str:
    def score(value):
        return "n/a" if value is None else f"{value:.1f}"

    return (
        f"{change.symbol} (strategy {change.strategy_id}): {change.old_verdict} -> {change.new_verdict}, "
        f"score {score(change.old_score)} -> {score(change.new_score)}"
    )


def sign_body(*, secret: str, body: bytes) -> str:
    """The signature header's value: HMAC-SHA256 of the exact body bytes with the subscription's secret."""
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def deliver(*, delivery: AlertDelivery) -> int | None:
    if delivery.channel == Channel.WEBHOOK:
        return _post_webhook(delivery=delivery)
    _send_email(delivery=delivery)
    return None


def _send_email(*, delivery: AlertDelivery) -> None:
    subscription = delivery.subscription
    recipient = subscription.email or subscription.user.email
    if not recipient:
        raise DeliveryFailed("No email address: set one on the subscription or the account")
    text = describe_change(change=delivery.change)
    try:
        send_mail(
            subject=f"TheTool alert: {text.split(':')[0]}",
            message=f"{text}\n\nDelivery {delivery.pk}, subscription {subscription.pk}.",
            from_email=settings.DEFAULT_FROM_EMAIL,
            recipient_list=[recipient],
        )
    except OSError as exc:  # SMTP refused, timed out or unreachable (smtplib errors are OSErrors)
        raise DeliveryFailed(f"Email failed: {exc}") from exc


def _post_webhook(*, delivery: AlertDelivery) -> int:
    subscription = delivery.subscription
    body = json.dumps(build_payload(delivery=delivery), sort_keys=True).encode()
    request = urllib.request.Request(
        subscription.webhook_url,
        data=body,
        method="POST",
        headers={
            "Content-Type": "application/json",
            "User-Agent": "TheTool-alerts",
            DELIVERY_HEADER: str(delivery.pk),
            SIGNATURE_HEADER: sign_body(secret=subscription.webhook_secret, body=body),
        },
    )
    try:
        with urllib.request.urlopen(request, timeout=settings.THETOOL_ALERT_WEBHOOK_TIMEOUT_SECONDS) as response:
            return response.status
    except urllib.error.HTTPError as exc:
        raise DeliveryFailed(f"Webhook answered {exc.code}") from exc
    except (urllib.error.URLError, OSError) as exc:
        raise DeliveryFailed(f"Webhook unreachable: {exc}") from exc
