"""Operators see alerts in the admin: subscriptions (pause/resume only) and deliveries (send a failed one again)."""

import pytest
from django.contrib.auth.models import Permission, User
from django.urls import reverse

from alerts import services
from alerts.models import AlertDelivery, AlertSubscription, DeliveryStatus
from tests.alerts.conftest import make_flip

pytestmark = pytest.mark.django_db(transaction=True)

SUBSCRIPTIONS = reverse("admin:alerts_alertsubscription_changelist")
DELIVERIES = reverse("admin:alerts_alertdelivery_changelist")


@pytest.fixture
def enqueued(monkeypatch):
    sent = []
    monkeypatch.setattr(services, "async_task", lambda func, *args, **kwargs: sent.append((func, *args)))
    return sent


def subscribe(user, **fields) -> AlertSubscription:
    data = {"target_kind": "stock", "target_ref": "RELIANCE.NS", "trigger": "verdict", "channel": "email", **fields}
    return services.save_subscription(user=user, data=data)


def failed_delivery(user, receiver, settings) -> AlertDelivery:
    """A webhook delivery that used up every attempt against a receiver answering 500."""
    settings.THETOOL_ALERT_MAX_ATTEMPTS = 2
    receiver.fail_first = 2
    subscribe(user, channel="webhook", webhook_url=receiver.url)
    services.on_job_completed(job_id=make_flip().pk)
    delivery = AlertDelivery.objects.get()
    for expected in ("retry", "failed"):
        AlertDelivery.objects.filter(pk=delivery.pk).update(next_attempt_at=delivery.created_at)
        assert services.send_delivery(delivery_id=delivery.pk) == expected
    delivery.refresh_from_db()
    return delivery


def test_subscriptions_are_listed_readably_and_never_show_the_webhook_secret(admin_client, alice, enqueued):
    hook = subscribe(alice, channel="webhook", webhook_url="https://hooks.example.com/x?token=1", strategy_id=5)
    subscribe(alice, target_kind="all", target_ref="", trigger="score", threshold=0.5)
    page = admin_client.get(SUBSCRIPTIONS).content.decode()
    assert "A stock RELIANCE.NS" in page and "All stocks" in page
    assert "score crosses +0.50" in page and "verdict changes" in page
    assert "hooks.example.com" in page and "alice@example.com (account)" in page
    assert "Weekly" in page or "any" in page
    change = admin_client.get(reverse("admin:alerts_alertsubscription_change", args=[hook.pk])).content.decode()
    assert hook.webhook_secret not in page and hook.webhook_secret not in change


def test_staff_can_pause_and_resume_a_subscription_and_change_nothing_else(admin_client, alice, enqueued):
    subscription = subscribe(alice)
    admin_client.post(SUBSCRIPTIONS, {"action": "pause", "_selected_action": [subscription.pk]})
    subscription.refresh_from_db()
    assert subscription.is_active is False
    admin_client.post(SUBSCRIPTIONS, {"action": "resume", "_selected_action": [subscription.pk]})
    subscription.refresh_from_db()
    assert subscription.is_active is True
    # The change form edits is_active only: a posted target or channel is ignored.
    url = reverse("admin:alerts_alertsubscription_change", args=[subscription.pk])
    admin_client.post(url, {"is_active": "", "target_ref": "TCS.NS", "channel": "webhook"})
    subscription.refresh_from_db()
    assert (subscription.is_active, subscription.target_ref, subscription.channel) == (False, "RELIANCE.NS", "email")


def test_a_failed_delivery_is_shown_with_its_error_and_can_be_sent_again(
    admin_client, alice, receiver, settings, enqueued
):
    delivery = failed_delivery(alice, receiver, settings)
    page = admin_client.get(DELIVERIES).content.decode()
    assert '<strong style="color:#b00">Failed</strong>' in page
    assert "Buy → Sell (+0.35 → -0.40)" in page and "500" in page
    assert admin_client.get(DELIVERIES, {"status__exact": "failed"}).context["cl"].result_count == 1

    response = admin_client.post(DELIVERIES, {"action": "send_again", "_selected_action": [delivery.pk]}, follow=True)
    assert "1 delivery(ies) queued to be sent again." in response.content.decode()
    delivery.refresh_from_db()
    assert delivery.status == DeliveryStatus.PENDING and delivery.attempts == 2  # the count is kept
    assert enqueued[-1] == ("alerts.tasks.send_alert_delivery", delivery.pk)
    # One more attempt, now: the receiver answers this time.
    assert services.send_delivery(delivery_id=delivery.pk) == "sent"
    delivery.refresh_from_db()
    assert (delivery.status, delivery.attempts, delivery.last_error) == ("sent", 3, "")
    assert len(receiver.requests) == 3


def test_send_again_leaves_deliveries_that_did_not_fail_alone(admin_client, alice, settings, enqueued):
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    subscribe(alice)
    services.on_job_completed(job_id=make_flip().pk)
    delivery = AlertDelivery.objects.get()
    assert services.send_delivery(delivery_id=delivery.pk) == "sent"
    response = admin_client.post(DELIVERIES, {"action": "send_again", "_selected_action": [delivery.pk]}, follow=True)
    assert "0 delivery(ies) queued to be sent again. 1 not failed" in response.content.decode()
    delivery.refresh_from_db()
    assert delivery.status == DeliveryStatus.SENT and delivery.attempts == 1


def test_a_further_failure_after_send_again_gives_up_at_once(alice, receiver, settings, enqueued):
    delivery = failed_delivery(alice, receiver, settings)
    receiver.fail_first = 10
    assert services.resend_failed_deliveries(delivery_ids=[delivery.pk], by="test") == 1
    assert services.send_delivery(delivery_id=delivery.pk) == "failed"
    assert AlertDelivery.objects.get().status == DeliveryStatus.FAILED


def test_deliveries_are_read_only_and_send_again_needs_the_change_permission(client, alice, enqueued):
    subscribe(alice)
    services.on_job_completed(job_id=make_flip().pk)
    delivery = AlertDelivery.objects.get()
    staff = User.objects.create_user("ops", password="pw", is_staff=True)
    staff.user_permissions.add(Permission.objects.get(codename="view_alertdelivery"))
    client.force_login(staff)
    page = client.get(DELIVERIES)
    assert page.context["cl"].result_count == 1 and "send_again" not in page.content.decode()
    staff.user_permissions.add(Permission.objects.get(codename="change_alertdelivery"))
    assert "send_again" in client.get(DELIVERIES).content.decode()
    change = client.get(reverse("admin:alerts_alertdelivery_change", args=[delivery.pk])).content.decode()
    assert 'name="_save"' not in change  # viewing only
