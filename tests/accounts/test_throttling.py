"""Limits on job creation (charged per created job, never for a duplicate) and on reads."""

import pytest
from django.core.cache import caches
from django.core.cache.backends.locmem import LocMemCache

from jobs.models import AnalysisJob

CREATE = "/api/stocks/analyze-all-stocks"


@pytest.fixture
def rates(settings):
    def set_rates(**overrides):
        rates = {"job_create_user": "3/min", "job_create_anon": "3/min", "job_heavy": "1/min", "api_read": "100/min"}
        settings.REST_FRAMEWORK = {**settings.REST_FRAMEWORK, "DEFAULT_THROTTLE_RATES": {**rates, **overrides}}

    set_rates()
    return set_rates


def create(client, capital, **extra):
    body = {"symbols": ["RELIANCE.NS"], "capital": capital, **extra}
    return client.post(CREATE, body, content_type="application/json", **extra.pop("meta", {}))


def test_a_burst_from_one_user_gets_429_with_retry_after_after_the_limit(world, closed, client_as, rates):
    client = client_as(world["user"])
    assert [create(client, 100000 + i).status_code for i in range(3)] == [201, 201, 201]
    refused = create(client, 200000)
    assert refused.status_code == 429
    assert 1 <= int(refused["Retry-After"]) <= 60
    assert refused.json()["error"]["code"] == "throttled"
    assert AnalysisJob.objects.filter(requested_by_user=world["user"]).exclude(pk=world["job"].pk).count() == 3


def test_duplicates_cost_nothing_and_are_never_throttled(world, closed, client_as, rates):
    client = client_as(world["user"])
    assert create(client, 100000).status_code == 201
    assert {create(client, 100000).status_code for _ in range(10)} == {200}
    assert [create(client, 100001 + i).status_code for i in range(2)] == [201, 201]
    # At the limit, a duplicate is still answered with the running job.
    assert create(client, 100000).status_code == 200
    assert create(client, 300000).status_code == 429


def test_each_user_has_their_own_limit(world, closed, client_as, rates, client):
    rates(job_create_user="1/min")
    assert create(client_as(world["user"]), 100000).status_code == 201
    assert create(client, 100001).status_code == 429  # still alice's session
    client.logout()
    assert create(client_as(world["other"]), 100002).status_code == 201


def test_anonymous_clients_are_limited_per_address_when_open(world, client, rates):
    rates(job_create_anon="1/min")
    assert create(client, 100000).status_code == 201
    assert create(client, 100001).status_code == 429
    other_address = client.post(
        CREATE, {"symbols": ["RELIANCE.NS"], "capital": 100002}, content_type="application/json", REMOTE_ADDR="10.0.0.2"
    )
    assert other_address.status_code == 201


def test_a_forged_forwarded_for_header_does_not_reset_the_anonymous_limit(world, client, rates):
    rates(job_create_anon="1/min")
    assert create(client, 100000).status_code == 201
    forged = client.post(
        CREATE,
        {"symbols": ["RELIANCE.NS"], "capital": 100001},
        content_type="application/json",
        headers={"X-Forwarded-For": "203.0.113.9"},
    )
    assert forged.status_code == 429


@pytest.mark.parametrize("heavy", [{"force": True}, {"symbols": []}], ids=["force", "all-stocks"])
def test_forced_and_full_universe_jobs_have_a_stricter_limit(world, closed, client_as, rates, heavy):
    client = client_as(world["user"])
    first = client.post(CREATE, {"symbols": ["RELIANCE.NS"], **heavy}, content_type="application/json")
    assert first.status_code == 201
    second = client.post(
        CREATE, {"symbols": ["RELIANCE.NS"], "capital": 5000, **heavy}, content_type="application/json"
    )
    assert second.status_code == 429
    assert "job_heavy" in second.json()["error"]["message"]
    # An ordinary job still fits in the per-user limit.
    assert create(client, 123456).status_code == 201


def test_a_throttled_page_request_says_so_and_creates_nothing(world, closed, client_as, rates):
    rates(job_create_user="0/min")
    client = client_as(world["user"])
    response = client.post(
        "/analyze/",
        {"action": "selected", "symbols": ["RELIANCE.NS"], "capital": "100000", "strategy": "1"},
        follow=True,
    )
    assert "Too many new jobs" in response.content.decode()
    assert not AnalysisJob.objects.filter(requested_by_user=world["user"]).exclude(pk=world["job"].pk).exists()


def test_reads_are_limited_generously_with_retry_after(world, closed, client_as, rates):
    rates(api_read="2/min")
    client = client_as(world["user"])
    assert [client.get("/api/jobs/").status_code for _ in range(2)] == [200, 200]
    refused = client.get("/api/jobs/")
    assert refused.status_code == 429 and "Retry-After" in refused
    assert refused.json()["error"]["code"] == "throttled"


def test_counters_live_in_a_cache_every_process_shares():
    assert not isinstance(caches["default"], LocMemCache)
