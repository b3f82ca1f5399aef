"""/metrics: job and symbol numbers read from the database, request latency, and who may scrape."""

import os
import subprocess
import sys
from datetime import timedelta

import pytest
from django.conf import settings
from django.test import Client
from django.utils import timezone
from prometheus_client.parser import text_string_to_metric_families

from jobs.models import AnalysisJob, JobStatus
from tests.factories import make_result
from tests.ops.conftest import make_job, record_reaper_run

pytestmark = pytest.mark.django_db


def scrape(client: Client, **headers) -> dict:
    response = client.get("/metrics", REMOTE_ADDR="127.0.0.1", **headers)
    assert response.status_code == 200, response.content
    assert response["Content-Type"].startswith("text/plain")
    samples = {}
    for family in text_string_to_metric_families(response.content.decode()):
        for sample in family.samples:
            key = sample.name + "".join(f"|{k}={v}" for k, v in sorted(sample.labels.items()))
            samples[key] = sample.value
    return samples


def finished(job: AnalysisJob, *, started_after: float, took: float) -> None:
    started = job.created_at + timedelta(seconds=started_after)
    AnalysisJob.objects.filter(pk=job.pk).update(started_at=started, finished_at=started + timedelta(seconds=took))


def test_job_counters_come_from_the_job_table():
    make_job(status=JobStatus.QUEUED, duplicate_count=2)
    make_job(status=JobStatus.PROCESSING, duplicate_count=3, attempt=1)
    make_job(status=JobStatus.CANCELLED, status_reason="Superseded by a forced request")
    make_job(status=JobStatus.CANCELLED, status_reason="Cancelled by request (alice)")
    make_job(status=JobStatus.FAILED, status_reason="Retired by a new request: queued for 400s and never picked up")
    make_job(status=JobStatus.FAILED, status_reason="Gave up after 3 attempts: the worker stopped responding each time")
    make_job(status=JobStatus.FAILED, status_reason="Market data source unavailable: Yahoo Finance is unreachable")
    make_job(status=JobStatus.COMPLETED, attempt=2)

    m = scrape(Client())

    assert m["thetool_jobs_created_total"] == 8
    assert m["thetool_job_duplicates_total"] == 5
    assert m["thetool_jobs_forced_total"] == 1
    assert m["thetool_jobs_cancelled_total"] == 2
    assert m["thetool_jobs_completed_total"] == 1
    assert m["thetool_jobs_recovered_total"] == 1
    assert m["thetool_jobs_failed_total|reason=retired"] == 1
    assert m["thetool_jobs_failed_total|reason=gave_up"] == 1
    assert m["thetool_jobs_failed_total|reason=source_unavailable"] == 1
    assert m["thetool_jobs_failed_total|reason=timeout"] == 0
    assert m["thetool_jobs_queued"] == 1
    assert m["thetool_jobs_processing"] == 1


def test_symbols_analysed_and_failed_by_reason():
    job = make_job(status=JobStatus.COMPLETED, symbols=[f"S{i}.NS" for i in range(7)])
    make_result("S0.NS", job=job)
    make_result("S1.NS", job=job)
    make_result("S2.NS", job=job, error="Yahoo rate-limited the request for S2.NS; try later")
    make_result("S3.NS", job=job, error="Yahoo Finance did not answer for S3.NS: a download did not finish within 60 s")
    make_result("S4.NS", job=job, error="no data returned by Yahoo for S4.NS")
    make_result("S5.NS", job=job, error="S5.NS: high < low on 2026-03-02")
    make_result("S6.NS", job=job, error="S6.NS: needs at least 250 daily bars, got 80")
    make_result("RELIANCE.NS")  # `manage.py analyze` stores results without a job: not a job metric

    m = scrape(Client())

    assert m["thetool_symbols_analysed_total"] == 2
    assert m["thetool_symbols_failed_total|reason=rate_limit"] == 1
    assert m["thetool_symbols_failed_total|reason=network"] == 1
    assert m["thetool_symbols_failed_total|reason=no_data"] == 1
    assert m["thetool_symbols_failed_total|reason=bad_data"] == 2
    assert m["thetool_symbols_failed_total|reason=other"] == 0


def test_queue_depth_and_oldest_queued_age():
    make_job(status=JobStatus.QUEUED, age_seconds=30)
    make_job(status=JobStatus.QUEUED, age_seconds=500)
    m = scrape(Client())
    assert m["thetool_jobs_queued"] == 2
    assert 500 <= m["thetool_oldest_queued_job_age_seconds"] < 600


def test_workers_alive_and_reaper_age_come_from_the_worker_registry(settings):
    settings.THETOOL_WORKER_ALIVE_SECONDS = 30
    samples = scrape(Client())
    assert (samples["thetool_clusters_alive"], samples["thetool_reaper_last_run_age_seconds"]) == (0, -1)

    record_reaper_run(host="a", seconds_ago=12, processes=2)
    record_reaper_run(host="b", seconds_ago=40, processes=3)
    record_reaper_run(host="c", seconds_ago=5, seen_seconds_ago=120)  # killed: not alive, but its reaper ran
    samples = scrape(Client())
    assert (samples["thetool_clusters_alive"], samples["thetool_worker_processes"]) == (2, 5)
    assert 5 <= samples["thetool_reaper_last_run_age_seconds"] < 12


def test_job_duration_and_time_to_first_progress_are_histograms_over_the_table():
    fast = make_job(status=JobStatus.COMPLETED, age_seconds=3600)
    slow = make_job(status=JobStatus.COMPLETED, age_seconds=3600)
    finished(fast, started_after=1, took=3)
    finished(slow, started_after=1, took=100)
    make_job(status=JobStatus.QUEUED)  # not finished: in neither duration bucket
    result = make_result("RELIANCE.NS", job=fast)
    type(result).objects.filter(pk=result.pk).update(created_at=fast.created_at + timedelta(seconds=4))

    m = scrape(Client())

    assert m["thetool_job_duration_seconds_bucket|le=1.0"] == 0
    assert m["thetool_job_duration_seconds_bucket|le=5.0"] == 1
    assert m["thetool_job_duration_seconds_bucket|le=60.0"] == 1
    assert m["thetool_job_duration_seconds_bucket|le=120.0"] == 2
    assert m["thetool_job_duration_seconds_bucket|le=+Inf"] == 2
    assert m["thetool_job_duration_seconds_count"] == 2
    assert m["thetool_job_duration_seconds_sum"] == pytest.approx(103, abs=0.01)
    assert m["thetool_job_time_to_first_progress_seconds_bucket|le=2.0"] == 0
    assert m["thetool_job_time_to_first_progress_seconds_bucket|le=5.0"] == 1
    assert m["thetool_job_time_to_first_progress_seconds_count"] == 1
    assert m["thetool_job_time_to_first_progress_seconds_sum"] == pytest.approx(4, abs=0.01)


def test_job_api_requests_are_timed_by_route(demo_source):
    client = Client()
    before = scrape(client).get(
        "thetool_job_api_request_duration_seconds_count|method=POST|route=api-analyze-all-stocks|status=201", 0
    )
    response = client.post("/api/stocks/analyze-all-stocks", {"symbols": ["TCS"]}, content_type="application/json")
    assert response.status_code == 201
    client.get("/api/stocks/")  # not the job API: not timed
    m = scrape(client)
    assert m["thetool_job_api_request_duration_seconds_count|method=POST|route=api-analyze-all-stocks|status=201"] == (
        before + 1
    )
    assert not any("route=api-stock" in key for key in m)


def test_a_metrics_token_is_required_when_set(settings):
    settings.THETOOL_METRICS_TOKEN = "s3cret-token"
    client = Client()
    missing = client.get("/metrics", REMOTE_ADDR="127.0.0.1")
    assert missing.status_code == 401
    assert missing.json()["error"]["code"] == "not_authenticated"
    assert missing["WWW-Authenticate"].startswith("Bearer")
    assert client.get("/metrics", HTTP_AUTHORIZATION="Bearer wrong").status_code == 401
    assert client.get("/metrics", HTTP_AUTHORIZATION="Bearer s3cret-token", REMOTE_ADDR="10.1.2.3").status_code == 200


def test_without_a_token_only_loopback_may_scrape_in_production(settings):
    settings.DEBUG = False
    settings.THETOOL_METRICS_TOKEN = ""
    client = Client()
    refused = client.get("/metrics", REMOTE_ADDR="10.1.2.3")
    assert refused.status_code == 403
    assert refused.json()["error"]["code"] == "permission_denied"
    assert client.get("/metrics", REMOTE_ADDR="127.0.0.1").status_code == 200
    assert client.get("/metrics", REMOTE_ADDR="::1").status_code == 200


def test_old_finished_jobs_count_in_totals_whatever_their_age():
    old = make_job(status=JobStatus.COMPLETED, age_seconds=86400 * 40)
    AnalysisJob.objects.filter(pk=old.pk).update(finished_at=timezone.now() - timedelta(days=40))
    assert scrape(Client())["thetool_jobs_completed_total"] == 1


CHILD = """
import os, sys
os.environ["DJANGO_SETTINGS_MODULE"] = "thetool.settings"
import django
django.setup()
from django.test import Client
if sys.argv[1] == "request":
    response = Client().post("/api/stocks/analyze-all-stocks", "not json", content_type="application/json")
    assert response.status_code == 400, response.status_code
else:
    from django.core.management import call_command
    from jobs.metrics import render_metrics
    call_command("migrate", verbosity=0)  # an empty in-memory database for the job metrics
    sys.stdout.write(render_metrics().decode())
"""


def test_multiprocess_mode_adds_up_the_latency_of_every_process(tmp_path):
    env = {**os.environ, "PROMETHEUS_MULTIPROC_DIR": str(tmp_path), "DATABASE_URL": "sqlite:///:memory:"}
    for _ in range(2):  # two separate processes, as two gunicorn workers are
        subprocess.run([sys.executable, "-c", CHILD, "request"], env=env, check=True, cwd=settings.BASE_DIR)
    out = subprocess.run(
        [sys.executable, "-c", CHILD, "scrape"], env=env, check=True, cwd=settings.BASE_DIR, capture_output=True
    ).stdout.decode()
    line = 'thetool_job_api_request_duration_seconds_count{method="POST",route="api-analyze-all-stocks",status="400"}'
    assert f"{line} 2.0" in out, out
