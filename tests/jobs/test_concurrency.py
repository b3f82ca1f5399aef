"""50 identical requests at once create exactly one job, on PostgreSQL (threads) and SQLite (processes)."""

import multiprocessing
import threading

import pytest
from django.db import connection, connections
from django.test import Client

from jobs.models import AnalysisJob

pytestmark = pytest.mark.django_db(transaction=True)

CLIENTS = 50
BODY = {"symbols": ["20MICRONS.NS", "RELIANCE.NS"], "capital": 100000}


def post_once() -> tuple[int, str]:
    response = Client().post("/api/stocks/analyze-all-stocks", BODY, content_type="application/json")
    body = response.json()
    return response.status_code, body.get("job_id") or str(body)


def assert_exactly_one_job(answers: list[tuple[int, str]]):
    statuses = sorted(status for status, _ in answers)
    assert all(status < 500 for status in statuses), statuses
    assert statuses.count(201) == 1 and statuses.count(200) == CLIENTS - 1, statuses
    job = AnalysisJob.objects.get()
    assert {job_id for _, job_id in answers} == {str(job.pk)}
    assert job.duplicate_count == CLIENTS - 1


@pytest.mark.postgres
def test_fifty_concurrent_threads_on_postgresql_create_one_job():
    assert connection.vendor == "postgresql"
    barrier = threading.Barrier(CLIENTS)
    answers, errors = [], []

    def worker():
        try:
            barrier.wait()
            answers.append(post_once())
        except Exception as exc:  # surfaced below, with the failing thread's error
            errors.append(repr(exc))
        finally:
            connection.close()  # each thread has its own connection; the test database must be droppable

    threads = [threading.Thread(target=worker) for _ in range(CLIENTS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert not errors, errors
    assert_exactly_one_job(answers)


def _process_worker(barrier, queue):
    # The parent closed its connections before forking: each child opens its own.
    try:
        barrier.wait()
        queue.put(post_once())
    except Exception as exc:
        queue.put((-1, repr(exc)))
    finally:
        connections.close_all()


@pytest.mark.sqlite
def test_fifty_concurrent_processes_on_sqlite_create_one_job():
    assert connection.vendor == "sqlite"
    connections.close_all()  # children open their own connections to the shared test database file
    context = multiprocessing.get_context("fork")
    barrier, queue = context.Barrier(CLIENTS), context.Queue()
    processes = [context.Process(target=_process_worker, args=(barrier, queue)) for _ in range(CLIENTS)]
    for process in processes:
        process.start()
    answers = [queue.get(timeout=120) for _ in processes]
    for process in processes:
        process.join(timeout=30)
    assert all(status != -1 for status, _ in answers), answers
    assert_exactly_one_job(answers)
