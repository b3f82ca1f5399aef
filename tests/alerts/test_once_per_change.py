"""Each alert is sent once per change while several workers run the hook and the due loop at once.

Workers are threads on PostgreSQL and forked processes on SQLite (its lock is per process); all of
them run `on_job_completed` for the same job and then the due-deliveries loop, as a re-delivered
completion task and a busy scheduler would. The webhook receiver counts what arrives.
"""

import multiprocessing
import threading
from collections import Counter

import pytest
from django.db import connection, connections

from alerts import services
from alerts.models import AlertChange, AlertDelivery, DeliveryStatus
from tests.alerts.conftest import make_flip, make_job

pytestmark = pytest.mark.django_db(transaction=True)

WORKERS = 8


def run_worker(job_id) -> None:
    services.on_job_completed(job_id=job_id)
    services.send_due_deliveries()


@pytest.fixture
def world(alice, receiver):
    job = make_job(symbols=["RELIANCE.NS", "TCS.NS"], total=2)
    make_flip(symbol="RELIANCE.NS", job=job)
    make_flip(symbol="TCS.NS", before="Sell", after="Strong Buy", old_score=-0.3, new_score=0.8, job=job)
    for target_kind, target_ref in (("all", ""), ("stock", "TCS.NS")):
        services.save_subscription(
            user=alice,
            data={
                "target_kind": target_kind,
                "target_ref": target_ref,
                "channel": "webhook",
                "webhook_url": receiver.url,
            },
        )
    return job


def assert_each_change_sent_once(receiver):
    # all stocks x 2 changes + TCS x 1 change: three deliveries, each POSTed exactly once
    assert AlertChange.objects.count() == 2
    assert AlertDelivery.objects.count() == 3
    assert set(AlertDelivery.objects.values_list("status", flat=True)) == {DeliveryStatus.SENT}
    sent = Counter(payload["delivery_id"] for payload in receiver.payloads())
    assert sent == {pk: 1 for pk in AlertDelivery.objects.values_list("pk", flat=True)}


@pytest.mark.postgres
def test_concurrent_threads_on_postgresql_send_each_alert_once(world, receiver):
    assert connection.vendor == "postgresql"
    barrier = threading.Barrier(WORKERS)
    errors = []

    def worker():
        try:
            barrier.wait()
            run_worker(world.pk)
        except Exception as exc:  # surfaced below with the thread's error
            errors.append(repr(exc))
        finally:
            connection.close()

    threads = [threading.Thread(target=worker) for _ in range(WORKERS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert not errors, errors
    assert_each_change_sent_once(receiver)


def _process_worker(job_id, barrier, queue):
    try:
        barrier.wait()
        run_worker(job_id)
        queue.put("ok")
    except Exception as exc:
        queue.put(repr(exc))
    finally:
        connections.close_all()


@pytest.mark.sqlite
def test_concurrent_processes_on_sqlite_send_each_alert_once(world, receiver):
    assert connection.vendor == "sqlite"
    connections.close_all()  # children open their own connections to the shared test database file
    context = multiprocessing.get_context("fork")
    barrier, queue = context.Barrier(WORKERS), context.Queue()
    processes = [context.Process(target=_process_worker, args=(world.pk, barrier, queue)) for _ in range(WORKERS)]
    for process in processes:
        process.start()
    outcomes = [queue.get(timeout=120) for _ in processes]
    for process in processes:
        process.join(timeout=30)
    assert outcomes == ["ok"] * WORKERS, outcomes
    assert_each_change_sent_once(receiver)
