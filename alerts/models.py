"""Alert subscriptions, the changes they watch for, and one delivery per (subscription, change)."""

import secrets

from django.conf import settings
from django.db import models
from django.db.models import Q


class TargetKind(models.TextChoices):
    STOCK = "stock", "A stock"
    ALL_STOCKS = "all", "All stocks"
    # Watchlists and saved screens are another app's models: the subscription keeps a generic
    # reference (their id in `target_ref`) so alerts do not depend on that app's tables.
    WATCHLIST = "watchlist", "A watchlist"
    SCREEN = "screen", "A saved screen"


class Trigger(models.TextChoices):
    VERDICT_FLIP = "verdict", "The verdict changes"
    SCORE_CROSS = "score", "The score crosses a threshold"


class Channel(models.TextChoices):
    EMAIL = "email", "Email"
    WEBHOOK = "webhook", "Webhook"


def new_webhook_secret() -> str:
    return secrets.token_hex(32)


class AlertSubscription(models.Model):
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="alert_subscriptions")
    target_kind = models.CharField(max_length=12, choices=TargetKind.choices)
    target_ref = models.CharField(
        max_length=64, blank=True, help_text="Yahoo symbol for a stock; the id of a watchlist or saved screen"
    )
    strategy_id = models.PositiveSmallIntegerField(null=True, blank=True, help_text="Any strategy when empty")
    trigger = models.CharField(max_length=10, choices=Trigger.choices, default=Trigger.VERDICT_FLIP)
    threshold = models.FloatField(null=True, blank=True, help_text="The score to cross (score trigger only)")
    channel = models.CharField(max_length=10, choices=Channel.choices, default=Channel.EMAIL)
    email = models.EmailField(blank=True, help_text="Where to email; the account's address when empty")
    webhook_url = models.URLField(max_length=500, blank=True)
    webhook_secret = models.CharField(max_length=64, default=new_webhook_secret)
    is_active = models.BooleanField(default=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            # A score alert needs the score it watches.
            models.CheckConstraint(
                condition=~Q(trigger="score") | Q(threshold__isnull=False),
                name="alert_score_needs_threshold",
                violation_error_message="threshold is required when the trigger is score",
            ),
            # A webhook alert needs somewhere to POST.
            models.CheckConstraint(
                condition=~Q(channel="webhook") | ~Q(webhook_url=""),
                name="alert_webhook_needs_url",
                violation_error_message="webhook_url is required when the channel is webhook",
            ),
            # "All stocks" has no reference; every other target names one.
            models.CheckConstraint(
                condition=Q(target_kind="all", target_ref="") | (~Q(target_kind="all") & ~Q(target_ref="")),
                name="alert_target_ref_matches_kind",
                violation_error_message="target_ref is required for a stock, watchlist or screen (and empty for all)",
            ),
        ]

    def __str__(self):
        return f"{self.user} {self.target_kind}:{self.target_ref or '*'} {self.trigger} by {self.channel}"


class AlertChange(models.Model):
    """One stock's result compared with its previous result for the same strategy.

    The shape of a "verdict change" record: alerts only need symbol, strategy, before and after.
    """

    symbol = models.CharField(max_length=40)
    strategy_id = models.PositiveSmallIntegerField()
    previous_result = models.ForeignKey("stocks.AnalysisResult", on_delete=models.CASCADE, related_name="+")
    result = models.ForeignKey("stocks.AnalysisResult", on_delete=models.CASCADE, related_name="+")
    job = models.ForeignKey("jobs.AnalysisJob", null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    old_verdict = models.CharField(max_length=12)
    new_verdict = models.CharField(max_length=12)
    old_score = models.FloatField(null=True)
    new_score = models.FloatField(null=True)
    detected_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-detected_at", "-id"]
        constraints = [
            # A result is compared once, however often the completion hook runs for its job.
            models.UniqueConstraint(fields=["result"], name="alert_change_one_per_result"),
        ]

    def __str__(self):
        return f"{self.symbol}: {self.old_verdict} -> {self.new_verdict}"


class DeliveryStatus(models.TextChoices):
    PENDING = "pending"  # waiting for its first or next attempt (next_attempt_at)
    SENDING = "sending"  # claimed by one worker until claimed_until
    SENT = "sent"
    FAILED = "failed"  # gave up after THETOOL_ALERT_MAX_ATTEMPTS


class AlertDelivery(models.Model):
    subscription = models.ForeignKey(AlertSubscription, on_delete=models.CASCADE, related_name="deliveries")
    change = models.ForeignKey(AlertChange, on_delete=models.CASCADE, related_name="deliveries")
    channel = models.CharField(max_length=10, choices=Channel.choices)
    status = models.CharField(max_length=10, choices=DeliveryStatus.choices, default=DeliveryStatus.PENDING)
    attempts = models.PositiveSmallIntegerField(default=0)
    next_attempt_at = models.DateTimeField()
    claimed_until = models.DateTimeField(null=True, blank=True)
    last_error = models.TextField(blank=True)
    response_status = models.PositiveSmallIntegerField(null=True, blank=True)
    sent_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["status", "next_attempt_at"], name="alert_delivery_due")]
        constraints = [
            # Once per change: several workers, a re-run hook or a retried task find this row, never a second.
            models.UniqueConstraint(fields=["subscription", "change"], name="alert_delivery_once_per_change"),
        ]

    def __str__(self):
        return f"delivery {self.pk} ({self.status})"
