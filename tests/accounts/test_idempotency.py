"""Idempotency-Key on job creation: replay, 422 on a different body, 409 while in progress, scoped, expiring."""

import threading
from datetime import timedelta
from unittest import mock

import pytest
from django.db import connection
from django.test import Client
from django.utils import timezone

from jobs import views
from jobs.idempotency import ABANDONED_AFTER_SECONDS, _fingerprint
from jobs.models import AnalysisJob, IdempotencyRecord

CREATE = "/api/stocks/analyze-all-stocks"
BODY = {"symbols": ["RELIANCE.NS"]}


def create(client, body=BODY, key="key-1"):
    headers = {"Idempotency-Key": key} if key else {}
    return client.post(CREATE, body, content_type="application/json", headers=headers)


def test_the_same_key_and_body_replays_the_first_answer(world, closed, client_as):
    client = client_as(world["user"])
    first = create(client)
    again = create(client)
    assert first.status_code == again.status_code == 201
    assert again.json() == first.json()
    assert again["Idempotent-Replayed"] == "true"
    assert AnalysisJob.objects.filter(symbols=["RELIANCE.NS"]).count() == 1


def test_a_replay_is_the_first_answer_even_after_the_job_changed(world, closed, client_as):
    client = client_as(world["user"])
    first = create(client).json()
    AnalysisJob.objects.filter(pk=first["job_id"]).update(status="cancelled")
    assert create(client).json()["status"] == "queued"
    # Without the key, deduplication decides as always: the job is gone, a new one starts.
    assert create(client, key=None).status_code == 201


def test_the_same_key_with_a_different_body_is_422_and_changes_nothing(world, closed, client_as):
    client = client_as(world["user"])
    create(client)
    count = AnalysisJob.objects.count()
    response = create(client, body={"symbols": ["TCS.NS"]})
    assert response.status_code == 422
    assert response.json()["error"]["code"] == "idempotency_key_reused"
    assert AnalysisJob.objects.count() == count


def _in_progress_record(user, **fields) -> IdempotencyRecord:
    same_request = mock.Mock(method="POST", path=CREATE, data=BODY)
    return IdempotencyRecord.objects.create(
        scope=f"user:{user.pk}", key="key-1", fingerprint=_fingerprint(same_request), **fields
    )


def test_the_same_key_while_the_first_is_being_decided_is_409(world, closed, client_as):
    _in_progress_record(world["user"])
    response = create(client_as(world["user"]))
    assert response.status_code == 409
    assert response.json()["error"]["code"] == "idempotency_key_in_use"
    assert not AnalysisJob.objects.filter(symbols=["RELIANCE.NS"]).exists()


def test_a_key_whose_first_request_died_is_taken_over(world, closed, client_as):
    record = _in_progress_record(world["user"])
    IdempotencyRecord.objects.filter(pk=record.pk).update(
        created_at=timezone.now() - timedelta(seconds=ABANDONED_AFTER_SECONDS + 1)
    )
    assert create(client_as(world["user"])).status_code == 201


def test_keys_are_scoped_to_the_user(world, closed, client_as, client):
    alice = create(client_as(world["user"]), body={"symbols": ["RELIANCE.NS"], "capital": 1000}).json()
    client.logout()
    bob = create(client_as(world["other"]), body={"symbols": ["TCS.NS"], "capital": 2000})
    assert bob.status_code == 201
    assert bob.json()["job_id"] != alice["job_id"]


def test_keys_expire_after_the_configured_time(world, closed, client_as, settings):
    client = client_as(world["user"])
    first = create(client).json()
    AnalysisJob.objects.filter(pk=first["job_id"]).update(status="completed")
    IdempotencyRecord.objects.update(
        created_at=timezone.now() - timedelta(seconds=settings.THETOOL_IDEMPOTENCY_KEY_TTL_SECONDS + 1)
    )
    again = create(client)
    assert again.status_code == 201
    assert again.json()["job_id"] != first["job_id"]


def test_a_refused_request_forgets_its_key(world, closed, client_as):
    client = client_as(world["user"])
    assert create(client, body={"symbols": ["NOT A SYMBOL!"]}).status_code == 400
    assert not IdempotencyRecord.objects.exists()
    assert create(client, body=BODY).status_code == 201


def test_a_malformed_key_is_400(world, closed, client_as):
    response = create(client_as(world["user"]), key="x" * 300)
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "invalid_idempotency_key"
    assert not AnalysisJob.objects.filter(symbols=["RELIANCE.NS"]).exists()


def _post_in_thread(user, results, index, start=None):
    try:
        client = Client()
        client.force_login(user)
        if start is not None:
            start.wait(timeout=10)
        results[index] = create(client)
    finally:
        connection.close()


@pytest.mark.django_db(transaction=True)
def test_two_concurrent_requests_with_one_key_make_one_job(world, settings):
    settings.THETOOL_OPEN_ACCESS = False
    results = [None, None]
    start = threading.Barrier(2)
    threads = [threading.Thread(target=_post_in_thread, args=(world["user"], results, i, start)) for i in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    statuses = sorted(r.status_code for r in results)
    assert statuses in ([201, 201], [201, 409]), statuses
    assert AnalysisJob.objects.filter(symbols=["RELIANCE.NS"]).count() == 1
    if statuses == [201, 201]:
        assert results[0].json() == results[1].json()


@pytest.mark.django_db(transaction=True)
def test_a_retry_while_the_first_request_is_still_running_gets_409_then_the_replay(world, settings):
    settings.THETOOL_OPEN_ACCESS = False
    deciding, release = threading.Event(), threading.Event()
    real = views.request_job_for_client

    def slow_first_decision(**kwargs):
        deciding.set()
        release.wait(timeout=30)
        return real(**kwargs)

    results = [None]
    with mock.patch.object(views, "request_job_for_client", side_effect=slow_first_decision):
        first = threading.Thread(target=_post_in_thread, args=(world["user"], results, 0))
        first.start()
        assert deciding.wait(timeout=30)
        client = Client()
        client.force_login(world["user"])
        retry = create(client)
        release.set()
        first.join(timeout=60)
    assert retry.status_code == 409
    assert retry.json()["error"]["code"] == "idempotency_key_in_use"
    assert results[0].status_code == 201
    replay = create(client)
    assert replay.status_code == 201 and replay.json() == results[0].json()


def test_anonymous_open_access_keys_are_scoped_to_the_address(world, client):
    first = create(client)
    assert first.status_code == 201
    assert create(client).json() == first.json()
    elsewhere = client.post(
        CREATE,
        {"symbols": ["TCS.NS"]},
        content_type="application/json",
        headers={"Idempotency-Key": "key-1"},
        REMOTE_ADDR="10.0.0.2",
    )
    assert elsewhere.status_code == 201
