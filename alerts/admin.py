"""Operators' view of alerts: who is subscribed to what, and every delivery with its outcome.

Subscriptions belong to their users: staff can only pause or resume them (the webhook secret is never
shown). Deliveries are read-only; a failed one can be sent again.
"""

from urllib.parse import urlsplit

from django.contrib import admin, messages
from django.utils.html import format_html

from alerts import services
from alerts.models import AlertDelivery, AlertSubscription, DeliveryStatus
from stocks.admin import StrategyFilter, strategy_name
from stocks.templatetags.thetool_pages import signed


@admin.register(AlertSubscription)
class AlertSubscriptionAdmin(admin.ModelAdmin):
    list_display = (
        "id",
        "user",
        "target",
        "condition",
        "strategy",
        "channel",
        "destination",
        "is_active",
        "created_at",
    )
    list_filter = ("is_active", "channel", "trigger", "target_kind", StrategyFilter)
    search_fields = ("user__username", "target_ref", "email", "webhook_url")
    list_select_related = ("user",)
    fields = (
        "user",
        "target_kind",
        "target_ref",
        "strategy_id",
        "trigger",
        "threshold",
        "channel",
        "email",
        "webhook_url",
        "is_active",
        "created_at",
    )
    readonly_fields = tuple(field for field in fields if field != "is_active")
    actions = ("pause", "resume")

    def has_add_permission(self, request):
        return False

    @admin.display(description="Target")
    def target(self, subscription):
        return f"{subscription.get_target_kind_display()} {subscription.target_ref}".strip()

    @admin.display(description="When")
    def condition(self, subscription):
        if subscription.trigger == "score":
            return f"score crosses {subscription.threshold:+.2f}"
        return "verdict changes"

    @admin.display(description="Strategy", ordering="strategy_id")
    def strategy(self, subscription):
        return "any" if subscription.strategy_id is None else strategy_name(subscription.strategy_id)

    @admin.display(description="To")
    def destination(self, subscription):
        if subscription.channel == "webhook":
            return urlsplit(subscription.webhook_url).netloc
        return subscription.email or f"{subscription.user.email} (account)"

    @admin.action(description="Pause the selected subscriptions", permissions=["change"])
    def pause(self, request, queryset):
        count = queryset.filter(is_active=True).update(is_active=False)
        self.message_user(request, f"{count} subscription(s) paused.", messages.SUCCESS)

    @admin.action(description="Resume the selected subscriptions", permissions=["change"])
    def resume(self, request, queryset):
        count = queryset.filter(is_active=False).update(is_active=True)
        self.message_user(request, f"{count} subscription(s) resumed.", messages.SUCCESS)


@admin.register(AlertDelivery)
class AlertDeliveryAdmin(admin.ModelAdmin):
    list_display = (
        "id",
        "symbol",
        "change_shown",
        "subscriber",
        "channel",
        "status_shown",
        "attempts",
        "response_status",
        "error_shown",
        "next_attempt_at",
        "sent_at",
    )
    list_filter = ("status", "channel")
    search_fields = ("change__symbol", "subscription__user__username", "=id")
    list_select_related = ("change", "subscription__user")
    date_hierarchy = "created_at"
    list_per_page = 100
    actions = ("send_again",)

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False  # read-only: a delivery changes only by being sent

    def has_resend_permission(self, request):
        return request.user.has_perm("alerts.change_alertdelivery")

    @admin.display(description="Symbol", ordering="change__symbol")
    def symbol(self, delivery):
        return delivery.change.symbol

    @admin.display(description="Change")
    def change_shown(self, delivery):
        change = delivery.change
        return f"{change.old_verdict} → {change.new_verdict} ({signed(change.old_score)} → {signed(change.new_score)})"

    @admin.display(description="Subscriber", ordering="subscription__user__username")
    def subscriber(self, delivery):
        return delivery.subscription.user

    @admin.display(description="Status", ordering="status")
    def status_shown(self, delivery):
        if delivery.status == DeliveryStatus.FAILED:
            return format_html('<strong style="color:#b00">{}</strong>', delivery.get_status_display())
        return delivery.get_status_display()

    @admin.display(description="Last error")
    def error_shown(self, delivery):
        if not delivery.last_error:
            return "—"
        short = delivery.last_error if len(delivery.last_error) <= 80 else delivery.last_error[:79] + "…"
        return format_html('<span title="{}">{}</span>', delivery.last_error, short)

    @admin.action(description="Send the selected failed deliveries again", permissions=["resend"])
    def send_again(self, request, queryset):
        count = services.resend_failed_deliveries(
            delivery_ids=list(queryset.values_list("pk", flat=True)), by=f"admin:{request.user.get_username()}"
        )
        skipped = queryset.count() - count
        note = f" {skipped} not failed, left as they were." if skipped else ""
        level = messages.SUCCESS if count else messages.WARNING
        self.message_user(request, f"{count} delivery(ies) queued to be sent again.{note}", level)
