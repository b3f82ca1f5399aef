"""Operators read jobs in the admin: active first, stale marked, changed only through actions."""

from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from jobs import services
from jobs.models import AnalysisJob, JobKind, JobStatus
from stocks.models import AnalysisResult
from stocks.strategies import STRATEGIES

pytestmark = pytest.mark.django_db(transaction=True)

CHANGELIST = reverse("admin:jobs_analysisjob_changelist")


def make(symbols, **fields) -> AnalysisJob:
    job, _ = services.request_analysis_job(symbols=symbols)
    if fields:
        AnalysisJob.objects.filter(pk=job.pk).update(**fields)
        job.refresh_from_db()
    return job


def listed(response) -> list:
    """The jobs of a changelist page, in the order shown."""
    assert response.status_code == 200
    return list(response.context["cl"].result_list)


def test_the_changelist_lists_queued_and_processing_jobs_first(admin_client):
    now = timezone.now()
    queued = make(["TCS.NS"], created_at=now - timedelta(minutes=2))
    processing = make(
        ["RELIANCE.NS"], status=JobStatus.PROCESSING, attempt=1, heartbeat_at=now, completed=0,
        created_at=now - timedelta(minutes=1),
    )  # fmt: skip
    # The finished job is the newest, so newest-first alone would list it first: only the
    # active-first ordering puts it last.
    done = make(["INFY.NS"], status=JobStatus.COMPLETED, finished_at=now, created_at=now)
    page = admin_client.get(CHANGELIST)
    assert listed(page) == [processing, queued, done]
    html = page.content.decode()
    assert html.count("<progress") == 3


def test_a_stale_job_is_marked_and_can_be_filtered(admin_client, settings):
    stale = make(
        ["TCS.NS"],
        status=JobStatus.PROCESSING,
        attempt=1,
        heartbeat_at=timezone.now() - timedelta(seconds=settings.THETOOL_JOB_STALE_SECONDS + 60),
    )
    healthy = make(["INFY.NS"], status=JobStatus.PROCESSING, attempt=1, heartbeat_at=timezone.now())
    html = admin_client.get(CHANGELIST).content.decode()
    assert html.count("STALE") == 1
    assert listed(admin_client.get(CHANGELIST, {"health": "stale"})) == [stale]
    assert healthy in listed(admin_client.get(CHANGELIST))


@pytest.mark.parametrize("status", [s for s, _ in JobStatus.choices])
def test_every_status_has_a_filter(admin_client, status):
    job = make(["TCS.NS"])
    AnalysisJob.objects.filter(pk=job.pk).update(status=status)
    other_status = next(s for s, _ in JobStatus.choices if s != status)
    make(["INFY.NS"], status=other_status)
    # The sidebar offers the filter (Django filters on `status__exact` even without it, so the
    # link is what proves the filter exists), and following it shows only jobs of that status.
    assert f'href="?status__exact={status}"' in admin_client.get(CHANGELIST).content.decode()
    assert listed(admin_client.get(CHANGELIST, {"status__exact": status})) == [job]


def test_backtests_are_told_apart_from_analyses_and_can_be_filtered(admin_client):
    analysis = make(["TCS.NS"])
    backtest = make(["INFY.NS"], kind=JobKind.BACKTEST)
    page = admin_client.get(CHANGELIST).content.decode()
    assert 'href="?kind__exact=backtest"' in page and '<td class="field-kind">Backtest</td>' in page
    assert listed(admin_client.get(CHANGELIST, {"kind__exact": "backtest"})) == [backtest]
    assert listed(admin_client.get(CHANGELIST, {"kind__exact": "analysis"})) == [analysis]


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


def test_the_changelist_names_each_strategy_and_filters_by_name(admin_client):
    balanced = make(["TCS.NS"])
    weekly = make(["INFY.NS"], strategy_id=5, requested_by="api:alice")
    page = admin_client.get(CHANGELIST).content.decode()
    assert '<td class="field-strategy">Balanced</td>' in page
    assert f'<td class="field-strategy">{STRATEGIES[5].name}</td>' in page
    assert '<td class="field-requested_by">api:alice</td>' in page
    # The filter offers names, not bare ids; an id that is no strategy filters nothing out.
    assert f'href="?strategy=5">{STRATEGIES[5].name}</a>' in page
    assert listed(admin_client.get(CHANGELIST, {"strategy": "5"})) == [weekly]
    assert set(listed(admin_client.get(CHANGELIST, {"strategy": "x"}))) == {balanced, weekly}


def test_the_changelist_shows_when_each_job_was_created_in_ist_and_how_long_ago(admin_client):
    from datetime import UTC, datetime

    make(["TCS.NS"], created_at=datetime(2026, 3, 3, 20, 0, tzinfo=UTC), duplicate_count=3)
    page = admin_client.get(CHANGELIST).content.decode()
    assert "04 Mar 01:30 · " in page and " ago</span>" in page  # 20:00 UTC is 01:30 IST the next day
    assert '<td class="field-duplicates">3</td>' in page
    assert "?o=" in page  # the column headers sort


def test_the_admin_is_named_thetool_and_leaves_the_job_list_the_whole_width(admin_client):
    page = admin_client.get(CHANGELIST).content.decode()
    assert "TheTool administration" in page
    assert 'id="nav-sidebar"' not in page
