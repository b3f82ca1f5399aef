"""manage.py jobs_report and manage.py prune."""

import json
from datetime import timedelta
from io import StringIO

import pytest
from django.core.management import CommandError, call_command
from django.utils import timezone

from jobs.models import AnalysisJob, JobStatus
from stocks.models import AnalysisResult
from tests.factories import make_result
from tests.ops.conftest import make_job, record_reaper_run

pytestmark = pytest.mark.django_db


def run(*args) -> str:
    out = StringIO()
    call_command(*args, stdout=out)
    return out.getvalue()


def ended(job: AnalysisJob, *, days_ago: float) -> AnalysisJob:
    AnalysisJob.objects.filter(pk=job.pk).update(finished_at=timezone.now() - timedelta(days=days_ago))
    return job


def test_jobs_report_json_answers_the_guides_sql_checks(settings):
    settings.THETOOL_JOB_STALE_SECONDS = 60
    fresh = make_job(status=JobStatus.QUEUED, age_seconds=5, duplicate_count=4)
    stuck = make_job(status=JobStatus.QUEUED, age_seconds=900)
    make_job(status=JobStatus.FAILED, status_reason="Gave up after 3 attempts: the worker stopped responding")
    make_job(status=JobStatus.FAILED, status_reason="Exceeded the task time limit of 3600s (THETOOL_Q_TIMEOUT)")
    make_job(status=JobStatus.COMPLETED, age_seconds=3 * 86400)  # outside the 24 h window

    report = json.loads(run("jobs_report", "--json"))

    assert [job["job_id"] for job in report["active"]] == [str(stuck.pk), str(fresh.pk)]
    assert report["stale"] == [str(stuck.pk)]
    assert report["queue"]["queued"] == 2
    assert report["oldest_queued"]["job_id"] == str(stuck.pk)
    assert report["oldest_queued"]["age_seconds"] >= 900
    assert report["failures_by_reason"] == {"gave_up": 1, "timeout": 1}
    assert sum(row["created"] for row in report["duplicates_per_hour"]) == 4
    assert sum(row["duplicates"] for row in report["duplicates_per_hour"]) == 4


def test_jobs_report_table_marks_stale_jobs(settings):
    settings.THETOOL_JOB_STALE_SECONDS = 60
    stuck = make_job(status=JobStatus.PROCESSING, age_seconds=900)
    text = run("jobs_report")
    assert "Queued 0, processing 1, stale 1" in text
    line = next(line for line in text.splitlines() if str(stuck.pk) in line)
    assert line.endswith("STALE")


def test_jobs_report_lists_live_workers_from_the_registry(settings):
    settings.THETOOL_WORKER_ALIVE_SECONDS = 30
    record_reaper_run(host="worker-a", pid=4242, seconds_ago=7)
    record_reaper_run(host="worker-b", pid=4343, seconds_ago=300, seen_seconds_ago=300)  # gone: not listed

    report = json.loads(run("jobs_report", "--json"))
    assert report["workers"]["workers_alive"] == 1
    assert [(w["host"], w["pid"]) for w in report["live_workers"]] == [("worker-a", 4242)]

    text = run("jobs_report")
    assert "Workers alive 1 (2 job processes); reaper last ran: 7s ago" in text
    assert "worker-a:4242" in text and "worker-b" not in text


def test_jobs_report_says_not_ready_without_a_worker():
    assert "Workers alive 0 (0 job processes); reaper last ran: never  NOT READY" in run("jobs_report")


def test_prune_deletes_old_finished_jobs_and_their_results_in_batches_never_active_ones():
    old = [ended(make_job(status=status), days_ago=100) for status in FINISHED * 2]
    for job in old:
        make_result("RELIANCE.NS", job=job)
    recent = ended(make_job(status=JobStatus.COMPLETED), days_ago=10)
    make_result("RELIANCE.NS", job=recent)
    old_but_active = [make_job(status=s, age_seconds=200 * 86400) for s in (JobStatus.QUEUED, JobStatus.PROCESSING)]
    standalone = make_result("TCS.NS")  # `manage.py analyze` result, no job

    out = run("prune", "--older-than", "90d", "--batch-size", "2")

    assert out.strip().startswith("Deleted 6 finished job(s) and 6 result(s)")
    remaining = set(AnalysisJob.objects.values_list("pk", flat=True))
    assert remaining == {recent.pk, *(job.pk for job in old_but_active)}
    assert AnalysisResult.objects.filter(job=recent).count() == 1
    assert AnalysisResult.objects.filter(pk=standalone.pk).exists()


def test_prune_dry_run_counts_and_deletes_nothing():
    job = ended(make_job(status=JobStatus.COMPLETED), days_ago=100)
    make_result("RELIANCE.NS", job=job)
    out = run("prune", "--older-than", "90d", "--dry-run")
    assert out.strip().startswith("Would delete 1 finished job(s) and 1 result(s)")
    assert AnalysisJob.objects.filter(pk=job.pk).exists()


def test_prune_keeps_a_job_that_a_pruned_one_superseded_points_to():
    replaced = ended(make_job(status=JobStatus.CANCELLED), days_ago=100)
    newer = ended(make_job(status=JobStatus.COMPLETED), days_ago=5)
    AnalysisJob.objects.filter(pk=replaced.pk).update(superseded_by=newer)
    run("prune", "--older-than", "90d")
    assert not AnalysisJob.objects.filter(pk=replaced.pk).exists()
    assert AnalysisJob.objects.filter(pk=newer.pk).exists()


@pytest.mark.parametrize("age", ["90", "0d", "ninety days", "-5d", ""])
def test_prune_refuses_an_age_it_cannot_read(age):
    make_job(status=JobStatus.COMPLETED)
    with pytest.raises(CommandError):
        run("prune", "--older-than", age)
    assert AnalysisJob.objects.count() == 1


FINISHED = [JobStatus.COMPLETED, JobStatus.FAILED, JobStatus.CANCELLED]
