"""The staff operations dashboard: staff only, linked from the admin, numbers per range."""

import json
from datetime import UTC, datetime, timedelta

import pytest
from django.contrib.auth.models import User
from django.test import Client
from django.utils import timezone

from jobs.models import AnalysisJob, JobStatus
from tests.ops.conftest import make_job, record_reaper_run

pytestmark = pytest.mark.django_db


@pytest.fixture
def staff():
    client = Client()
    client.force_login(User.objects.create_user("ops", password="pw-for-tests-only", is_staff=True))
    return client


def dashboard_data(response) -> dict:
    html = response.content.decode()
    start = html.index('<script id="ops-dashboard-data" type="application/json">') + len(
        '<script id="ops-dashboard-data" type="application/json">'
    )
    return json.loads(html[start : html.index("</script>", start)])


def test_the_dashboard_is_for_staff_only():
    client = Client()
    assert client.get("/admin/dashboard/").status_code == 302
    client.force_login(User.objects.create_user("trader", password="pw-for-tests-only"))
    assert client.get("/admin/dashboard/").status_code == 302


def test_the_admin_index_links_to_the_dashboard(staff):
    assert 'href="/admin/dashboard/"' in staff.get("/admin/").content.decode()


def test_a_live_worker_s_start_is_shown_in_ist_not_as_utc_iso_text(staff):
    started = datetime(2026, 3, 2, 20, 0, tzinfo=UTC)  # 01:30 the next day in Mumbai
    record_reaper_run(seconds_ago=5, started_at=started)

    html = staff.get("/admin/dashboard/").content.decode()

    assert '<td class="when" title="2026-03-02T20:00:00+00:00 (UTC)">03 Mar 2026, 01:30 IST</td>' in html


def test_the_dashboard_counts_jobs_duplicates_rates_failures_queue_and_workers(staff):
    record_reaper_run(seconds_ago=20)
    make_job(status=JobStatus.QUEUED, duplicate_count=6, age_seconds=60)
    make_job(status=JobStatus.COMPLETED, duplicate_count=2, age_seconds=3 * 3600)
    replaced = make_job(status=JobStatus.CANCELLED, status_reason="Superseded by a forced request", age_seconds=7200)
    AnalysisJob.objects.filter(pk=replaced.pk).update(finished_at=timezone.now() - timedelta(hours=1))
    failed = make_job(status=JobStatus.FAILED, status_reason="Gave up after 3 attempts", age_seconds=7200)
    AnalysisJob.objects.filter(pk=failed.pk).update(finished_at=timezone.now() - timedelta(hours=1))
    make_job(status=JobStatus.COMPLETED, duplicate_count=50, age_seconds=3 * 86400)  # outside 24 h

    response = staff.get("/admin/dashboard/?range=24h")

    assert response.status_code == 200
    data = dashboard_data(response)
    totals = data["totals"]
    assert (totals["created"], totals["duplicates"], totals["forced"], totals["failed"]) == (4, 8, 1, 1)
    assert totals["duplicate_rate"] == pytest.approx(8 / 12, abs=1e-4)
    assert totals["forced_rate"] == pytest.approx(1 / 4)
    assert data["failures_by_reason"] == {"gave_up": 1}
    assert data["queue"]["queued"] == 1
    assert (data["cluster"]["alive"], data["cluster"]["workers_alive"]) == (True, 1)
    assert data["unit"] == "hour"
    assert sum(point["created"] for point in data["series"]) == 4
    # Buckets are Asia/Kolkata hours (UTC+5:30): they start at half past the UTC hour.
    assert data["tz_offset_seconds"] == 19800
    assert all(point["time"] % 3600 == 1800 for point in data["series"])
    assert len(data["series"]) in (24, 25), "every hour of the range, quiet ones as zeros"
    html = response.content.decode()
    assert 'data-metric="created">4<' in html
    assert 'data-metric="workers">1 run_worker process, 2 job processes<' in html
    assert 'data-worker="worker-1:' in html
    assert "lightweight-charts-5.2.1.standalone.production.js" in html

    month = dashboard_data(staff.get("/admin/dashboard/?range=30d"))
    assert (month["unit"], month["totals"]["created"], month["totals"]["duplicates"]) == ("day", 5, 58)
    assert all((point["time"] + 19800) % 86400 == 0 for point in month["series"]), "days start at IST midnight"
    assert len(month["series"]) in (30, 31)


def test_an_unknown_range_falls_back_to_24_hours(staff):
    assert dashboard_data(staff.get("/admin/dashboard/?range=forever"))["range"] == "24h"


def test_no_live_worker_is_shown_plainly(staff):
    html = staff.get("/admin/dashboard/").content.decode()
    assert 'data-metric="workers"><strong class="status-badge status-failed">none</strong>' in html
