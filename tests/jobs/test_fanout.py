"""A large job fanned out into chunks, in-process: claiming, fencing, progress, cancel, recovery, finishing."""

import logging
import threading
from datetime import timedelta

import pytest
from django.db import connection
from django.utils import timezone
from django_q.models import OrmQ

from jobs import execution, ops, services, tasks
from jobs.models import AnalysisJob, ChunkStatus, JobChunk, JobStatus, chunk_symbols
from stocks import services as stock_services
from stocks.market_data import SourceUnavailable
from stocks.models import AnalysisResult
from thetool.shutdown import WorkerShutdown

pytestmark = pytest.mark.django_db(transaction=True)

SYMBOLS = [f"SYM{i:04d}.NS" for i in range(10)]  # chunks of 4: [0-3], [4-7], [8-9]


@pytest.fixture(autouse=True)
def small_chunks(settings):
    settings.THETOOL_DATA_SOURCE = "demo"
    settings.THETOOL_JOB_CHUNK_SIZE = 4
    settings.THETOOL_JOB_BATCH_SIZE = 2
    settings.THETOOL_JOB_CHUNK_TAPER = 1  # equal chunks, as SYMBOLS says; the taper is tested at the end
    # One chunk per task, so each test can step through the chunks; going on is tested at the end.
    settings.THETOOL_JOB_CONTINUE_SECONDS = 0


def fanned_out_job(symbols=SYMBOLS) -> AnalysisJob:
    job, created = services.request_analysis_job(symbols=symbols)
    assert created
    assert tasks.run_analysis_job(str(job.pk)) == "fanned out"
    return job


def stored(job) -> int:
    return AnalysisResult.objects.filter(job_id=job.pk).count()


def make_chunk_stale(job, index: int) -> None:
    JobChunk.objects.filter(job=job, index=index).update(heartbeat_at=timezone.now() - timedelta(hours=1))


def queued_tasks() -> list[tuple]:
    """What is on the ORM broker's queue, in the order it was put there: (task function, args)."""
    return [(task.func(), task.args()) for task in OrmQ.objects.order_by("id")]


def test_a_large_job_is_split_with_its_job_and_each_chunk_is_its_own_task_queued_before_the_jobs():
    job, created = services.request_analysis_job(symbols=SYMBOLS)
    assert created
    chunks = list(JobChunk.objects.filter(job=job).order_by("index"))
    assert [c.symbols for c in chunks] == [SYMBOLS[0:4], SYMBOLS[4:8], SYMBOLS[8:10]]
    assert all(c.status == ChunkStatus.QUEUED and c.enqueued_at for c in chunks)
    # The chunks first, so that every worker has one as soon as any worker starts the job; then the job.
    assert queued_tasks() == [
        *(("jobs.tasks.run_job_chunk", (str(job.pk), index)) for index in range(3)),
        ("jobs.tasks.run_analysis_job", (str(job.pk),)),
    ]
    assert tasks.run_analysis_job(str(job.pk)) == "fanned out"
    assert OrmQ.objects.count() == 3 + 1, "the job's task hands over no chunk a second time"
    job.refresh_from_db()
    assert job.status == JobStatus.PROCESSING and job.completed == 0


def test_a_chunk_delivered_before_its_jobs_task_starts_the_job_and_the_jobs_task_goes_on_with_chunks(settings):
    job, _ = services.request_analysis_job(symbols=SYMBOLS)
    assert tasks.run_job_chunk(str(job.pk), 1) == "chunk done"
    job.refresh_from_db()
    assert job.status == JobStatus.PROCESSING and job.attempt == 1 and job.started_at is not None
    assert set(AnalysisResult.objects.filter(job=job).values_list("symbol", flat=True)) == set(SYMBOLS[4:8])
    # The job's own task, delivered next, finds the job held and goes on with the queued chunks.
    settings.THETOOL_JOB_CONTINUE_SECONDS = 60
    assert tasks.run_analysis_job(str(job.pk)) == "completed"
    job.refresh_from_db()
    assert job.status == JobStatus.COMPLETED and job.attempt == 1 and stored(job) == len(SYMBOLS)
    assert tasks.run_analysis_job(str(job.pk)) == "not claimed"
    assert tasks.run_job_chunk(str(job.pk), 0) == "not claimed"


def test_a_worker_with_a_larger_chunk_size_runs_the_chunks_the_job_was_requested_with(settings):
    job, _ = services.request_analysis_job(symbols=SYMBOLS)  # chunks of 4, made with the job
    settings.THETOOL_JOB_CHUNK_SIZE = 5000  # this worker would run such a job as one task
    settings.THETOOL_JOB_CONTINUE_SECONDS = 60
    assert tasks.run_analysis_job(str(job.pk)) == "completed"
    assert JobChunk.objects.filter(job=job, status=ChunkStatus.DONE).count() == 3
    assert stored(job) == len(SYMBOLS)


def test_a_chunk_of_a_cancelled_job_starts_nothing():
    job, _ = services.request_analysis_job(symbols=SYMBOLS)
    services.cancel_job(job_id=job.pk)
    assert tasks.run_job_chunk(str(job.pk), 0) == "not claimed"
    job.refresh_from_db()
    assert job.status == JobStatus.CANCELLED and job.attempt == 0 and stored(job) == 0


def test_the_chunks_are_enqueued_in_one_transaction_and_a_broker_refusing_part_way_leaves_none(monkeypatch):
    real = services.async_task
    handed = []

    def broker(func, *args, **kwargs):
        if func == "jobs.tasks.run_job_chunk":
            if refuse and len(handed) == 1:  # the second chunk of the job
                raise ConnectionError("broker unreachable")
            handed.append(connection.in_atomic_block)
        return real(func, *args, **kwargs)

    monkeypatch.setattr(services, "async_task", broker)
    refuse = False
    job, _ = services.request_analysis_job(symbols=SYMBOLS)
    assert handed == [True, True, True]  # one transaction for the chunks: one commit, not one per chunk

    handed.clear()
    refuse = True
    queued = OrmQ.objects.count()
    other, created = services.request_analysis_job(symbols=SYMBOLS, capital=123_456)
    assert created
    other.refresh_from_db()
    assert other.status == JobStatus.FAILED
    assert other.status_reason.startswith("Could not hand chunk 1 to the task queue: broker unreachable")
    assert ops.get_job_failures_by_reason() == {"enqueue_refused": 1}
    # The first chunk's task went back with the transaction, and the job's own task was never queued.
    assert OrmQ.objects.count() == queued
    assert not other.enqueued
    assert not JobChunk.objects.filter(job=other, enqueued_at__isnull=False).exists()
    assert JobChunk.objects.filter(job=job, enqueued_at__isnull=True).count() == 0


def test_chunks_that_never_reached_the_queue_are_handed_over_by_the_job_and_a_later_attempt_hands_all_over():
    # The web process stopped between its commit and the hand-over: the reaper queues the job again.
    job, _ = services.request_analysis_job(symbols=SYMBOLS)
    OrmQ.objects.all().delete()
    JobChunk.objects.filter(job=job, index__in=[1, 2]).update(enqueued_at=None)
    assert tasks.run_analysis_job(str(job.pk)) == "fanned out"
    assert queued_tasks() == [("jobs.tasks.run_job_chunk", (str(job.pk), index)) for index in (1, 2)]
    # A hand-back (the worker stopping during the fan-out) and the next attempt: every queued chunk again.
    OrmQ.objects.all().delete()
    assert execution.release_job(job_id=job.pk, attempt=1, reason="Worker shut down mid-job")
    OrmQ.objects.all().delete()
    assert tasks.run_analysis_job(str(job.pk)) == "fanned out"
    assert queued_tasks() == [("jobs.tasks.run_job_chunk", (str(job.pk), index)) for index in range(3)]


def test_a_job_of_one_chunk_or_less_runs_as_one_task_as_before():
    job, _ = services.request_analysis_job(symbols=SYMBOLS[:4])
    assert tasks.run_analysis_job(str(job.pk)) == "completed"
    assert not JobChunk.objects.filter(job=job).exists()
    assert stored(job) == 4


def test_chunks_in_any_order_store_each_symbol_once_and_only_the_last_decides_the_job():
    job = fanned_out_job()
    assert tasks.run_job_chunk(str(job.pk), 2) == "chunk done"
    assert tasks.run_job_chunk(str(job.pk), 0) == "chunk done"
    assert AnalysisJob.objects.get(pk=job.pk).status == JobStatus.PROCESSING, "a chunk is still to run"
    assert tasks.run_job_chunk(str(job.pk), 1) == "completed"
    job.refresh_from_db()
    assert job.status == JobStatus.COMPLETED and job.finished_at is not None
    assert job.completed == job.successful == job.total == len(SYMBOLS)
    assert stored(job) == AnalysisResult.objects.filter(job=job).values("symbol").distinct().count() == len(SYMBOLS)
    assert all(c.claimed_by and c.attempt == 1 for c in JobChunk.objects.filter(job=job))


def test_a_second_delivery_of_a_chunk_does_nothing():
    job = fanned_out_job()
    tasks.run_job_chunk(str(job.pk), 0)
    assert tasks.run_job_chunk(str(job.pk), 0) == "not claimed"
    assert execution.claim_chunk(job_id=job.pk, index=1) == 1
    assert execution.claim_chunk(job_id=job.pk, index=1) is None, "a live worker holds it"
    assert stored(job) == 4


def test_progress_is_added_with_each_batch_and_never_runs_ahead_of_what_is_stored(monkeypatch):
    real = execution.record_chunk_batch
    seen = []

    def checked(**kwargs):
        ok = real(**kwargs)
        job = AnalysisJob.objects.get(pk=kwargs["job"].pk)
        seen.append((job.completed, stored(job)))
        return ok

    monkeypatch.setattr(execution, "record_chunk_batch", checked)
    job = fanned_out_job()
    for index in (1, 0, 2):
        tasks.run_job_chunk(str(job.pk), index)
    assert seen == [(2, 2), (4, 4), (6, 6), (8, 8), (10, 10)]


def test_a_batch_stored_twice_is_counted_once():
    job = fanned_out_job()
    attempt = execution.claim_chunk(job_id=job.pk, index=0)
    outcomes = stock_services.analyze_symbols(
        symbols=SYMBOLS[:2], strategy_id=1, params=execution._trade_params(job), source="demo"
    )
    assert execution.record_chunk_batch(job=job, index=0, attempt=attempt, outcomes=outcomes)
    assert execution.record_chunk_batch(job=job, index=0, attempt=attempt, outcomes=outcomes)
    job.refresh_from_db()
    assert job.completed == stored(job) == 2


def test_a_redelivered_batch_with_new_symbols_adds_only_those_to_progress():
    job = fanned_out_job()
    attempt = execution.claim_chunk(job_id=job.pk, index=0)
    outcomes = stock_services.analyze_symbols(
        symbols=SYMBOLS[:3], strategy_id=1, params=execution._trade_params(job), source="demo"
    )
    failed = stock_services.SymbolOutcome(symbol=SYMBOLS[3], analysis=None, error="no data")
    assert execution.record_chunk_batch(job=job, index=0, attempt=attempt, outcomes=outcomes[:2])

    assert execution.record_chunk_batch(job=job, index=0, attempt=attempt, outcomes=[*outcomes, failed])

    job.refresh_from_db()
    assert (job.completed, job.successful) == (4, 3) and stored(job) == 4


def test_a_stale_chunk_worker_is_fenced_and_writes_nothing():
    job = fanned_out_job()
    old = execution.claim_chunk(job_id=job.pk, index=0)
    make_chunk_stale(job, 0)
    new = execution.claim_chunk(job_id=job.pk, index=0)
    assert (old, new) == (1, 2)
    outcomes = stock_services.analyze_symbols(
        symbols=SYMBOLS[:2], strategy_id=1, params=execution._trade_params(job), source="demo"
    )
    assert execution.record_chunk_batch(job=job, index=0, attempt=old, outcomes=outcomes) is False
    assert execution.beat_chunk(job_id=job.pk, index=0, attempt=old) is False
    assert execution.fail_job_from_chunk(job_id=job.pk, index=0, attempt=old, reason="late") is False
    assert execution.release_chunk(job_id=job.pk, index=0, attempt=old, reason="late") is False
    assert stored(job) == 0 and AnalysisJob.objects.get(pk=job.pk).status == JobStatus.PROCESSING
    assert execution.record_chunk_batch(job=job, index=0, attempt=new, outcomes=outcomes) is True


def test_the_check_before_each_batch_only_reads_and_says_no_once_cancelled_or_taken_over():
    job = fanned_out_job()
    old = execution.claim_chunk(job_id=job.pk, index=0)
    beats = lambda: (  # noqa: E731
        AnalysisJob.objects.get(pk=job.pk).heartbeat_at,
        JobChunk.objects.get(job=job, index=0).heartbeat_at,
    )
    before = beats()
    assert execution.owns_chunk(job_id=job.pk, index=0, attempt=old) is True
    assert beats() == before  # no write: on SQLite it never queues for the write lock
    make_chunk_stale(job, 0)
    new = execution.claim_chunk(job_id=job.pk, index=0)
    assert execution.owns_chunk(job_id=job.pk, index=0, attempt=old) is False
    assert execution.owns_chunk(job_id=job.pk, index=0, attempt=new) is True
    services.cancel_job(job_id=job.pk)
    assert execution.owns_chunk(job_id=job.pk, index=0, attempt=new) is False


def test_cancel_mid_job_stops_the_running_chunk_within_a_batch_and_the_others_never_start(monkeypatch):
    real = execution.record_chunk_batch

    def cancel_after_first_batch(**kwargs):
        ok = real(**kwargs)
        services.cancel_job(job_id=kwargs["job"].pk)
        return ok

    job = fanned_out_job()
    monkeypatch.setattr(execution, "record_chunk_batch", cancel_after_first_batch)
    assert tasks.run_job_chunk(str(job.pk), 0) == "stopped"
    monkeypatch.setattr(execution, "record_chunk_batch", real)
    assert tasks.run_job_chunk(str(job.pk), 1) == "not claimed"
    assert tasks.run_job_chunk(str(job.pk), 2) == "not claimed"
    job.refresh_from_db()
    assert job.status == JobStatus.CANCELLED and job.completed == stored(job) == 2


def test_a_batch_that_meets_a_cancelled_job_is_rolled_back():
    job = fanned_out_job()
    attempt = execution.claim_chunk(job_id=job.pk, index=0)
    outcomes = stock_services.analyze_symbols(
        symbols=SYMBOLS[:2], strategy_id=1, params=execution._trade_params(job), source="demo"
    )
    services.cancel_job(job_id=job.pk)  # while the batch was being analysed
    assert execution.record_chunk_batch(job=job, index=0, attempt=attempt, outcomes=outcomes) is False
    assert stored(job) == 0 and AnalysisJob.objects.get(pk=job.pk).completed == 0


def test_the_last_batch_marks_its_chunk_done_in_its_own_transaction_unless_rolled_back():
    job = fanned_out_job()
    attempt = execution.claim_chunk(job_id=job.pk, index=0)
    analyse = lambda symbols: stock_services.analyze_symbols(  # noqa: E731
        symbols=symbols, strategy_id=1, params=execution._trade_params(job), source="demo"
    )
    status = lambda: JobChunk.objects.get(job=job, index=0).status  # noqa: E731
    assert execution.record_chunk_batch(job=job, index=0, attempt=attempt, outcomes=analyse(SYMBOLS[:2]))
    assert status() == ChunkStatus.PROCESSING
    outcomes = analyse(SYMBOLS[2:4])
    services.cancel_job(job_id=job.pk)
    assert execution.record_chunk_batch(job=job, index=0, attempt=attempt, outcomes=outcomes, last=True) is False
    assert status() == ChunkStatus.PROCESSING and stored(job) == 2  # rolled back with its rows

    other = fanned_out_job(symbols=[s.replace("SYM", "OTH") for s in SYMBOLS])
    attempt = execution.claim_chunk(job_id=other.pk, index=2)
    outcomes = stock_services.analyze_symbols(
        symbols=["OTH0008.NS", "OTH0009.NS"], strategy_id=1, params=execution._trade_params(other), source="demo"
    )
    assert execution.record_chunk_batch(job=other, index=2, attempt=attempt, outcomes=outcomes, last=True)
    assert JobChunk.objects.get(job=other, index=2).status == ChunkStatus.DONE


def test_a_chunk_whose_symbols_were_all_stored_by_an_earlier_attempt_is_done_without_a_batch():
    job = fanned_out_job()
    attempt = execution.claim_chunk(job_id=job.pk, index=2)
    outcomes = stock_services.analyze_symbols(
        symbols=SYMBOLS[8:10], strategy_id=1, params=execution._trade_params(job), source="demo"
    )
    assert execution.record_chunk_batch(job=job, index=2, attempt=attempt, outcomes=outcomes)
    make_chunk_stale(job, 2)  # its worker died after the last batch, before the chunk was marked done
    assert tasks.run_job_chunk(str(job.pk), 2) == "chunk done"
    assert JobChunk.objects.get(job=job, index=2).status == ChunkStatus.DONE and stored(job) == 2


def test_a_stale_chunk_is_recovered_and_resumes_only_its_missing_symbols(caplog):
    job = fanned_out_job()
    attempt = execution.claim_chunk(job_id=job.pk, index=1)
    outcomes = stock_services.analyze_symbols(
        symbols=SYMBOLS[4:6], strategy_id=1, params=execution._trade_params(job), source="demo"
    )
    execution.record_chunk_batch(job=job, index=1, attempt=attempt, outcomes=outcomes)
    make_chunk_stale(job, 1)  # its worker died
    OrmQ.objects.all().delete()

    report = execution.recover_stale_jobs()
    assert report.requeued_chunks == [f"{job.pk}:1"] and report.requeued == []
    assert JobChunk.objects.get(job=job, index=1).status == ChunkStatus.QUEUED
    assert OrmQ.objects.count() == 1, "the chunk, not the job, is handed to the broker again"
    assert AnalysisJob.objects.get(pk=job.pk).status == JobStatus.PROCESSING

    with caplog.at_level(logging.INFO, logger="jobs"):
        assert tasks.run_job_chunk(str(job.pk), 1) == "chunk done"
    assert f"Job {job.pk} chunk 1 attempt 2: analysing 2 of 4 symbols (2 already stored)" in caplog.text
    tasks.run_job_chunk(str(job.pk), 0)
    assert tasks.run_job_chunk(str(job.pk), 2) == "completed"
    job.refresh_from_db()
    assert job.completed == stored(job) == len(SYMBOLS)


def test_recovery_leaves_live_chunks_alone_and_hands_lost_queued_ones_over(settings):
    job = fanned_out_job()
    execution.claim_chunk(job_id=job.pk, index=0)
    an_hour_ago = timezone.now() - timedelta(hours=1)
    AnalysisJob.objects.filter(pk=job.pk).update(started_at=an_hour_ago)
    JobChunk.objects.filter(job=job, index=2).update(enqueued_at=an_hour_ago, created_at=an_hour_ago)
    report = execution.recover_stale_jobs()
    assert report.requeued_chunks == [] and report.reenqueued_chunks == [f"{job.pk}:2"]


def test_chunks_that_waited_in_the_queue_with_their_job_are_not_stale_when_it_starts(settings):
    """A job queued behind others for longer than the stale limit: its chunks' tasks are still on the
    queue, so the reaper leaves them alone until THETOOL_JOB_STALE_SECONDS after the job started."""
    job, _ = services.request_analysis_job(symbols=SYMBOLS)
    an_hour_ago = timezone.now() - timedelta(hours=1)
    JobChunk.objects.filter(job=job).update(enqueued_at=an_hour_ago, created_at=an_hour_ago)
    assert tasks.run_analysis_job(str(job.pk)) == "fanned out"
    report = execution.recover_stale_jobs()
    assert report.reenqueued_chunks == [] and report.requeued_chunks == []
    # Once the job has run for longer than the limit, a chunk nobody took is handed over again.
    AnalysisJob.objects.filter(pk=job.pk).update(
        started_at=timezone.now() - timedelta(seconds=settings.THETOOL_JOB_STALE_SECONDS + 1)
    )
    assert execution.recover_stale_jobs().reenqueued_chunks == [f"{job.pk}:{index}" for index in range(3)]


def test_a_chunk_that_keeps_dying_fails_the_job_after_the_maximum_attempts(settings):
    settings.THETOOL_JOB_MAX_ATTEMPTS = 2
    job = fanned_out_job()
    for _ in range(2):
        execution.claim_chunk(job_id=job.pk, index=0)
        make_chunk_stale(job, 0)
    report = execution.recover_stale_jobs()
    job.refresh_from_db()
    assert report.failed == [str(job.pk)]
    assert job.status == JobStatus.FAILED and "Gave up after 2 attempts at chunk 0" in job.status_reason


def test_an_unreachable_source_fails_the_job_once_and_the_other_chunks_stop(monkeypatch):
    def unreachable(**kwargs):
        raise SourceUnavailable("Yahoo Finance is unreachable")

    job = fanned_out_job()
    monkeypatch.setattr(execution, "analyze_symbols", unreachable)
    assert tasks.run_job_chunk(str(job.pk), 0) == "failed"
    reason = AnalysisJob.objects.get(pk=job.pk).status_reason
    assert tasks.run_job_chunk(str(job.pk), 1) == "not claimed"
    job.refresh_from_db()
    assert job.status == JobStatus.FAILED and job.status_reason == reason
    assert "Yahoo Finance is unreachable" in reason


def test_a_stop_signal_hands_back_the_chunk_and_the_job_carries_on(monkeypatch):
    real = stock_services.analyze_symbols
    calls = []

    def shutdown_during_the_second_batch(**kwargs):
        calls.append(kwargs["symbols"])
        if len(calls) == 2:
            raise WorkerShutdown("SIGTERM")  # what run_worker's handler raises inside the task
        return real(**kwargs)

    job = fanned_out_job()
    OrmQ.objects.all().delete()
    monkeypatch.setattr(execution, "analyze_symbols", shutdown_during_the_second_batch)
    with pytest.raises(WorkerShutdown):
        tasks.run_job_chunk(str(job.pk), 0)
    chunk = JobChunk.objects.get(job=job, index=0)
    assert chunk.status == ChunkStatus.QUEUED and chunk.heartbeat_at is None and chunk.attempt == 1
    assert OrmQ.objects.count() == 1, "the chunk is on the broker again"
    job.refresh_from_db()
    assert job.status == JobStatus.PROCESSING and job.completed == 2

    monkeypatch.setattr(execution, "analyze_symbols", real)
    for index in (0, 1, 2):
        tasks.run_job_chunk(str(job.pk), index)
    job.refresh_from_db()
    assert job.status == JobStatus.COMPLETED and job.completed == stored(job) == len(SYMBOLS)
    assert JobChunk.objects.get(job=job, index=0).attempt == 2


def test_a_job_whose_last_finisher_died_before_deciding_is_completed_by_the_reaper():
    job = fanned_out_job()
    for index in (0, 1, 2):
        attempt = execution.claim_chunk(job_id=job.pk, index=index)
        chunk = JobChunk.objects.get(job=job, index=index)
        outcomes = stock_services.analyze_symbols(
            symbols=chunk.symbols, strategy_id=1, params=execution._trade_params(job), source="demo"
        )
        execution.record_chunk_batch(job=job, index=index, attempt=attempt, outcomes=outcomes)
    JobChunk.objects.filter(job=job).update(status=ChunkStatus.DONE)  # then the worker died
    AnalysisJob.objects.filter(pk=job.pk).update(heartbeat_at=timezone.now() - timedelta(hours=1))
    execution.recover_stale_jobs()
    assert AnalysisJob.objects.get(pk=job.pk).status == JobStatus.COMPLETED


def test_a_job_with_an_unfinished_chunk_or_no_chunks_is_not_decided():
    from django.test.utils import CaptureQueriesContext

    job = fanned_out_job()
    JobChunk.objects.filter(job=job).exclude(index=1).update(status=ChunkStatus.DONE)
    with CaptureQueriesContext(connection) as queries:
        assert execution.finish_job_if_done(job_id=job.pk) is False
    # Only a read while a chunk is unfinished: on SQLite a write would queue behind the running chunks'.
    assert [q["sql"] for q in queries if not q["sql"].lstrip().upper().startswith("SELECT")] == []
    small, _ = services.request_analysis_job(symbols=SYMBOLS[:2])
    execution.claim_job(job_id=small.pk)
    assert execution.finish_job_if_done(job_id=small.pk) is False


@pytest.mark.parametrize("finishers", [2, 4])
def test_finishers_racing_on_the_last_chunks_decide_the_job_exactly_once(finishers):
    job, _ = services.request_analysis_job(symbols=[f"SYM{i:04d}.NS" for i in range(4 * finishers)])
    assert tasks.run_analysis_job(str(job.pk)) == "fanned out"
    for index in range(finishers):
        assert execution.claim_chunk(job_id=job.pk, index=index) == 1
    barrier = threading.Barrier(finishers)
    decided, errors = [], []

    def finish(index: int) -> None:
        try:
            barrier.wait(timeout=10)
            # What execute_chunk does at its end: the chunk, then (its own statement) the job.
            execution._fenced_chunk(job.pk, index, 1).update(status=ChunkStatus.DONE)
            decided.append(execution.finish_job_if_done(job_id=job.pk))
        except Exception as exc:  # surfaced below: a thread's exception would otherwise vanish
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=finish, args=(i,)) for i in range(finishers)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    assert errors == []
    assert sorted(decided) == [False] * (finishers - 1) + [True], "exactly one finisher decides"
    assert AnalysisJob.objects.get(pk=job.pk).status == JobStatus.COMPLETED


@pytest.mark.postgres
def test_results_are_inserted_as_plain_values_on_postgresql_not_as_unnest_arrays():
    # Django's UNNEST form makes psycopg quote every JSON text in Python: a third of a job's time.
    from django.test.utils import CaptureQueriesContext

    job = fanned_out_job()
    attempt = execution.claim_chunk(job_id=job.pk, index=0)
    outcomes = stock_services.analyze_symbols(
        symbols=SYMBOLS[:4], strategy_id=1, params=execution._trade_params(job), source="demo"
    )
    with CaptureQueriesContext(connection) as queries:
        assert execution.record_chunk_batch(job=job, index=0, attempt=attempt, outcomes=outcomes)
    inserts = [q["sql"] for q in queries.captured_queries if q["sql"].startswith('INSERT INTO "stocks_analysisresult"')]
    assert len(inserts) == 1 and "UNNEST" not in inserts[0] and "VALUES" in inserts[0]
    stored_row = AnalysisResult.objects.get(job=job, symbol=SYMBOLS[0])
    assert stored_row.indicators and stored_row.provenance["source"] == "demo" and stored_row.created_at


# --- A worker that ends a chunk goes on with the job's next queued one (THETOOL_JOB_CONTINUE_SECONDS) ---


def test_the_worker_that_fans_a_job_out_goes_on_with_its_chunks_without_the_broker(settings):
    settings.THETOOL_JOB_CONTINUE_SECONDS = 60
    job, _ = services.request_analysis_job(symbols=SYMBOLS)
    assert tasks.run_analysis_job(str(job.pk)) == "completed"
    job.refresh_from_db()
    assert job.status == JobStatus.COMPLETED and job.completed == stored(job) == len(SYMBOLS)
    chunks = JobChunk.objects.filter(job=job)
    assert {(c.status, c.attempt) for c in chunks} == {(ChunkStatus.DONE, 1)}
    # Each chunk's own task is still on the broker: delivered now, it finds nothing to do.
    assert [tasks.run_job_chunk(str(job.pk), index) for index in (0, 1, 2)] == ["not claimed"] * 3


def test_a_delivery_whose_chunk_was_taken_goes_on_with_the_queued_ones(settings):
    job = fanned_out_job()  # one chunk per task while fanning out
    elsewhere = execution.claim_chunk(job_id=job.pk, index=0)  # another worker holds chunk 0
    settings.THETOOL_JOB_CONTINUE_SECONDS = 60
    assert tasks.run_job_chunk(str(job.pk), 0) == "chunk done"
    status = dict(JobChunk.objects.filter(job=job).values_list("index", "status"))
    assert status == {0: ChunkStatus.PROCESSING, 1: ChunkStatus.DONE, 2: ChunkStatus.DONE}
    job.refresh_from_db()
    assert job.status == JobStatus.PROCESSING, "chunk 0 is still running elsewhere"

    assert execution.execute_chunk(job_id=job.pk, index=0, attempt=elsewhere) == "completed"
    job.refresh_from_db()
    assert job.status == JobStatus.COMPLETED and stored(job) == len(SYMBOLS)


def test_going_on_stops_when_the_job_is_cancelled(settings, monkeypatch):
    job = fanned_out_job()
    settings.THETOOL_JOB_CONTINUE_SECONDS = 60
    real = execution.execute_chunk

    def cancelled_after_the_first_chunk(**kwargs):
        outcome = real(**kwargs)
        services.cancel_job(job_id=job.pk)
        return outcome

    monkeypatch.setattr(execution, "execute_chunk", cancelled_after_the_first_chunk)
    assert tasks.run_job_chunk(str(job.pk), 0) == "chunk done"
    job.refresh_from_db()
    assert job.status == JobStatus.CANCELLED and stored(job) == 4
    status = dict(JobChunk.objects.filter(job=job).values_list("index", "status"))
    assert status[0] == ChunkStatus.DONE and status[1] == status[2] == ChunkStatus.QUEUED


def test_a_delivery_whose_chunk_is_taken_only_reads(settings):
    from django.test.utils import CaptureQueriesContext

    job = fanned_out_job()
    execution.claim_chunk(job_id=job.pk, index=0)
    with CaptureQueriesContext(connection) as queries:
        assert execution.claim_chunk(job_id=job.pk, index=0) is None
    assert queries.captured_queries and all(q["sql"].startswith("SELECT") for q in queries.captured_queries), [
        q["sql"] for q in queries.captured_queries
    ]


# --- The last chunks are smaller (THETOOL_JOB_CHUNK_TAPER), so the workers end together ---


@pytest.mark.parametrize(
    ("total", "size", "taper", "sizes"),
    [
        (2192, 100, 4, [100] * 20 + [92] + [25] * 4),
        (2192, 100, 1, [100] * 21 + [92]),
        (10, 4, 4, [4, 2, 1, 1, 1, 1]),
        (10, 4, 3, [4, 2, 2, 2]),
        (5, 4, 4, [1, 1, 1, 1, 1]),
        (4, 4, 4, [4]),
        (7, 100, 4, [7]),
    ],
)
def test_chunks_are_of_the_chunk_size_and_the_last_chunk_size_symbols_are_split_by_the_taper(total, size, taper, sizes):
    symbols = [f"S{i}" for i in range(total)]
    chunks = chunk_symbols(symbols, size=size, taper=taper)
    assert [len(chunk) for chunk in chunks] == sizes
    assert [s for chunk in chunks for s in chunk] == symbols, "every symbol once, in order"


def test_a_fanned_out_job_gets_tapered_chunks_and_a_second_fan_out_keeps_them_as_made(settings):
    settings.THETOOL_JOB_CHUNK_TAPER = 4
    job = fanned_out_job()
    chunks = list(JobChunk.objects.filter(job=job).order_by("index").values_list("symbols", flat=True))
    assert chunks == [SYMBOLS[0:4], SYMBOLS[4:6], *([s] for s in SYMBOLS[6:10])]

    # A re-delivery after the settings changed (a hand-back, a new deploy) keeps the chunks it finds.
    settings.THETOOL_JOB_CHUNK_TAPER = 1
    settings.THETOOL_JOB_CHUNK_SIZE = 1  # 10 chunks if made again
    attempt = AnalysisJob.objects.get(pk=job.pk).attempt
    assert execution.fan_out_job(job_id=job.pk, attempt=attempt) == "fanned out"
    assert list(JobChunk.objects.filter(job=job).order_by("index").values_list("symbols", flat=True)) == chunks
    for index in range(len(chunks)):
        tasks.run_job_chunk(str(job.pk), index)
    job.refresh_from_db()
    assert job.status == JobStatus.COMPLETED and job.completed == stored(job) == len(SYMBOLS)
