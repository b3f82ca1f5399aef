"""Scheduled end-of-day scans: due on NSE sessions only, fired once, joining an identical running job."""

import threading
from datetime import datetime, time, timedelta

import pytest
from django.core.management import call_command
from django.db import connection

from jobs.models import AnalysisJob
from jobs.services import request_analysis_job
from stocks.calendar import IST
from tests.factories import make_result
from watchlists.models import ScanRun, ScheduledScan
from watchlists.services import _claim_scan, create_saved_screen, create_watchlist, run_due_scans, schedule_scan

pytestmark = pytest.mark.django_db

THURSDAY_MORNING = datetime(2025, 11, 27, 9, 0, tzinfo=IST)
THURSDAY_EVENING = datetime(2025, 11, 27, 16, 20, tzinfo=IST)


@pytest.fixture
def scan(people, universe):
    watchlist = create_watchlist(owner=people["alice"], name="IT", symbols=["TCS", "INFY"])
    return schedule_scan(owner=people["alice"], name="Daily IT", watchlist=watchlist, now=THURSDAY_MORNING)


def test_a_new_scan_is_due_after_the_close_of_the_next_session(scan):
    assert scan.next_run_at == datetime(2025, 11, 27, 16, 15, tzinfo=IST)


def test_nothing_fires_before_the_due_time(scan):
    assert run_due_scans(now=THURSDAY_MORNING + timedelta(hours=7)) == []
    assert AnalysisJob.objects.count() == 0


def test_a_due_scan_runs_its_watchlist_once_and_moves_to_the_next_session(scan):
    (run,) = run_due_scans(now=THURSDAY_EVENING)
    assert run.job.symbols == ["INFY.NS", "TCS.NS"] and run.job.requested_by == f"scan:{scan.pk}"
    assert run.session.isoformat() == "2025-11-27" and not run.joined_running_job
    scan.refresh_from_db()
    assert scan.next_run_at == datetime(2025, 11, 28, 16, 15, tzinfo=IST)
    assert scan.last_job_id == run.job_id
    assert run_due_scans(now=THURSDAY_EVENING + timedelta(minutes=5)) == []  # already fired today


def test_a_scan_identical_to_a_running_job_joins_it(scan, people):
    running, _ = request_analysis_job(symbols=["TCS.NS", "INFY.NS"], strategy_id=1, requested_by="api:alice")
    (run,) = run_due_scans(now=THURSDAY_EVENING)
    assert run.job_id == running.pk and run.joined_running_job
    assert AnalysisJob.objects.count() == 1


def test_a_scan_missed_over_a_weekend_fires_once_and_next_runs_on_the_next_session(scan):
    monday = datetime(2025, 12, 1, 12, 0, tzinfo=IST)
    assert len(run_due_scans(now=monday)) == 1  # the Thursday run, late: one run, not three
    scan.refresh_from_db()
    assert scan.next_run_at == datetime(2025, 12, 1, 16, 15, tzinfo=IST)


def test_a_second_runner_that_read_the_same_due_scan_cannot_claim_it(scan):
    stale_copy = ScheduledScan.objects.get(pk=scan.pk)
    assert len(run_due_scans(now=THURSDAY_EVENING)) == 1
    assert _claim_scan(scan=stale_copy, now=THURSDAY_EVENING) is False  # its UPDATE matches no row
    assert ScanRun.objects.count() == 1


def test_a_saved_screen_scan_analyses_the_stocks_its_filters_select(people, universe):
    make_result("TCS.NS", verdict="Buy")
    make_result("INFY.NS", verdict="Sell")
    screen = create_saved_screen(owner=people["alice"], name="Buys", query="verdict=Buy")
    schedule_scan(owner=people["alice"], name="Buys daily", saved_screen=screen, now=THURSDAY_MORNING)
    (run,) = run_due_scans(now=THURSDAY_EVENING)
    assert run.job.symbols == ["TCS.NS"]


def test_a_universe_scan_analyses_every_active_stock(people, universe):
    schedule_scan(owner=people["alice"], name="Everything", strategy_id=3, now=THURSDAY_MORNING, run_at=time(18, 0))
    (run,) = run_due_scans(now=datetime(2025, 11, 27, 18, 1, tzinfo=IST))
    assert run.job.is_all_stocks and run.job.strategy_id == 3 and run.job.total == 4


def test_an_empty_watchlist_scan_records_why_and_starts_nothing(people, universe):
    empty = create_watchlist(owner=people["alice"], name="Empty")
    scan = schedule_scan(owner=people["alice"], name="Nothing", watchlist=empty, now=THURSDAY_MORNING)
    assert run_due_scans(now=THURSDAY_EVENING) == []
    scan.refresh_from_db()
    assert "empty" in scan.last_error and AnalysisJob.objects.count() == 0


def test_the_command_fires_due_scans(scan, capsys, monkeypatch):
    monkeypatch.setattr("django.utils.timezone.now", lambda: THURSDAY_EVENING)
    call_command("run_due_scans")
    assert "1 scan(s) fired." in capsys.readouterr().out


@pytest.fixture
def own_test_database(transactional_db):
    """Refuse to run (before any fixture writes) unless connected to this run's own test database.

    A test that failed earlier while pointing the connection elsewhere must not send this test's
    writes into a database another run owns.
    """
    wanted = connection.settings_dict.get("TEST", {}).get("NAME")
    assert wanted and connection.settings_dict["NAME"] == wanted, (connection.settings_dict["NAME"], wanted)


@pytest.mark.postgres  # real concurrent transactions; the SQLite pass's in-memory database is one connection
@pytest.mark.django_db(transaction=True)
def test_concurrent_runners_fire_a_due_scan_exactly_once(own_test_database, people, universe):
    watchlist = create_watchlist(owner=people["alice"], name="IT", symbols=["TCS"])
    schedule_scan(owner=people["alice"], name="Daily", watchlist=watchlist, now=THURSDAY_MORNING)
    barrier, fired = threading.Barrier(4), []

    def runner():
        try:
            barrier.wait()
            fired.extend(run_due_scans(now=THURSDAY_EVENING))
        finally:
            connection.close()

    threads = [threading.Thread(target=runner) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(fired) == 1 and ScanRun.objects.count() == 1 and AnalysisJob.objects.count() == 1
