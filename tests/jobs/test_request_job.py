"""The deduplication decision of jobs.services.request_analysis_job, with a frozen clock."""

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
import time_machine
from django.db import OperationalError
from django_q.models import OrmQ

from jobs import services
from jobs.models import AnalysisJob, JobStatus
from stocks.exceptions import InvalidSymbol, InvalidTradeParameters, UnknownStrategy
from stocks.models import Stock
from thetool.exceptions import ServiceUnavailable

pytestmark = pytest.mark.django_db(transaction=True)

T0 = datetime(2026, 11, 30, 4, 0, tzinfo=UTC)


def request(**kwargs):
    kwargs.setdefault("symbols", ["20MICRONS.NS"])
    return services.request_analysis_job(**kwargs)


def test_first_request_creates_an_enqueued_job():
    job, created = request()
    assert created
    assert job.status == JobStatus.QUEUED
    assert job.symbols == ["20MICRONS.NS"] and job.total == 1
    assert job.enqueued and job.task_id
    assert OrmQ.objects.count() == 1


def test_second_request_returns_the_running_job_and_counts_the_duplicate():
    first, _ = request()
    second, created = request()
    assert not created
    assert second.pk == first.pk
    assert second.duplicate_count == 1 and second.last_duplicate_at is not None
    assert AnalysisJob.objects.count() == 1
    assert OrmQ.objects.count() == 1, "a duplicate must not enqueue another task"


def test_permutations_case_and_bare_symbols_are_the_same_analysis():
    first, _ = request(symbols=["TCS.NS", "reliance", " INFY.NS "])
    second, created = request(symbols=["infy", "RELIANCE.NS", "tcs.ns", "TCS"])
    assert not created and second.pk == first.pk
    assert first.symbols == ["INFY.NS", "RELIANCE.NS", "TCS.NS"]


@pytest.mark.parametrize(
    "change",
    [
        {"symbols": ["20MICRONS.NS", "TCS.NS"]},
        {"capital": 250000},
        {"strategy_id": 2},
        {"risk_percent": 1},
        {"max_position_percent": 10},
    ],
)
def test_a_different_parameter_is_a_different_job(change):
    first, _ = request()
    second, created = request(**change)
    assert created and second.pk != first.pk
    assert AnalysisJob.objects.filter(status=JobStatus.QUEUED).count() == 2


def test_equal_numbers_in_other_spellings_are_the_same_analysis():
    first, _ = request(capital=100000)
    second, created = request(capital="100000.00", max_position_percent=20)  # 20 is strategy 1's own default
    assert not created and second.pk == first.pk


def test_force_creates_a_new_job_and_cancels_the_one_it_supersedes():
    first, _ = request()
    second, created = request(force=True)
    assert created and second.pk != first.pk
    first.refresh_from_db()
    assert first.status == JobStatus.CANCELLED
    assert first.superseded_by_id == second.pk
    assert "forced" in first.status_reason.lower()
    assert AnalysisJob.objects.filter(status__in=["queued", "processing"]).count() == 1


def test_a_job_inside_the_window_blocks_until_the_last_second(settings):
    settings.THETOOL_DEDUP_WINDOW_SECONDS = 300
    with time_machine.travel(T0, tick=False):
        first, _ = request()
    with time_machine.travel(T0 + timedelta(seconds=300), tick=False):
        again, created = request()
    assert not created and again.pk == first.pk


def test_a_queued_job_outside_the_window_without_a_worker_is_retired(settings):
    settings.THETOOL_DEDUP_WINDOW_SECONDS = 300
    with time_machine.travel(T0, tick=False):
        first, _ = request()
    with time_machine.travel(T0 + timedelta(seconds=301), tick=False):
        second, created = request()
    assert created and second.pk != first.pk
    first.refresh_from_db()
    assert first.status == JobStatus.FAILED
    assert "never picked up" in first.status_reason
    assert first.superseded_by_id == second.pk


def test_an_old_job_with_a_fresh_heartbeat_still_blocks(settings):
    settings.THETOOL_DEDUP_WINDOW_SECONDS = 300
    settings.THETOOL_JOB_STALE_SECONDS = 120
    with time_machine.travel(T0, tick=False):
        first, _ = request()
    AnalysisJob.objects.filter(pk=first.pk).update(
        status=JobStatus.PROCESSING, heartbeat_at=T0 + timedelta(seconds=3600 - 120)
    )
    with time_machine.travel(T0 + timedelta(seconds=3600), tick=False):
        again, created = request()
    assert not created and again.pk == first.pk


def test_an_old_job_whose_worker_stopped_beating_is_retired(settings):
    settings.THETOOL_DEDUP_WINDOW_SECONDS = 300
    settings.THETOOL_JOB_STALE_SECONDS = 120
    with time_machine.travel(T0, tick=False):
        first, _ = request()
    AnalysisJob.objects.filter(pk=first.pk).update(
        status=JobStatus.PROCESSING, heartbeat_at=T0 + timedelta(seconds=3600 - 121)
    )
    with time_machine.travel(T0 + timedelta(seconds=3600), tick=False):
        second, created = request()
    assert created
    first.refresh_from_db()
    assert first.status == JobStatus.FAILED
    assert "stopped responding" in first.status_reason


def test_a_finished_job_does_not_block():
    first, _ = request()
    AnalysisJob.objects.filter(pk=first.pk).update(status=JobStatus.COMPLETED)
    second, created = request()
    assert created and second.pk != first.pk


def test_empty_symbols_means_every_active_stock():
    Stock.objects.all().delete()
    Stock.objects.create(symbol="TCS", yahoo_symbol="TCS.NS", name="TCS")
    Stock.objects.create(symbol="M&M", yahoo_symbol="M&M.NS", name="Mahindra")
    Stock.objects.create(symbol="OLD", yahoo_symbol="OLD.NS", name="Old", is_active=False)
    job, created = request(symbols=[])
    assert created and job.is_all_stocks
    assert job.symbols == ["M&M.NS", "TCS.NS"]
    again, created_again = request(symbols=None)
    assert not created_again and again.pk == job.pk


@pytest.mark.parametrize(
    ("kwargs", "error"),
    [
        ({"symbols": ["BAD<SYMBOL>"]}, InvalidSymbol),
        ({"symbols": [""]}, InvalidSymbol),
        ({"capital": 0}, InvalidTradeParameters),
        ({"capital": Decimal("1e20")}, InvalidTradeParameters),
        ({"risk_percent": 50}, InvalidTradeParameters),
        ({"strategy_id": 9}, UnknownStrategy),
    ],
)
def test_bad_input_raises_and_writes_nothing(kwargs, error):
    with pytest.raises(error):
        request(**kwargs)
    assert AnalysisJob.objects.count() == 0
    assert OrmQ.objects.count() == 0


def test_a_database_that_keeps_failing_gives_service_unavailable_and_writes_nothing(settings, monkeypatch, caplog):
    settings.THETOOL_JOB_CREATE_RETRIES = 3
    settings.THETOOL_JOB_CREATE_BACKOFF = 0.001
    calls = []

    def locked(**kwargs):
        calls.append(1)
        raise OperationalError("database is locked")

    monkeypatch.setattr(services, "_decide", locked)
    with pytest.raises(ServiceUnavailable):
        request()
    assert len(calls) == 3
    assert AnalysisJob.objects.count() == 0
    assert "Job creation failed (attempt 1/3), retrying..." in caplog.text
    assert "Job creation failed (attempt 3/3), giving up" in caplog.text


def test_a_transient_failure_is_retried_and_then_succeeds(settings, monkeypatch, caplog):
    settings.THETOOL_JOB_CREATE_BACKOFF = 0.001
    real = services._decide
    failures = iter([OperationalError("database is locked")])

    def flaky(**kwargs):
        error = next(failures, None)
        if error:
            raise error
        return real(**kwargs)

    monkeypatch.setattr(services, "_decide", flaky)
    job, created = request()
    assert created and AnalysisJob.objects.count() == 1
    assert "Job creation failed (attempt 1/3), retrying..." in caplog.text
    assert f"Job {job.pk} created atomically" in caplog.text


def test_a_failure_inside_the_decision_rolls_back_the_superseded_job(monkeypatch):
    first, _ = request()

    def broken_create(*args, **kwargs):
        raise OperationalError("connection lost")

    monkeypatch.setattr(AnalysisJob.objects, "create", broken_create)
    with pytest.raises(ServiceUnavailable):
        request(force=True)
    first.refresh_from_db()
    assert first.status == JobStatus.QUEUED, "the cancel of the old job must roll back with the failed insert"
    assert AnalysisJob.objects.count() == 1


def test_an_enqueue_failure_marks_the_job_failed_with_the_reason(monkeypatch, caplog):
    def broker_down(*args, **kwargs):
        raise ConnectionError("broker unreachable")

    monkeypatch.setattr(services, "async_task", broker_down)
    job, created = request()
    assert created
    assert job.status == JobStatus.FAILED and not job.enqueued
    assert "broker unreachable" in job.status_reason
    assert f"Failed to enqueue job {job.pk}: broker unreachable" in caplog.text
    # A failed job does not block the next identical request.
    monkeypatch.undo()
    again, created_again = request()
    assert created_again and again.pk != job.pk


def test_log_lines_operators_search_for(caplog):
    job, _ = request()
    request()
    text = caplog.text
    assert f"Creating new analysis job {job.pk} for 1 symbols" in text
    assert f"Job {job.pk} created atomically" in text
    assert f"Enqueued job {job.pk} on django-q2 as task" in text
    assert f"Found active job {job.pk} with status queued" in text
    assert f"Duplicate detected. Returning existing job {job.pk}" in text


def test_a_duplicate_costs_one_read_and_one_increment_without_a_transaction(django_assert_num_queries):
    first, _ = request()
    with django_assert_num_queries(2) as captured:
        again, created = request()
    assert not created and again.pk == first.pk
    sql = " ".join(q["sql"].upper() for q in captured.captured_queries)
    assert "FOR UPDATE" not in sql and "SAVEPOINT" not in sql
    assert again.duplicate_count == 1
