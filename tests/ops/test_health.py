"""/healthz and /readyz: what a load balancer and Kubernetes probes see."""

from datetime import timedelta
from unittest import mock

import pytest
from django.db import OperationalError
from django.test import Client
from django.utils import timezone

from jobs.models import JobStatus, WorkerProcess
from tests.ops.conftest import make_job, record_reaper_run


@pytest.fixture
def client():
    return Client()


def test_healthz_answers_without_touching_the_database(client):
    # No django_db mark: pytest-django refuses any query, so a 200 proves the process alone answered.
    response = client.get("/healthz")
    assert response.status_code == 200
    assert response.json() == {"status": "ok"}
    assert response["Cache-Control"].startswith("max-age=0")


@pytest.mark.django_db
def test_readyz_is_200_with_database_broker_and_a_live_worker_that_ran_the_reaper(client, settings):
    settings.THETOOL_JOB_STALE_SECONDS = 60
    record_reaper_run(seconds_ago=30)
    make_job(status=JobStatus.QUEUED, age_seconds=10)
    make_job(status=JobStatus.QUEUED, age_seconds=600)  # never picked up: stale
    make_job(status=JobStatus.COMPLETED, age_seconds=900)

    response = client.get("/readyz")

    assert response.status_code == 200, response.content
    body = response.json()
    assert body["status"] == "ready"
    assert body["database"]["ok"] and body["broker"]["ok"] and body["cluster"]["ok"]
    assert 29 <= body["cluster"]["reaper_last_run_age_seconds"] < 120
    assert body["jobs"]["queued"] == 2
    assert body["jobs"]["stale"] == 1
    assert 599 <= body["jobs"]["oldest_queued_age_seconds"] < 700


@pytest.mark.django_db
def test_readyz_is_503_when_no_worker_is_registered(client):
    response = client.get("/readyz")

    assert response.status_code == 503
    assert response["Retry-After"] == "10"
    error = response.json()["error"]
    assert error["code"] == "not_ready"
    assert error["message"] == "Not ready: cluster failing"
    assert error["details"]["cluster"]["ok"] is False
    assert error["details"]["cluster"]["reaper_last_run"] is None
    assert error["details"]["database"]["ok"] is True


@pytest.mark.django_db
def test_readyz_is_503_when_the_reaper_last_ran_too_long_ago(client, settings):
    settings.THETOOL_READY_REAPER_MAX_AGE_SECONDS = 180
    record_reaper_run(seconds_ago=600)
    assert client.get("/readyz").status_code == 503
    record_reaper_run(seconds_ago=60)
    assert client.get("/readyz").status_code == 200


@pytest.mark.django_db
def test_readyz_counts_only_workers_seen_recently_and_not_stopped(client, settings):
    settings.THETOOL_WORKER_ALIVE_SECONDS = 30
    record_reaper_run(seconds_ago=5, seen_seconds_ago=45)  # killed: not seen for longer than the limit
    record_reaper_run(seconds_ago=5, seen_seconds_ago=2, stopped_at=timezone.now())  # stopped cleanly
    response = client.get("/readyz")
    assert response.status_code == 503
    assert response.json()["error"]["details"]["cluster"]["workers_alive"] == 0

    record_reaper_run(seconds_ago=5, seen_seconds_ago=2, processes=3)
    body = client.get("/readyz").json()
    assert body["status"] == "ready"
    assert (body["cluster"]["workers_alive"], body["cluster"]["processes"]) == (1, 3)


@pytest.mark.django_db
def test_readyz_waits_for_a_young_workers_first_reaper_pass_but_not_an_old_ones(client, settings):
    settings.THETOOL_READY_REAPER_MAX_AGE_SECONDS = 180
    now = timezone.now()
    young = record_reaper_run(started_at=now - timedelta(seconds=20), last_reap_at=None)
    assert client.get("/readyz").status_code == 200, "a worker 20 s old has not had the time to reap yet"

    WorkerProcess.objects.filter(pk=young.pk).update(started_at=now - timedelta(seconds=600))
    response = client.get("/readyz")
    assert response.status_code == 503, "a worker 10 min old whose reaper never finished is not ready"
    assert response.json()["error"]["details"]["cluster"]["reaper_on_time"] is False


@pytest.mark.django_db
def test_readyz_does_not_name_worker_hosts(client):
    record_reaper_run(host="worker-host-secret.internal")
    assert "worker-host-secret" not in client.get("/readyz").content.decode()


@pytest.mark.django_db
def test_readyz_is_503_when_the_database_is_down(client):
    record_reaper_run()
    with mock.patch("thetool.health.connection.cursor", side_effect=OperationalError("could not connect to server")):
        response = client.get("/readyz")

    assert response.status_code == 503
    details = response.json()["error"]["details"]
    assert details["database"] == {"ok": False, "error": "OperationalError: could not connect to server"}
    assert details["cluster"]["ok"] is False
    assert details["jobs"] is None


@pytest.mark.django_db
def test_readyz_is_503_when_the_broker_does_not_answer(client):
    record_reaper_run()
    broker = mock.Mock()
    broker.ping.side_effect = ConnectionError("Error 111 connecting to redis")
    with mock.patch("django_q.brokers.get_broker", return_value=broker):
        response = client.get("/readyz")

    assert response.status_code == 503
    assert response.json()["error"]["message"] == "Not ready: broker failing"


@pytest.mark.django_db
def test_probes_reveal_no_secrets(client, settings):
    record_reaper_run()
    text = client.get("/readyz").content.decode()
    assert settings.SECRET_KEY not in text
    assert settings.DATABASES["default"]["NAME"] not in text
    if settings.DATABASES["default"].get("PASSWORD"):
        assert settings.DATABASES["default"]["PASSWORD"] not in text


@pytest.mark.django_db
def test_probes_stay_public_when_the_site_requires_a_login(client, settings):
    settings.MIDDLEWARE = [*settings.MIDDLEWARE, "django.contrib.auth.middleware.LoginRequiredMiddleware"]
    record_reaper_run()
    assert client.get("/jobs/").status_code == 302, (
        "the login requirement must be in force for this test to mean anything"
    )
    assert client.get("/healthz").status_code == 200
    assert client.get("/readyz").status_code == 200
    assert client.get("/metrics", REMOTE_ADDR="127.0.0.1").status_code == 200


def test_an_alive_limit_shorter_than_two_reaper_ticks_is_refused(settings):
    from django.core import checks

    settings.THETOOL_REAPER_INTERVAL_SECONDS = 10
    settings.THETOOL_WORKER_ALIVE_SECONDS = 15
    assert "jobs.E004" in [m.id for m in checks.run_checks()]
    settings.THETOOL_WORKER_ALIVE_SECONDS = 20
    assert "jobs.E004" not in [m.id for m in checks.run_checks()]
