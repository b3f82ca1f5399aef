"""Jobs on a real worker process (`run_worker`: django-q2 cluster + reaper): completion, stop signals,
SIGKILL mid-job (with and without a backlog), cancel, Redis broker."""

import signal
import subprocess
import time
import uuid
from pathlib import Path

import pytest

from jobs import services
from jobs.models import AnalysisJob, JobStatus
from stocks.models import AnalysisResult
from tests.cluster import running_cluster, wait_for
from tests.conftest import require_service

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.cluster]

MANY = [f"SYM{i:04d}.NS" for i in range(2192)]
# These tests follow a job run as one task (a job within one chunk); a fanned-out job's chunks on
# several workers are tested in test_fanout_cluster.py.
ONE_TASK = {"THETOOL_JOB_CHUNK_SIZE": 5000}


@pytest.fixture(autouse=True)
def demo_data(settings):
    settings.THETOOL_DATA_SOURCE = "demo"
    # A job gets its chunks when it is requested (here, in the test process): one task, as in ONE_TASK.
    settings.THETOOL_JOB_CHUNK_SIZE = ONE_TASK["THETOOL_JOB_CHUNK_SIZE"]


def status_of(job) -> AnalysisJob:
    return AnalysisJob.objects.get(pk=job.pk)


def test_a_real_qcluster_runs_a_job_to_completion():
    job, _ = services.request_analysis_job(symbols=["RELIANCE.NS", "TCS.NS", "M&M.NS", "BAJAJ-AUTO.NS"])
    with running_cluster("complete") as cluster:
        done = wait_for(
            lambda: status_of(job).status == JobStatus.COMPLETED,
            timeout=60,
            message=lambda: f"job to complete\n{cluster.log()}",
        )
        assert done
    job.refresh_from_db()
    assert (job.completed, job.successful, job.attempt) == (4, 4, 1)
    assert AnalysisResult.objects.filter(job=job).count() == 4
    assert f"Job {job.pk} claimed (attempt 1/" in cluster.log()


def test_sigkill_mid_job_then_restart_completes_with_each_symbol_stored_once():
    job, _ = services.request_analysis_job(symbols=MANY)
    env = {
        "THETOOL_JOB_BATCH_SIZE": 8,
        "THETOOL_JOB_STALE_SECONDS": 2,
        "THETOOL_REAPER_INTERVAL_SECONDS": 1,
        **ONE_TASK,
    }
    with running_cluster("killed", **env) as cluster:
        wait_for(lambda: status_of(job).completed >= 200, timeout=60, interval=0.05, message="the job to get going")
        cluster.kill_hard()
    at_kill = status_of(job)
    assert at_kill.status == JobStatus.PROCESSING, "the kill must land mid-job for this test to mean anything"
    assert 0 < at_kill.completed < at_kill.total
    assert AnalysisResult.objects.filter(job=job).count() == at_kill.completed, "progress never claims more than stored"

    # Nobody intervenes: the restarted worker's reaper re-queues the job once its heartbeat is
    # stale, and a worker resumes it where it stopped.
    with running_cluster("restarted", **env) as cluster:
        wait_for(
            lambda: status_of(job).status == JobStatus.COMPLETED,
            timeout=150,
            interval=0.5,
            message=lambda: f"the scheduled reaper to recover the job\n{cluster.log()}",
        )
    job.refresh_from_db()
    assert job.attempt == 2
    assert job.completed == job.total == len(MANY)
    assert AnalysisResult.objects.filter(job=job).count() == len(MANY)
    assert AnalysisResult.objects.filter(job=job).values("symbol").distinct().count() == len(MANY)
    log = cluster.log()
    assert f"Re-queued stale job {job.pk} (attempt 1/3" in log
    resumed = f"Job {job.pk} attempt 2: analysing {len(MANY) - at_kill.completed} of {len(MANY)} symbols"
    assert resumed in log, "the resumed attempt must skip the symbols already stored"


def test_cancel_stops_a_running_job():
    job, _ = services.request_analysis_job(symbols=MANY)
    with running_cluster("cancel", THETOOL_JOB_BATCH_SIZE=8, **ONE_TASK) as cluster:
        wait_for(lambda: status_of(job).completed >= 100, timeout=60, interval=0.05, message="the job to get going")
        services.cancel_job(job_id=job.pk)
        cancelled_at = status_of(job).completed
        wait_for(lambda: f"Job {job.pk} attempt 1 stops" in cluster.log(), timeout=20, message="the worker to stop")
    after = status_of(job)
    assert after.status == JobStatus.CANCELLED, "the worker must not overwrite the cancelled status"
    assert after.completed <= cancelled_at + 8, "at most the batch in flight may land after the cancel"
    assert after.completed < after.total
    assert AnalysisResult.objects.filter(job=job).count() == after.completed


@pytest.mark.redis
def test_a_job_runs_on_the_redis_broker(monkeypatch):
    require_service("Redis", "127.0.0.1", 6379)
    import redis
    from django_q.conf import Conf
    from django_q.models import OrmQ

    redis_url = "redis://127.0.0.1:6379/15"
    server = redis.Redis.from_url(redis_url)
    # A queue of this run's own (django-q2 keys everything by the cluster name), so runs sharing the
    # server never take each other's tasks; only this run's keys are deleted afterwards, never the database.
    name = f"thetool-test-{uuid.uuid4().hex[:12]}"
    # Enqueue through Redis from this process, exactly as a web process with REDIS_URL set does.
    monkeypatch.setattr(Conf, "ORM", None)
    monkeypatch.setattr(Conf, "REDIS", redis_url)
    monkeypatch.setattr(Conf, "PREFIX", name)
    monkeypatch.setattr(Conf, "CLUSTER_NAME", name)
    monkeypatch.setattr(Conf, "Q_STAT", f"django_q:{name}:cluster")
    try:
        job, _ = services.request_analysis_job(symbols=["RELIANCE.NS", "TCS.NS"])
        assert job.enqueued and OrmQ.objects.count() == 0
        assert server.llen(f"django_q:{name}:q") == 1
        with running_cluster("redis", REDIS_URL=redis_url, THETOOL_Q_CLUSTER_NAME=name) as cluster:
            wait_for(
                lambda: status_of(job).status == JobStatus.COMPLETED,
                timeout=60,
                message=lambda: f"redis job\n{cluster.log()}",
            )
        assert AnalysisResult.objects.filter(job=job).count() == 2
        assert server.llen(f"django_q:{name}:q") == 0
    finally:
        server.delete(*server.scan_iter(match=f"django_q:{name}:*"), f"django_q:{name}:q")


def live_group_members(pgid: int) -> list[int]:
    """Processes of a process group that are still running (zombies waiting to be reaped do not count)."""
    members = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            text = (entry / "stat").read_text()
        except OSError:
            continue
        state, _ppid, group = text[text.rindex(")") + 2 :].split()[:3]
        if int(group) == pgid and state not in ("Z", "X"):
            members.append(int(entry.name))
    return members


STOP_PATTERNS = {
    "sigterm-to-the-group": lambda cluster: cluster.signal_group(signal.SIGTERM),
    "sigterm-to-the-main-process": lambda cluster: cluster.signal_main(signal.SIGTERM),
    "sigint-to-the-main-process": lambda cluster: cluster.signal_main(signal.SIGINT),
}


@pytest.mark.parametrize("pattern", list(STOP_PATTERNS))
def test_a_stop_signal_ends_the_worker_and_hands_its_job_back_at_once_to_resume_elsewhere(pattern):
    job, _ = services.request_analysis_job(symbols=MANY)
    # A stale limit far beyond the test: only the worker's own hand-back can re-queue the job.
    env = {"THETOOL_JOB_BATCH_SIZE": 8, "THETOOL_JOB_STALE_SECONDS": 600, "THETOOL_Q_WORKERS": 2, **ONE_TASK}
    with running_cluster(f"stop-{pattern}", **env) as cluster:
        wait_for(lambda: status_of(job).completed >= 200, timeout=60, interval=0.05, message="the job to get going")
        signalled = time.monotonic()
        STOP_PATTERNS[pattern](cluster)
        try:
            exit_code = cluster.process.wait(timeout=30)  # a hang guard, not a speed requirement
        except subprocess.TimeoutExpired:
            pytest.fail(f"the worker was still running 30 s after {pattern}\n{cluster.log()}")
        stop_seconds = time.monotonic() - signalled
        leftovers = live_group_members(cluster.process.pid)
        log = cluster.log()
    print(f"\n{pattern}: worker stopped in {stop_seconds:.2f} s")  # the measured number, for the record
    assert exit_code == 0, log
    assert leftovers == [], f"processes of the worker outlived it: {leftovers}\n{log}"
    released = status_of(job)
    assert released.status == JobStatus.QUEUED, f"the job must be handed back, not left {released.status}\n{log}"
    assert released.heartbeat_at is None and released.attempt == 1
    assert "re-queued to resume where it stopped" in released.status_reason
    assert 0 < released.completed < released.total
    assert AnalysisResult.objects.filter(job=job).count() == released.completed
    assert f"Job {job.pk} released by attempt 1" in log

    with running_cluster(f"resume-{pattern}", **env) as cluster:
        wait_for(
            lambda: status_of(job).status == JobStatus.COMPLETED,
            timeout=120,
            interval=0.5,
            message=lambda: f"a new worker to resume the job\n{cluster.log()}",
        )
    job.refresh_from_db()
    assert job.attempt == 2 and job.completed == job.total == len(MANY)
    assert AnalysisResult.objects.filter(job=job).count() == len(MANY)
    resumed = f"Job {job.pk} attempt 2: analysing {len(MANY) - released.completed} of {len(MANY)} symbols"
    assert resumed in cluster.log(), "the resumed attempt must skip the symbols already stored"


def test_a_killed_workers_job_is_requeued_by_the_reaper_without_waiting_behind_a_backlog():
    env = {
        "THETOOL_JOB_BATCH_SIZE": 8,
        "THETOOL_JOB_STALE_SECONDS": 3,
        "THETOOL_REAPER_INTERVAL_SECONDS": 1,
        **ONE_TASK,
    }
    job, _ = services.request_analysis_job(symbols=MANY)
    with running_cluster("backlog-killed", **env) as cluster:
        wait_for(lambda: status_of(job).completed >= 100, timeout=60, interval=0.05, message="the job to get going")
        # 40 jobs queued behind it: the old reaper, a scheduled task in this queue, waited behind them all.
        backlog = [
            services.request_analysis_job(symbols=[f"B{n:02d}X{i:03d}.NS" for i in range(500)])[0] for n in range(40)
        ]
        cluster.kill_hard()
    killed = time.monotonic()
    assert status_of(job).status == JobStatus.PROCESSING

    with running_cluster("backlog-reaper", **env) as cluster:
        wait_for(
            lambda: f"Re-queued stale job {job.pk} (attempt 1/" in cluster.log(),
            timeout=90,
            interval=0.1,
            message=lambda: f"the reaper to re-queue the job\n{cluster.log()}",
        )
        requeued_seconds = time.monotonic() - killed
        still_waiting = AnalysisJob.objects.filter(pk__in=[b.pk for b in backlog], status=JobStatus.QUEUED).count()
    stale = env["THETOOL_JOB_STALE_SECONDS"]
    print(f"\nre-queued {requeued_seconds:.1f} s after SIGKILL (stale limit {stale} s), {still_waiting}/40 queued")
    assert still_waiting > 0, "the reaper must not wait for the backlog to drain"
    assert status_of(job).attempt in (1, 2)
