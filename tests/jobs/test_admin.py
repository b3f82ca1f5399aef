"""Operators read jobs in the admin: active first, stale marked, changed only through actions."""

from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from jobs import services
from jobs.models import AnalysisJob, JobStatus
from stocks.models import AnalysisResult

pytestmark = pytest.mark.django_db(transaction=True)

CHANGELIST = reverse("admin:jobs_analysisjob_changelist")


def make(symbols, **fields) -> AnalysisJob:
    job, _ = services.request_analysis_job(symbols=symbols)
    if fields:
        AnalysisJob.objects.filter(pk=job.pk).update(**fields)
        job.refresh_from_db()
    return job


def test_the_changelist_lists_queued_and_processing_jobs_first(admin_client):
    done = make(["INFY.NS"], status=JobStatus.COMPLETED, finished_at=timezone.now())
    queued = make(["TCS.NS"])
    processing = make(["RELIANCE.NS"], status=JobStatus.PROCESSING, attempt=1, heartbeat_at=timezone.now(), completed=0)
    page = admin_client.get(CHANGELIST)
    assert page.status_code == 200
    html = page.content.decode()
    positions = {job: html.index(str(job.pk)[:8]) for job in (done, queued, processing)}
    assert positions[processing] < positions[done] and positions[queued] < positions[done]
    assert "queued" in html and "processing" in html
    assert "<progress" in html


def test_a_stale_job_is_marked_and_can_be_filtered(admin_client, settings):
    stale = make(
        ["TCS.NS"],
        status=JobStatus.PROCESSING,
        attempt=1,
        heartbeat_at=timezone.now() - timedelta(seconds=settings.THETOOL_JOB_STALE_SECONDS + 60),
    )
    healthy = make(["INFY.NS"], status=JobStatus.PROCESSING, attempt=1, heartbeat_at=timezone.now())
    html = admin_client.get(CHANGELIST).content.decode()
    assert "STALE" in html
    filtered = admin_client.get(CHANGELIST + "?health=stale").content.decode()
    assert str(stale.pk)[:8] in filtered and str(healthy.pk)[:8] not in filtered


@pytest.mark.parametrize("status", [s for s, _ in JobStatus.choices])
def test_every_status_has_a_filter(admin_client, status):
    job = make(["TCS.NS"])
    AnalysisJob.objects.filter(pk=job.pk).update(status=status)
    html = admin_client.get(CHANGELIST + f"?status__exact={status}").content.decode()
    assert str(job.pk)[:8] in html


def test_search_by_job_id_and_symbol(admin_client):
    job = make(["M&M.NS"])
    other = make(["TCS.NS"])
    by_id = admin_client.get(CHANGELIST, {"q": str(job.pk)}).content.decode()
    assert str(job.pk)[:8] in by_id and str(other.pk)[:8] not in by_id
    by_symbol = admin_client.get(CHANGELIST, {"q": "M&M"}).content.decode()
    assert str(job.pk)[:8] in by_symbol and str(other.pk)[:8] not in by_symbol


def test_the_job_page_shows_errors_and_links_results_and_is_read_only(admin_client):
    job = make(["BAD.NS", "TCS.NS"], status=JobStatus.COMPLETED, completed=1)
    AnalysisResult.objects.create(job=job, symbol="BAD.NS", strategy_id=1, capital=100000, error="no data returned")
    page = admin_client.get(reverse("admin:jobs_analysisjob_change", args=[job.pk]))
    assert page.status_code == 200
    html = page.content.decode()
    assert "BAD.NS" in html and "no data returned" in html
    assert f"job__id__exact={job.pk}" in html
    assert 'name="_save"' not in html, "jobs change only through actions"
    assert admin_client.get(reverse("admin:jobs_analysisjob_add")).status_code == 403


def test_cancel_action(admin_client):
    job = make(["TCS.NS"])
    admin_client.post(CHANGELIST, {"action": "cancel_jobs", "_selected_action": [job.pk]})
    job.refresh_from_db()
    assert job.status == JobStatus.CANCELLED and "admin:admin" in job.status_reason


def test_recover_now_action_requeues_a_stale_job(admin_client):
    job = make(["TCS.NS"], status=JobStatus.PROCESSING, attempt=1, heartbeat_at=timezone.now() - timedelta(hours=1))
    response = admin_client.post(CHANGELIST, {"action": "recover_jobs_now", "_selected_action": [job.pk]}, follow=True)
    job.refresh_from_db()
    assert job.status == JobStatus.QUEUED
    assert "1 stale processing job(s) re-queued" in response.content.decode()


def test_rerun_action_starts_a_forced_new_job(admin_client):
    job = make(["TCS.NS"], status=JobStatus.FAILED, status_reason="Yahoo unreachable")
    admin_client.post(CHANGELIST, {"action": "rerun_jobs", "_selected_action": [job.pk]})
    new = AnalysisJob.objects.exclude(pk=job.pk).get()
    assert new.status == JobStatus.QUEUED and new.symbols == job.symbols and new.requested_by == "admin:admin"
