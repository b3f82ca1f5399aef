"""A fanned-out job on a real worker (`run_worker`, 2 django-q2 workers): both work on it, each symbol is
stored once, the status is decided once; SIGKILL and stop signals lose nothing."""

import signal

import pytest

from jobs import services
from jobs.models import AnalysisJob, ChunkStatus, JobChunk, JobStatus
from jobs.worker import cluster_processes
from stocks.models import AnalysisResult
from tests.cluster import running_cluster, wait_for

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.cluster]

MANY = [f"SYM{i:04d}.NS" for i in range(2192)]
TWO_WORKERS = {"THETOOL_Q_WORKERS": 2, "THETOOL_JOB_CHUNK_SIZE": 100, "THETOOL_JOB_BATCH_SIZE": 25}


@pytest.fixture(autouse=True)
def demo_data(settings):
    settings.THETOOL_DATA_SOURCE = "demo"


def status_of(job) -> AnalysisJob:
    return AnalysisJob.objects.get(pk=job.pk)


def assert_each_symbol_stored_once(job) -> None:
    job.refresh_from_db()
    assert job.status == JobStatus.COMPLETED
    assert job.completed == job.total == len(MANY)
    assert AnalysisResult.objects.filter(job=job).count() == len(MANY)
    assert AnalysisResult.objects.filter(job=job).values("symbol").distinct().count() == len(MANY)
    assert not JobChunk.objects.filter(job=job).exclude(status=ChunkStatus.DONE).exists()


def completion_logged(job, cluster) -> str:
    """The cluster's log once it has the job's completion line: the worker logs it just after the
    UPDATE that the test saw commit, so reading the log at once can miss it."""
    wait_for(
        lambda: f"Job {job.pk} completed:" in cluster.log(),
        timeout=15,
        interval=0.1,
        message=lambda: f"the completion log line\n{cluster.log()[-3000:]}",
    )
    return cluster.log()


def test_both_workers_process_chunks_of_one_job_and_the_status_is_decided_once():
    job, _ = services.request_analysis_job(symbols=MANY)
    with running_cluster("fanout-two-workers", **TWO_WORKERS) as cluster:
        wait_for(
            lambda: status_of(job).status == JobStatus.COMPLETED,
            timeout=120,
            interval=0.2,
            message=lambda: f"the job to complete\n{cluster.log()[-3000:]}",
        )
        workers = {str(pid) for pid in cluster_processes(root=cluster.process.pid)}
        log = completion_logged(job, cluster)
    assert_each_symbol_stored_once(job)
    chunks = JobChunk.objects.filter(job=job)
    assert chunks.count() == 25  # 20 of 100, 92, then the last 100 in 4 of 25 (THETOOL_JOB_CHUNK_TAPER)
    claimed_by = {pid for _host, pid in (c.claimed_by.rsplit(":", 1) for c in chunks)}
    assert len(claimed_by) == 2, f"both worker processes took chunks of the job: {claimed_by}"
    assert claimed_by <= workers, "the claimers are processes of this cluster"
    assert log.count(f"Job {job.pk} completed:") == 1, "the status is decided once"
    assert set(chunks.values_list("attempt", flat=True)) == {1}


def test_sigkill_mid_fanout_then_restart_resumes_only_the_missing_symbols():
    job, _ = services.request_analysis_job(symbols=MANY)
    env = {**TWO_WORKERS, "THETOOL_JOB_STALE_SECONDS": 2, "THETOOL_REAPER_INTERVAL_SECONDS": 1}
    with running_cluster("fanout-killed", **env) as cluster:
        wait_for(lambda: status_of(job).completed >= 300, timeout=60, interval=0.05, message="the job to get going")
        cluster.kill_hard()
    at_kill = status_of(job)
    assert at_kill.status == JobStatus.PROCESSING, "the kill must land mid-job for this test to mean anything"
    assert 0 < at_kill.completed < at_kill.total
    assert AnalysisResult.objects.filter(job=job).count() == at_kill.completed, "progress never claims more than stored"
    done_before = set(JobChunk.objects.filter(job=job, status=ChunkStatus.DONE).values_list("index", flat=True))

    with running_cluster("fanout-restarted", **env) as cluster:
        wait_for(
            lambda: status_of(job).status == JobStatus.COMPLETED,
            timeout=150,
            interval=0.5,
            message=lambda: f"the reaper to recover the chunks\n{cluster.log()[-3000:]}",
        )
        log = completion_logged(job, cluster)
    assert_each_symbol_stored_once(job)
    assert "Re-queued stale chunk" in log
    assert "already stored)" in log
    done_chunks = JobChunk.objects.filter(job=job, index__in=done_before)
    assert set(done_chunks.values_list("attempt", flat=True)) == {1}, "finished chunks are never run again"
    assert log.count(f"Job {job.pk} completed:") == 1


def test_a_stop_signal_hands_back_the_chunks_in_flight_and_the_job_resumes_elsewhere():
    job, _ = services.request_analysis_job(symbols=MANY)
    # A short stale limit: chunks the stopped cluster had prefetched but not started are handed over again by
    # the reaper (the broker cannot know they were never run).
    env = {**TWO_WORKERS, "THETOOL_JOB_STALE_SECONDS": 3, "THETOOL_REAPER_INTERVAL_SECONDS": 1}
    with running_cluster("fanout-stop", **env) as cluster:
        wait_for(lambda: status_of(job).completed >= 300, timeout=60, interval=0.05, message="the job to get going")
        cluster.signal_group(signal.SIGTERM)
        assert cluster.process.wait(timeout=30) == 0, cluster.log()
        log = cluster.log()
    stopped = status_of(job)
    if stopped.status == JobStatus.COMPLETED:
        pytest.skip("the job ended before the signal landed")
    assert stopped.status == JobStatus.PROCESSING, "a chunk is handed back, not the whole job"
    assert f"Job {job.pk} chunk" in log and "released by attempt 1" in log
    assert not JobChunk.objects.filter(job=job, status=ChunkStatus.PROCESSING, heartbeat_at__isnull=False).exists()

    with running_cluster("fanout-resume", **env) as cluster:
        wait_for(
            lambda: status_of(job).status == JobStatus.COMPLETED,
            timeout=150,
            interval=0.5,
            message=lambda: f"a new worker to resume the job\n{cluster.log()[-3000:]}",
        )
    assert_each_symbol_stored_once(job)
