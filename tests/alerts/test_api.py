"""/api/alerts/: a signed-in user's subscriptions (CRUD) and delivery log, in the one error shape."""

import pytest
from django.contrib.auth import get_user_model

from alerts import services
from alerts.models import AlertDelivery, AlertSubscription
from tests.alerts.conftest import make_flip

pytestmark = pytest.mark.django_db

STOCK_EMAIL = {"target_kind": "stock", "target_ref": "reliance", "trigger": "verdict", "channel": "email"}


@pytest.fixture
def api(client, alice):
    client.force_login(alice)
    return client


def post(client, url, body):
    return client.post(url, body, content_type="application/json")


def test_a_user_subscribes_lists_changes_and_unsubscribes(api):
    created = post(api, "/api/alerts/", STOCK_EMAIL)
    assert created.status_code == 201, created.json()
    body = created.json()
    assert body["target_ref"] == "RELIANCE.NS" and len(body["webhook_secret"]) == 64
    assert [s["id"] for s in api.get("/api/alerts/").json()["results"]] == [body["id"]]
    patched = api.patch(f"/api/alerts/{body['id']}/", {"is_active": False}, content_type="application/json")
    assert patched.status_code == 200 and patched.json()["is_active"] is False
    assert api.delete(f"/api/alerts/{body['id']}/").status_code == 204
    assert not AlertSubscription.objects.exists()


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({**STOCK_EMAIL, "trigger": "score"}, "threshold"),
        ({**STOCK_EMAIL, "channel": "webhook"}, "webhook_url"),
        ({**STOCK_EMAIL, "target_kind": "watchlist", "target_ref": ""}, "target_ref"),
    ],
)
def test_a_subscription_missing_a_needed_field_is_a_400_that_creates_nothing(api, body, field):
    response = post(api, "/api/alerts/", body)
    assert response.status_code == 400
    assert response.json()["error"]["details"] == {"field": field}
    assert not AlertSubscription.objects.exists()


def test_an_unknown_choice_is_a_400_in_the_error_shape(api):
    response = post(api, "/api/alerts/", {**STOCK_EMAIL, "channel": "pigeon"})
    assert response.status_code == 400
    assert set(response.json()["error"]) == {"code", "message", "details"}


def test_alerts_need_a_signed_in_user_even_with_open_access(client, settings):
    settings.THETOOL_OPEN_ACCESS = True
    assert client.get("/api/alerts/").status_code == 401
    assert post(client, "/api/alerts/", STOCK_EMAIL).status_code == 401


def test_another_users_subscription_is_not_found(api, alice):
    bob = get_user_model().objects.create_user("bob", email="bob@example.com")
    theirs = services.save_subscription(user=bob, data={**STOCK_EMAIL})
    assert api.get(f"/api/alerts/{theirs.pk}/").status_code == 404
    assert api.delete(f"/api/alerts/{theirs.pk}/").status_code == 404
    assert AlertSubscription.objects.filter(pk=theirs.pk).exists()


def test_the_delivery_log_shows_only_the_users_deliveries(api, alice, settings):
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    bob = get_user_model().objects.create_user("bob", email="bob@example.com")
    services.save_subscription(user=alice, data={**STOCK_EMAIL})
    services.save_subscription(user=bob, data={**STOCK_EMAIL})
    services.on_job_completed(job_id=make_flip().pk)
    services.send_due_deliveries()
    assert AlertDelivery.objects.count() == 2
    (row,) = api.get("/api/alerts/deliveries/").json()["results"]
    assert row["status"] == "sent" and row["change"]["new_verdict"] == "Sell"


def test_the_alerts_page_subscribes_and_shows_the_log(api, settings):
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    response = api.post("/alerts/", {"target_kind": "all", "trigger": "verdict", "channel": "email"})
    assert response.status_code == 302
    services.on_job_completed(job_id=make_flip().pk)
    services.send_due_deliveries()
    page = api.get("/alerts/").content.decode()
    assert "All stocks" in page and "Buy → Sell (+0.35 → -0.40)" in page and "sent" in page


def test_the_alerts_page_offers_strategies_by_name_and_refuses_an_unknown_one(api):
    page = api.get("/alerts/").content.decode()
    assert '<option value="2">2. Trend Following</option>' in page
    assert '<option value="stock" selected>A stock</option>' in page  # no empty "---------" to start from
    refused = api.post("/alerts/", {**STOCK_EMAIL, "strategy_id": "9"})
    assert refused.status_code == 400 and "Select a valid choice" in refused.content.decode()
    assert not AlertSubscription.objects.exists()
    assert api.post("/alerts/", {**STOCK_EMAIL, "strategy_id": "2"}).status_code == 302
    assert AlertSubscription.objects.get().strategy_id == 2


def test_the_alerts_page_shows_a_broken_rule_next_to_its_field(api):
    response = api.post(
        "/alerts/", {"target_kind": "stock", "target_ref": "", "trigger": "verdict", "channel": "email"}
    )
    assert response.status_code == 400
    assert "target_ref is required" in response.content.decode()
