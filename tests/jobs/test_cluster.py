"""Jobs on a real django-q2 cluster process: completion, SIGKILL mid-job, cancel, Redis broker."""

import importlib
import uuid

import pytest
from django.apps import apps as django_apps

from jobs import services
from jobs.models import AnalysisJob, JobStatus
from stocks.models import AnalysisResult
from tests.cluster import running_cluster, wait_for
from tests.conftest import require_service

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.cluster]

MANY = [f"SYM{i:04d}.NS" for i in range(2192)]


@pytest.fixture(autouse=True)
def demo_data(settings):
    settings.THETOOL_DATA_SOURCE = "demo"


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
    # The reaper schedule, as migration jobs.0002 installs it (transactional tests flush tables).
    importlib.import_module("jobs.migrations.0002_schedule_recovery").create_schedule(django_apps, None)
    job, _ = services.request_analysis_job(symbols=MANY)
    env = {"THETOOL_JOB_BATCH_SIZE": 8, "THETOOL_JOB_STALE_SECONDS": 2}
    with running_cluster("killed", **env) as cluster:
        wait_for(lambda: status_of(job).completed >= 200, timeout=60, interval=0.05, message="the job to get going")
        cluster.kill_hard()
    at_kill = status_of(job)
    assert at_kill.status == JobStatus.PROCESSING, "the kill must land mid-job for this test to mean anything"
    assert 0 < at_kill.completed < at_kill.total
    assert AnalysisResult.objects.filter(job=job).count() == at_kill.completed, "progress never claims more than stored"

    # Nobody intervenes: the restarted cluster's scheduler runs the reaper (about 30 s after start),
    # which re-queues the job, and a worker resumes it where it stopped.
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
    with running_cluster("cancel", THETOOL_JOB_BATCH_SIZE=8) as cluster:
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
