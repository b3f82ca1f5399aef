"""Retention: every result for N days, then the newest per stock, strategy and week or month."""

from datetime import UTC, datetime, timedelta
from io import StringIO

import pytest
from django.core.management import call_command

from jobs.models import JobStatus
from stocks.models import AnalysisResult, LatestResult
from stocks.retention import thin_results
from tests.factories import make_job, make_result

pytestmark = pytest.mark.django_db

NOW = datetime(2026, 6, 30, 12, 0, tzinfo=UTC)
MONDAY = datetime(2026, 1, 5, 10, 0, tzinfo=UTC)  # 15:30 in Kolkata, an ISO week's first day


def day(n: int, hour: int = 0) -> datetime:
    return MONDAY + timedelta(days=n, hours=hour)


def kept() -> set[int]:
    return set(AnalysisResult.objects.values_list("pk", flat=True))


def test_old_results_thin_to_the_newest_of_each_week_per_symbol_and_strategy():
    week1 = [make_result("TCS.NS", created_at=day(n)) for n in range(5)]  # Mon..Fri
    week2 = [make_result("TCS.NS", created_at=day(n)) for n in (7, 8)]
    other_strategy = make_result("TCS.NS", strategy_id=2, created_at=day(1))
    other_symbol = make_result("INFY.NS", created_at=day(2))
    recent = [make_result("TCS.NS", created_at=NOW - timedelta(days=d)) for d in (1, 2, 3)]

    report = thin_results(keep_days=30, thin_to="week", now=NOW)

    assert kept() == {week1[-1].pk, week2[-1].pk, other_strategy.pk, other_symbol.pk, *(r.pk for r in recent)}
    assert report.deleted == 5
    assert thin_results(keep_days=30, thin_to="week", now=NOW).deleted == 0  # idempotent


def test_month_keeps_one_result_per_calendar_month_in_kolkata_time():
    january = [make_result("TCS.NS", created_at=day(n)) for n in (0, 10, 20)]
    # 31 January 20:00 UTC is already 1 February in Kolkata: it belongs to February.
    february = make_result("TCS.NS", created_at=datetime(2026, 1, 31, 20, 0, tzinfo=UTC))
    make_result("TCS.NS", created_at=NOW)  # the latest, recent

    thin_results(keep_days=30, thin_to="month", now=NOW)

    assert kept() >= {january[-1].pk, february.pk}
    assert not kept() & {january[0].pk, january[1].pk}


def test_results_of_active_jobs_are_never_thinned():
    running = make_job(["TCS.NS"], status=JobStatus.PROCESSING)
    active = make_result("TCS.NS", job=running, created_at=day(0))
    make_result("TCS.NS", created_at=day(1))
    make_result("TCS.NS", created_at=NOW)

    thin_results(keep_days=30, thin_to="week", now=NOW)

    assert active.pk in kept()


def test_a_result_the_latest_table_points_to_is_never_thinned():
    make_result("TCS.NS", created_at=day(3))
    pointed = make_result("TCS.NS", created_at=day(1))  # older date, but the stock's latest pointer
    LatestResult.objects.filter(stock_id="TCS.NS").update(result=pointed, created_at=pointed.created_at)

    thin_results(keep_days=30, thin_to="week", now=NOW)

    assert pointed.pk in kept()


def test_dry_run_counts_and_deletes_nothing():
    for n in range(3):
        make_result("TCS.NS", created_at=day(n))
    make_result("TCS.NS", created_at=NOW)

    report = thin_results(keep_days=30, thin_to="week", now=NOW, dry_run=True)

    assert report.deleted == 2 and AnalysisResult.objects.count() == 4


def test_thin_results_command_uses_the_settings(settings):
    settings.THETOOL_RESULTS_KEEP_DAYS = 1
    settings.THETOOL_RESULTS_THIN_TO = "month"
    for n in range(3):
        make_result("TCS.NS", created_at=day(n))
    make_result("TCS.NS")

    out = StringIO()
    call_command("thin_results", stdout=out)

    assert "thin_to='month'" in out.getvalue() and "deleted=2" in out.getvalue()
    assert AnalysisResult.objects.count() == 2


def test_retention_runs_daily_from_a_django_q2_schedule_with_the_configured_settings(settings):
    from django_q.models import Schedule

    from stocks.tasks import thin_results_daily

    schedule = Schedule.objects.get(func="stocks.tasks.thin_results_daily")
    assert (schedule.schedule_type, schedule.repeats) == (Schedule.DAILY, -1)

    settings.THETOOL_RESULTS_KEEP_DAYS = 1
    for n in range(3):
        make_result("TCS.NS", created_at=day(n))
    make_result("TCS.NS")

    assert thin_results_daily().startswith("deleted 2 of 3")
