"""The worker side, in-process: claim, fence, resume, cancel, recover, and django-q2's timeout."""

import os
import signal
import threading
from datetime import timedelta

import pytest
from django.core.management import call_command
from django.db import connection, transaction
from django.utils import timezone
from django_q.exceptions import TimeoutException
from django_q.models import OrmQ

from jobs import execution, services, tasks, worker
from jobs.models import AnalysisJob, JobStatus
from stocks import services as stock_services
from stocks.market_data import SourceUnavailable
from stocks.models import AnalysisResult
from tests.cluster import wait_for
from thetool import shutdown
from thetool.shutdown import WorkerShutdown

pytestmark = pytest.mark.django_db(transaction=True)

SYMBOLS = ["INFY.NS", "M&M.NS", "RELIANCE.NS", "TCS.NS", "BAJAJ-AUTO.NS"]


@pytest.fixture(autouse=True)
def demo_data(settings):
    settings.THETOOL_DATA_SOURCE = "demo"
    settings.THETOOL_JOB_BATCH_SIZE = 2


def new_job(symbols=SYMBOLS) -> AnalysisJob:
    job, created = services.request_analysis_job(symbols=symbols)
    assert created
    return job


def test_a_job_runs_to_completion_with_one_result_per_symbol():
    job = new_job()
    assert tasks.run_analysis_job(str(job.pk)) == "completed"
    job.refresh_from_db()
    assert job.status == JobStatus.COMPLETED
    assert (job.total, job.completed, job.successful, job.failed) == (5, 5, 5, 0)
    assert job.started_at and job.finished_at and job.attempt == 1
    results = AnalysisResult.objects.filter(job=job)
    assert sorted(results.values_list("symbol", flat=True)) == sorted(SYMBOLS)
    assert all(r.verdict and r.data_source == "demo" for r in results)


def test_a_second_delivery_of_the_same_task_does_nothing():
    job = new_job()
    tasks.run_analysis_job(str(job.pk))
    assert tasks.run_analysis_job(str(job.pk)) == "not claimed"
    job.refresh_from_db()
    assert job.attempt == 1 and AnalysisResult.objects.filter(job=job).count() == 5


def test_a_delivery_while_a_live_worker_holds_the_job_does_nothing():
    job = new_job()
    assert execution.claim_job(job_id=job.pk) == 1
    assert execution.claim_job(job_id=job.pk) is None


def test_per_symbol_failures_are_listed_and_the_job_still_completes(monkeypatch):
    real = stock_services.analyze_symbols

    def some_fail(*, symbols, **kwargs):
        outcomes = real(symbols=symbols, **kwargs)
        return [
            stock_services.SymbolOutcome(symbol=o.symbol, analysis=None, error="no data returned by Yahoo")
            if o.symbol == "TCS.NS"
            else o
            for o in outcomes
        ]

    monkeypatch.setattr(execution, "analyze_symbols", some_fail)
    job = new_job()
    tasks.run_analysis_job(str(job.pk))
    job.refresh_from_db()
    assert job.status == JobStatus.COMPLETED
    assert (job.successful, job.failed) == (4, 1)
    assert AnalysisResult.objects.get(job=job, symbol="TCS.NS").error == "no data returned by Yahoo"


def test_an_unreachable_source_fails_the_job_with_the_reason(monkeypatch):
    def down(**kwargs):
        raise SourceUnavailable("Yahoo Finance is unreachable: timed out")

    monkeypatch.setattr(execution, "analyze_symbols", down)
    job = new_job()
    assert tasks.run_analysis_job(str(job.pk)) == "failed"
    job.refresh_from_db()
    assert job.status == JobStatus.FAILED and "unreachable" in job.status_reason


def test_an_unexpected_error_fails_the_job_instead_of_leaving_it_processing(monkeypatch):
    def boom(**kwargs):
        raise ZeroDivisionError("bug")

    monkeypatch.setattr(execution, "analyze_symbols", boom)
    job = new_job()
    tasks.run_analysis_job(str(job.pk))
    job.refresh_from_db()
    assert job.status == JobStatus.FAILED and "ZeroDivisionError" in job.status_reason


def test_django_q_timeout_fails_the_job_although_it_is_a_system_exit(monkeypatch):
    def too_slow(**kwargs):
        raise TimeoutException()

    monkeypatch.setattr(execution, "analyze_symbols", too_slow)
    job = new_job()
    with pytest.raises(TimeoutException):
        tasks.run_analysis_job(str(job.pk))
    job.refresh_from_db()
    assert job.status == JobStatus.FAILED and "time limit" in job.status_reason


def test_cancel_stops_the_worker_before_its_next_batch_and_is_not_overwritten(monkeypatch):
    job = new_job()
    real = execution.record_batch
    batches = []

    def record_then_cancel(**kwargs):
        stored = real(**kwargs)
        batches.append(stored)
        if len(batches) == 1:
            services.cancel_job(job_id=job.pk)
        return stored

    monkeypatch.setattr(execution, "record_batch", record_then_cancel)
    assert tasks.run_analysis_job(str(job.pk)) == "stopped"
    job.refresh_from_db()
    assert job.status == JobStatus.CANCELLED
    assert len(batches) == 1 and job.completed == 2
    assert AnalysisResult.objects.filter(job=job).count() == 2


def test_a_worker_whose_job_was_taken_over_writes_nothing():
    job = new_job()
    old_attempt = execution.claim_job(job_id=job.pk)
    # Its heartbeat goes stale and another worker takes over.
    AnalysisJob.objects.filter(pk=job.pk).update(heartbeat_at=timezone.now() - timedelta(hours=1))
    new_attempt = execution.claim_job(job_id=job.pk)
    assert new_attempt == old_attempt + 1
    outcomes = stock_services.analyze_symbols(
        symbols=["TCS.NS"], strategy_id=1, params=execution._trade_params(job), source="demo"
    )
    assert execution.record_batch(job=job, attempt=old_attempt, outcomes=outcomes) is False
    assert execution.beat(job_id=job.pk, attempt=old_attempt) is False
    assert execution.fail_job(job_id=job.pk, attempt=old_attempt, reason="late") is False
    assert AnalysisResult.objects.filter(job=job).count() == 0
    assert execution.record_batch(job=job, attempt=new_attempt, outcomes=outcomes) is True


def test_a_resumed_job_skips_symbols_already_stored(monkeypatch):
    job = new_job()
    attempt = execution.claim_job(job_id=job.pk)
    first = stock_services.analyze_symbols(
        symbols=SYMBOLS[:2], strategy_id=1, params=execution._trade_params(job), source="demo"
    )
    execution.record_batch(job=job, attempt=attempt, outcomes=first)
    # The worker dies; the reaper re-queues the job.
    AnalysisJob.objects.filter(pk=job.pk).update(heartbeat_at=timezone.now() - timedelta(hours=1))
    report = execution.recover_stale_jobs()
    assert report.requeued == [str(job.pk)]
    job.refresh_from_db()
    assert job.status == JobStatus.QUEUED and "Re-queued after attempt 1" in job.status_reason

    analysed = []
    real = stock_services.analyze_symbols

    def spy(*, symbols, **kwargs):
        analysed.extend(symbols)
        return real(symbols=symbols, **kwargs)

    monkeypatch.setattr(execution, "analyze_symbols", spy)
    assert tasks.run_analysis_job(str(job.pk)) == "completed"
    assert sorted(analysed) == sorted(SYMBOLS[2:])
    job.refresh_from_db()
    assert (job.completed, job.attempt, job.status) == (5, 2, JobStatus.COMPLETED)
    assert AnalysisResult.objects.filter(job=job).count() == 5


def test_recovery_gives_up_after_the_maximum_attempts(settings, caplog):
    settings.THETOOL_JOB_MAX_ATTEMPTS = 2
    job = new_job()
    for _ in range(2):
        AnalysisJob.objects.filter(pk=job.pk).update(status=JobStatus.QUEUED)
        execution.claim_job(job_id=job.pk)
        AnalysisJob.objects.filter(pk=job.pk).update(heartbeat_at=timezone.now() - timedelta(hours=1))
    report = execution.recover_stale_jobs()
    assert report.failed == [str(job.pk)]
    job.refresh_from_db()
    assert job.status == JobStatus.FAILED and "Gave up after 2 attempts" in job.status_reason
    assert f"Job {job.pk} failed: Gave up after 2 attempts" in caplog.text


def test_recovery_hands_a_job_that_never_reached_the_broker_to_it(settings):
    job = new_job()
    old = timezone.now() - timedelta(seconds=settings.THETOOL_JOB_STALE_SECONDS + 5)
    AnalysisJob.objects.filter(pk=job.pk).update(enqueued=False, enqueued_at=None, created_at=old)
    OrmQ.objects.all().delete()
    report = execution.recover_stale_jobs()
    assert report.reenqueued == [str(job.pk)]
    assert OrmQ.objects.count() == 1
    job.refresh_from_db()
    assert job.enqueued


def test_recovery_leaves_healthy_jobs_alone():
    job = new_job()
    execution.claim_job(job_id=job.pk)
    report = execution.recover_stale_jobs()
    assert (report.requeued, report.reenqueued, report.failed) == ([], [], [])


def test_recover_jobs_command_reports_what_it_did(capsys):
    job = new_job()
    execution.claim_job(job_id=job.pk)
    AnalysisJob.objects.filter(pk=job.pk).update(heartbeat_at=timezone.now() - timedelta(hours=1))
    call_command("recover_jobs")
    out = capsys.readouterr().out
    assert "1 stale processing job(s) re-queued" in out and str(job.pk) in out


def test_the_reaper_is_not_a_task_in_the_job_queue_after_migrations():
    # As a django-q2 schedule it waited behind every queued job; run_worker runs it beside the cluster.
    from django_q.models import Schedule

    call_command("migrate", "jobs", "0001", verbosity=0)
    # Everything forward again (migrations of other apps that depend on jobs were unapplied too).
    call_command("migrate", verbosity=0)
    assert not Schedule.objects.filter(func="jobs.tasks.recover_stale_jobs").exists()


@pytest.fixture
def worker_signal_handlers():
    """This process behaves like a django-q2 worker under run_worker, for one test."""
    previous = {signum: signal.getsignal(signum) for signum in worker.STOP_SIGNALS}
    shutdown.reset()
    worker.install_shutdown_handlers()
    yield
    for signum, handler in previous.items():
        signal.signal(signum, handler)
    shutdown.reset()


def sigterm_during_batch(monkeypatch, number: int, *, then=lambda: None) -> list:
    """analyze_symbols sends this process SIGTERM during batch `number`, then calls `then`; returns the batches seen."""
    real = stock_services.analyze_symbols
    calls = []

    def analyze(**kwargs):
        calls.append(kwargs["symbols"])
        if len(calls) == number:
            os.kill(os.getpid(), signal.SIGTERM)  # delivered to this thread's handler at once
            then()
        return real(**kwargs)

    monkeypatch.setattr(execution, "analyze_symbols", analyze)
    return calls


def test_a_stop_signal_inside_a_task_hands_the_job_back_and_enqueues_it_again(monkeypatch, worker_signal_handlers):
    calls = sigterm_during_batch(monkeypatch, 2)
    job = new_job()
    with shutdown.running_task(), pytest.raises(WorkerShutdown):
        tasks.run_analysis_job(str(job.pk))
    job.refresh_from_db()
    assert job.status == JobStatus.QUEUED and "received SIGTERM" in job.status_reason
    # The batch in progress is stored; the job stops before the next one (2 symbols per batch).
    assert len(calls) == 2 and job.heartbeat_at is None and job.attempt == 1 and job.completed == 4
    assert job.enqueued and OrmQ.objects.count() == 2, "handed to the broker again, not left for the reaper"

    shutdown.reset()
    assert tasks.run_analysis_job(str(job.pk)) == "completed"
    job.refresh_from_db()
    assert (job.attempt, job.completed) == (2, 5)


def test_a_stop_that_something_swallowed_is_raised_again_at_the_next_checkpoint(monkeypatch, worker_signal_handlers):
    # A signal handler's exception raised inside a finaliser is printed and dropped by Python: a
    # stop raised only once could be lost that way, and the worker would finish the whole job.
    def swallowed():
        try:
            shutdown.checkpoint()
        except BaseException:  # what a finaliser does with it
            pass

    calls = sigterm_during_batch(monkeypatch, 1, then=swallowed)
    job = new_job()
    with shutdown.running_task(), pytest.raises(WorkerShutdown):
        tasks.run_analysis_job(str(job.pk))
    job.refresh_from_db()
    assert len(calls) == 1 and job.status == JobStatus.QUEUED and job.completed == 2


def test_a_stop_signal_during_a_transaction_never_interrupts_it(worker_signal_handlers):
    # Raised inside a statement or between BEGIN and Django marking the atomic block, it could leave
    # SQLite's write lock held by a transaction nobody commits.
    job = new_job()
    with shutdown.running_task():
        with transaction.atomic():
            AnalysisJob.objects.filter(pk=job.pk).update(status_reason="first")
            os.kill(os.getpid(), signal.SIGTERM)
            AnalysisJob.objects.filter(pk=job.pk).update(status_reason="second, same transaction")
            shutdown.checkpoint()  # not inside a transaction
            AnalysisJob.objects.filter(pk=job.pk).update(status_reason="third, same transaction")
        assert not connection.in_atomic_block and connection.get_autocommit()
        with pytest.raises(WorkerShutdown):
            shutdown.checkpoint()  # the first one after the transaction
    assert AnalysisJob.objects.get(pk=job.pk).status_reason == "third, same transaction"


def test_an_idle_worker_stops_at_once_and_a_hand_back_is_never_interrupted(worker_signal_handlers):
    with pytest.raises(WorkerShutdown, match="received SIGINT"):
        os.kill(os.getpid(), signal.SIGINT)  # no task running: the worker loop ends here
    with shutdown.running_task():
        shutdown.handing_back()
        os.kill(os.getpid(), signal.SIGTERM)
        shutdown.checkpoint()  # the hand-back's own writes go on
    assert shutdown.stop_requested()


def test_waits_for_market_data_end_when_the_worker_is_told_to_stop(monkeypatch, worker_signal_handlers):
    naps = []

    def nap(seconds):
        naps.append(seconds)
        if len(naps) == 3:
            os.kill(os.getpid(), signal.SIGTERM)

    monkeypatch.setattr(shutdown.time, "sleep", nap)
    with shutdown.running_task(), pytest.raises(WorkerShutdown):
        shutdown.sleep(3600)  # a rate-limit window
    assert len(naps) == 3 and max(naps) <= shutdown.POLL_SECONDS
    event = threading.Event()
    with shutdown.running_task(), pytest.raises(WorkerShutdown):
        shutdown.wait(event, 3600)  # a fetch's wall-clock limit


def test_the_heartbeat_beats_while_a_long_fetch_runs(settings, monkeypatch):
    settings.THETOOL_JOB_HEARTBEAT_SECONDS = 0.05
    real = stock_services.analyze_symbols
    seen = []

    def slow_fetch(**kwargs):
        # Blocks like a long download until the heartbeat thread has beaten twice behind its back.
        start = AnalysisJob.objects.get(pk=job.pk).heartbeat_at
        wait_for(
            lambda: seen.append(AnalysisJob.objects.get(pk=job.pk).heartbeat_at) or len(set(seen) - {start}) >= 2,
            timeout=30,
            interval=0.01,
            message="the heartbeat to move during the fetch",
        )
        return real(**kwargs)

    monkeypatch.setattr(execution, "analyze_symbols", slow_fetch)
    job = new_job(symbols=SYMBOLS[:2])
    assert tasks.run_analysis_job(str(job.pk)) == "completed"


def test_a_worker_that_lost_its_job_stops_beating(settings, caplog):
    settings.THETOOL_JOB_HEARTBEAT_SECONDS = 0.05
    job = new_job()
    attempt = execution.claim_job(job_id=job.pk)
    with execution.beating(job_id=job.pk, attempt=attempt):
        services.cancel_job(job_id=job.pk)
        # The thread ends on its own, while the job body would still be running.
        wait_for(
            lambda: not any(t.name == f"heartbeat-{job.pk}" for t in threading.enumerate()),
            timeout=30,
            message="the heartbeat thread to stop",
        )
    assert f"Job {job.pk} attempt 1 no longer owns the job; heartbeat stops" in caplog.text


def test_run_worker_loads_the_nse_calendar_before_its_cluster_forks():
    # Lazily imported, pandas-market-calendars cost every worker process's first chunk about 0.1 s.
    from stocks import calendar

    calendar._curated_holidays.cache_clear()
    worker.preload_analysis()
    assert calendar._curated_holidays.cache_info().currsize == 1
