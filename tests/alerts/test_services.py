"""Alerts: what counts as a change, who is told, and how (email, signed webhook, retries)."""

import hashlib
import hmac
from datetime import timedelta

import pytest
from django.core import mail
from django.utils import timezone

from alerts import services
from alerts.models import AlertChange, AlertDelivery, AlertSubscription, DeliveryStatus
from tests.alerts.conftest import make_flip, make_job
from tests.factories import make_result

pytestmark = pytest.mark.django_db


def subscribe(user, **fields) -> AlertSubscription:
    data = {"target_kind": "stock", "target_ref": "RELIANCE.NS", "trigger": "verdict", "channel": "email", **fields}
    return services.save_subscription(user=user, data=data)


@pytest.mark.parametrize(
    ("old", "new", "fires"),
    [
        (0.2, 0.6, True),
        (0.6, 0.2, True),
        (0.49, 0.5, True),
        (0.5, 0.7, False),
        (0.6, 0.9, False),
        (0.1, 0.4, False),
        (0.4, 0.49, False),
    ],
)
def test_score_trigger_fires_only_when_the_threshold_is_crossed(old, new, fires):
    assert (
        services.is_triggered(
            trigger="score", threshold=0.5, old_verdict="Buy", new_verdict="Buy", old_score=old, new_score=new
        )
        is fires
    )


def test_verdict_trigger_fires_on_a_flip_and_not_on_the_same_verdict():
    kwargs = {"trigger": "verdict", "threshold": None, "old_score": 0.3, "new_score": 0.4}
    assert services.is_triggered(old_verdict="Buy", new_verdict="Sell", **kwargs)
    assert not services.is_triggered(old_verdict="Buy", new_verdict="Buy", **kwargs)


def test_a_flip_is_detected_against_the_previous_result_of_the_same_strategy(alice):
    make_result("RELIANCE.NS", verdict="Strong Sell", score=-0.8, strategy_id=2)  # another strategy: ignored
    job = make_flip(before="Buy", after="Sell")
    (change,) = services.detect_changes(job_id=job.pk)
    assert (change.symbol, change.old_verdict, change.new_verdict) == ("RELIANCE.NS", "Buy", "Sell")
    assert services.detect_changes(job_id=job.pk) == [change]  # a second run finds the same row
    assert AlertChange.objects.count() == 1


def test_an_unchanged_result_and_a_first_analysis_are_not_changes(alice):
    job = make_job()
    make_result("RELIANCE.NS", verdict="Buy", score=0.35)
    make_result("RELIANCE.NS", verdict="Buy", score=0.35, job=job)
    make_result("TCS.NS", verdict="Sell", score=-0.3, job=job)  # first analysis of TCS: nothing to compare
    assert services.detect_changes(job_id=job.pk) == []


def test_comparing_a_job_takes_the_same_queries_at_any_size_and_no_transaction_when_nothing_changed(alice):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    def queries_for(symbols: int) -> list[str]:
        job = make_job(symbols=[f"S{i}.NS" for i in range(symbols)], total=symbols)
        for i in range(symbols):
            make_result(f"S{i}.NS", verdict="Buy", score=0.35)
            make_result(f"S{i}.NS", verdict="Buy", score=0.35, job=job)
        with CaptureQueriesContext(connection) as captured:
            assert services.on_job_completed(job_id=job.pk) == 0
        return [q["sql"] for q in captured.captured_queries]

    small, large = queries_for(2), queries_for(40)
    # Was one query per symbol, inside a transaction: on SQLite the one write lock, held ~1.3 s for 2,192 symbols.
    assert len(small) == len(large) == 2 and all(sql.startswith("SELECT") for sql in large), large


def test_changes_are_recorded_from_the_compared_columns_without_reloading_any_result(alice):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    job = make_job(symbols=[f"S{i}.NS" for i in range(5)], total=5)
    for i in range(5):
        make_result(f"S{i}.NS", verdict="Buy", score=0.35)
        make_result(f"S{i}.NS", verdict="Sell", score=-0.4, job=job)
    with CaptureQueriesContext(connection) as captured:
        services.on_job_completed(job_id=job.pk)
    result_reads = [q["sql"] for q in captured.captured_queries if 'FROM "stocks_analysisresult"' in q["sql"]]
    assert len(result_reads) == 2, result_reads  # the pairs and their previous results, nothing per symbol
    assert AlertChange.objects.count() == 5
    change = AlertChange.objects.get(symbol="S3.NS")
    assert (change.old_verdict, change.new_verdict, change.old_score, change.new_score) == ("Buy", "Sell", 0.35, -0.4)
    assert change.job_id == job.pk and change.result.job_id == job.pk and change.previous_result.job_id != job.pk


def test_the_hook_emails_a_stock_subscriber_once(alice, settings, django_capture_on_commit_callbacks):
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    subscribe(alice)
    job = make_flip()
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        assert services.on_job_completed(job_id=job.pk) == 1
        assert services.on_job_completed(job_id=job.pk) == 0  # the hook run twice creates nothing new
    assert len(callbacks) == 1
    delivery = AlertDelivery.objects.get()
    assert services.send_delivery(delivery_id=delivery.pk) == "sent"
    assert services.send_delivery(delivery_id=delivery.pk) == "not claimed"
    assert len(mail.outbox) == 1
    assert mail.outbox[0].to == ["alice@example.com"]
    assert "RELIANCE.NS" in mail.outbox[0].subject and "Buy -> Sell" in mail.outbox[0].body


def test_subscriptions_to_other_stocks_strategies_or_thresholds_get_nothing(alice):
    subscribe(alice, target_ref="TCS.NS")
    subscribe(alice, strategy_id=3)
    subscribe(alice, trigger="score", threshold=0.9)
    everything = subscribe(alice, target_kind="all", target_ref="")
    services.on_job_completed(job_id=make_flip().pk)
    assert list(AlertDelivery.objects.values_list("subscription", flat=True)) == [everything.pk]


def test_watchlist_subscriptions_use_the_registered_resolver(alice, monkeypatch):
    monkeypatch.setattr(services, "_TARGET_RESOLVERS", {})
    watching = subscribe(alice, target_kind="watchlist", target_ref="7")
    services.on_job_completed(job_id=make_flip().pk)
    assert not AlertDelivery.objects.exists()  # no resolver registered: a watchlist covers nothing
    services.register_target_resolver(kind="watchlist", resolve=lambda ref: {"RELIANCE.NS"} if ref == "7" else set())
    services.on_job_completed(job_id=make_flip().pk)
    assert AlertDelivery.objects.get().subscription == watching


def test_a_webhook_is_a_json_post_signed_with_the_subscription_secret(alice, receiver):
    subscription = subscribe(alice, channel="webhook", webhook_url=receiver.url)
    services.on_job_completed(job_id=make_flip().pk)
    delivery = AlertDelivery.objects.get()
    assert services.send_delivery(delivery_id=delivery.pk) == "sent"
    (request,) = receiver.requests
    expected = hmac.new(subscription.webhook_secret.encode(), request["body"], hashlib.sha256).hexdigest()
    assert request["headers"]["x-thetool-signature"] == f"sha256={expected}"
    assert request["headers"]["x-thetool-delivery"] == str(delivery.pk)
    payload = receiver.payloads()[0]
    assert (payload["symbol"], payload["old_verdict"], payload["new_verdict"]) == ("RELIANCE.NS", "Buy", "Sell")
    delivery.refresh_from_db()
    assert (delivery.status, delivery.response_status, delivery.attempts) == ("sent", 204, 1)


def test_a_failed_webhook_is_retried_with_exponential_backoff_then_given_up(alice, receiver, settings):
    settings.THETOOL_ALERT_RETRY_BASE_SECONDS = 30
    settings.THETOOL_ALERT_MAX_ATTEMPTS = 3
    receiver.fail_first = 10
    subscribe(alice, channel="webhook", webhook_url=receiver.url)
    services.on_job_completed(job_id=make_flip().pk)
    delivery = AlertDelivery.objects.get()
    delays = []
    for expected in ("retry", "retry", "failed"):
        before = timezone.now()
        assert services.send_delivery(delivery_id=delivery.pk) == expected
        delivery.refresh_from_db()
        delays.append(round((delivery.next_attempt_at - before).total_seconds() / 30))
        assert services.send_delivery(delivery_id=delivery.pk) == "not claimed"  # not due yet
        AlertDelivery.objects.filter(pk=delivery.pk).update(next_attempt_at=timezone.now())
    assert delays[:2] == [1, 2]
    assert delivery.status == DeliveryStatus.FAILED and delivery.attempts == 3
    assert "500" in delivery.last_error and len(receiver.requests) == 3


def test_the_due_loop_sends_a_retry_once_its_time_has_come(alice, receiver):
    receiver.fail_first = 1
    subscribe(alice, channel="webhook", webhook_url=receiver.url)
    services.on_job_completed(job_id=make_flip().pk)
    assert services.send_due_deliveries() == 0  # first attempt: 500
    AlertDelivery.objects.update(next_attempt_at=timezone.now() - timedelta(seconds=1))
    assert services.send_due_deliveries() == 1
    assert AlertDelivery.objects.get().status == DeliveryStatus.SENT


def test_a_claim_held_by_a_dead_worker_is_taken_over_after_it_expires(alice, settings):
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    subscribe(alice)
    services.on_job_completed(job_id=make_flip().pk)
    delivery = AlertDelivery.objects.get()
    assert services.claim_delivery(delivery_id=delivery.pk) == 1  # a worker claims, then dies
    assert services.send_delivery(delivery_id=delivery.pk) == "not claimed"
    AlertDelivery.objects.update(claimed_until=timezone.now() - timedelta(seconds=1))
    assert services.send_delivery(delivery_id=delivery.pk) == "sent"
    assert len(mail.outbox) == 1


@pytest.mark.parametrize(
    ("fields", "field"),
    [
        ({"trigger": "score"}, "threshold"),
        ({"channel": "webhook"}, "webhook_url"),
        ({"channel": "webhook", "webhook_url": "ftp://example.com/x"}, "webhook_url"),
        ({"target_ref": ""}, "target_ref"),
    ],
)
def test_a_subscription_missing_what_its_rule_needs_is_refused(alice, fields, field):
    with pytest.raises(services.InvalidSubscription) as raised:
        subscribe(alice, **fields)
    assert raised.value.details == {"field": field}
    assert not AlertSubscription.objects.exists()


def test_a_stock_target_is_normalised_to_its_yahoo_symbol(alice):
    assert subscribe(alice, target_ref=" reliance ").target_ref == "RELIANCE.NS"


def test_a_real_watchlist_subscription_covers_exactly_the_watchlists_stocks(alice):
    from watchlists.services import create_watchlist

    watchlist = create_watchlist(owner=alice, name="Mine", symbols=["RELIANCE.NS"])
    watching = subscribe(alice, target_kind="watchlist", target_ref=str(watchlist.pk))
    services.on_job_completed(job_id=make_flip(symbol="TCS.NS").pk)
    assert not AlertDelivery.objects.exists()  # TCS is not on the list
    services.on_job_completed(job_id=make_flip(symbol="RELIANCE.NS").pk)
    assert AlertDelivery.objects.get().subscription == watching
