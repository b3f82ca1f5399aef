"""The real yfinance -> TheTool path against a fake Yahoo on 127.0.0.1 (tests/fakeyahoo.py).

Nothing here patches yfinance: it runs its own HTTP, parsing and error handling, so an upgrade that
changes what it sends, what frame it returns or what it raises breaks these tests, not users.
Clocks are frozen with time-machine (ticking, so timeouts still pass) at known NSE moments.
"""

import threading
from datetime import UTC, date, datetime
from datetime import time as dt_time
from pathlib import Path

import numpy as np
import pytest
import time_machine

from jobs import services, tasks
from jobs.models import JobStatus
from stocks.market_data import MarketDataError, PriceHistory, SourceUnavailable, fetch_histories, limits
from stocks.market_data import yahoo as yahoo_adapter
from stocks.models import AnalysisResult, PriceCache
from tests.cluster import wait_for
from tests.fakeyahoo import FakeYahoo, point_yfinance_at
from thetool import shutdown
from thetool.shutdown import WorkerShutdown

# yfinance 1.7.0 calls DataFrame methods with inplace=True, deprecated in pandas 3.1.
pytestmark = [pytest.mark.filterwarnings("ignore::DeprecationWarning"), pytest.mark.django_db(transaction=True)]

AFTER_CLOSE = datetime(2026, 11, 27, 11, 0, tzinfo=UTC)  # Friday 16:30 IST: the 27th's bar is final
DURING_SESSION = datetime(2026, 11, 30, 6, 0, tzinfo=UTC)  # Monday 11:30 IST: the 30th's bar is provisional
MONDAY_AFTER_CLOSE = datetime(2026, 11, 30, 10, 30, tzinfo=UTC)  # Monday 16:00 IST
SATURDAY = datetime(2026, 11, 28, 6, 0, tzinfo=UTC)
DIWALI_HOLIDAY = datetime(2026, 11, 10, 11, 0, tzinfo=UTC)  # a Tuesday NSE holiday, after 15:30 IST


def symbols(n: int, prefix: str = "SYM") -> list[str]:
    return [f"{prefix}{i:04d}.NS" for i in range(n)]


@pytest.fixture
def fake():
    with FakeYahoo() as server:
        yield server


@pytest.fixture
def live(fake, tmp_path, settings, monkeypatch):
    """TheTool's yfinance source pointed at `fake`, with yfinance's caches in a temporary folder."""
    settings.THETOOL_DATA_SOURCE = "yfinance"
    settings.THETOOL_YFINANCE_CACHE_DIR = str(tmp_path / "yfinance")
    settings.THETOOL_FETCH_WALL_CLOCK_SECONDS = 10
    settings.THETOOL_RATE_LIMIT_BACKOFF_SECONDS = 0.2
    settings.THETOOL_YAHOO_REQUESTS_PER_MINUTE = 100_000
    settings.THETOOL_YAHOO_CONCURRENCY = 4
    monkeypatch.setattr(yahoo_adapter, "_configured", False)
    (tmp_path / "yfinance").mkdir()
    with point_yfinance_at(fake, cache_dir=tmp_path / "yfinance"):
        yield fake


def at(moment: datetime):
    return time_machine.travel(moment, tick=True)


def assert_same_bars(history: PriceHistory, fake: FakeYahoo, *, through: date) -> None:
    served = fake.bars(history.symbol, until=through)
    served_dates = served.dates[served.dates >= history.dates[0]]
    np.testing.assert_array_equal(history.dates, served_dates)
    count = len(history)
    np.testing.assert_allclose(history.close, served.close[-count:], rtol=1e-6)
    np.testing.assert_allclose(history.open, served.open[-count:], rtol=1e-6)
    np.testing.assert_allclose(history.volume, served.volume[-count:])


def test_a_few_hundred_symbols_get_exactly_the_bars_yahoo_served(live):
    wanted = symbols(300)
    with at(AFTER_CLOSE):
        results = fetch_histories(wanted)
    assert all(isinstance(results[symbol], PriceHistory) for symbol in wanted)
    for symbol in wanted[::37]:
        assert_same_bars(results[symbol], live, through=date(2026, 11, 27))
    assert results[wanted[0]].dates[-1] == np.datetime64("2026-11-27")
    assert live.counts["history"] == 300


def test_a_job_through_real_yfinance_completes_with_a_verdict_per_symbol(live, settings):
    settings.THETOOL_JOB_BATCH_SIZE = 20
    wanted = symbols(40) + ["GONE.NS"]
    live.delisted.add("GONE.NS")
    with at(AFTER_CLOSE):
        job, _ = services.request_analysis_job(symbols=wanted)
        assert tasks.run_analysis_job(str(job.pk)) == "completed"
    job.refresh_from_db()
    assert (job.status, job.successful, job.failed) == (JobStatus.COMPLETED, 40, 1)
    gone = AnalysisResult.objects.get(job=job, symbol="GONE.NS")
    assert "no daily bars" in gone.error and not gone.verdict


def test_requests_per_symbol_cold_then_warm_tz_cache_then_same_session(live):
    wanted = symbols(20, prefix="COLD")  # names no other test uses: yfinance remembers timezones per process
    with at(AFTER_CLOSE):
        fetch_histories(wanted)
        cold = live.data_requests
        live.reset_counts()
        PriceCache.objects.all().delete()  # a new session's fetch: bars again, the timezone from yfinance's cache
        fetch_histories(wanted)
        warm = live.data_requests
        live.reset_counts()
        fetch_histories(wanted)
        rerun = live.data_requests
    assert (cold, warm, rerun) == (40, 20, 0)


def test_during_the_session_todays_bar_is_left_out_and_never_cached(live):
    with at(DURING_SESSION):
        history = fetch_histories(["AAA.NS"])["AAA.NS"]
        live.reset_counts()
        again = fetch_histories(["AAA.NS"])["AAA.NS"]
    assert live.bars("AAA.NS", until=date(2026, 11, 30)).dates[-1] == np.datetime64("2026-11-30")  # Yahoo has it
    assert history.dates[-1] == np.datetime64("2026-11-27")  # the last final bar (Friday)
    assert PriceCache.objects.get(symbol="AAA.NS").fetched_on == date(2026, 11, 27)
    assert live.data_requests == 0 and again.dates[-1] == history.dates[-1]


def test_the_first_run_after_the_close_fetches_the_new_bar(live):
    with at(DURING_SESSION):
        fetch_histories(["AAA.NS"])
    live.reset_counts()
    with at(MONDAY_AFTER_CLOSE):
        history = fetch_histories(["AAA.NS"])["AAA.NS"]
    assert live.counts["history"] == 1
    assert history.dates[-1] == np.datetime64("2026-11-30")
    assert_same_bars(history, live, through=date(2026, 11, 30))


@pytest.mark.parametrize("quiet_day", [SATURDAY, DIWALI_HOLIDAY], ids=["weekend", "holiday"])
def test_weekends_and_holidays_ask_yahoo_for_nothing_new(live, quiet_day):
    session_before = {
        SATURDAY: datetime(2026, 11, 27, 10, 30, tzinfo=UTC),
        DIWALI_HOLIDAY: datetime(2026, 11, 9, 10, 30, tzinfo=UTC),
    }
    with at(session_before[quiet_day]):
        fetch_histories(["AAA.NS", "BBB.NS"])
    live.reset_counts()
    with at(quiet_day):
        results = fetch_histories(["AAA.NS", "BBB.NS"])
    assert live.data_requests == 0
    assert all(isinstance(history, PriceHistory) for history in results.values())


def test_an_extra_holiday_from_the_setting_is_not_a_session(live, settings):
    settings.THETOOL_NSE_EXTRA_HOLIDAYS = frozenset({date(2026, 11, 27)})
    with at(AFTER_CLOSE):
        fetch_histories(["AAA.NS"])
    assert PriceCache.objects.get(symbol="AAA.NS").fetched_on == date(2026, 11, 26)


def test_rate_limited_symbols_are_waited_for_and_all_succeed(live, settings):
    # 12 symbols at 6 accepted requests a second take 2-4 s (a cold tz cache doubles the requests):
    # a retry budget that outlasts that on a loaded machine (0.2 s doubling, ~50 s at worst).
    settings.THETOOL_RATE_LIMIT_RETRIES = 8
    live.rate_limit_per_minute, live.rate_window_seconds = 6, 1.0
    wanted = symbols(12)
    with at(AFTER_CLOSE):
        results = fetch_histories(wanted)
    assert live.counts["429"] > 0
    assert all(isinstance(results[symbol], PriceHistory) for symbol in wanted)


def test_a_lasting_rate_limit_gives_each_symbol_a_transient_error_that_says_so(live, settings):
    settings.THETOOL_RATE_LIMIT_RETRIES = 1
    settings.THETOOL_RATE_LIMIT_BACKOFF_SECONDS = 0.05
    live.rate_limit_per_minute = 0
    with at(AFTER_CLOSE):
        results = fetch_histories(["AAA.NS", "BBB.NS"])
    for error in results.values():
        assert isinstance(error, MarketDataError) and not error.permanent
        assert "kept rate-limiting" in error.message


def test_a_worker_told_to_stop_leaves_a_rate_limited_fetch_at_once(live, settings):
    # Without stop-aware waits the worker would sit out the backoff (and be killed at its stop budget).
    settings.THETOOL_RATE_LIMIT_BACKOFF_SECONDS = 3600
    live.rate_limit_per_minute = 0
    shutdown.reset()
    try:
        with shutdown.running_task(), at(AFTER_CLOSE):
            threading.Timer(0.5, shutdown.request_stop, args=("SIGTERM",)).start()  # run_worker's handler
            with pytest.raises(WorkerShutdown):
                fetch_histories(["AAA.NS", "BBB.NS"])
            # The fetch threads end too (a process exits only once they have): none sits out its backoff.
            wait_for(
                lambda: not [t for t in threading.enumerate() if t.name.startswith("yahoo")],
                timeout=30,
                message="the fetch threads to end",
            )
    finally:
        shutdown.reset()
    assert live.counts["429"] >= 2


def test_a_hanging_symbol_is_bounded_by_the_wall_clock_limit(live, settings):
    settings.THETOOL_FETCH_WALL_CLOCK_SECONDS = 2
    live.hanging.add("HANG.NS")
    wanted = symbols(6) + ["HANG.NS"]
    with at(AFTER_CLOSE):
        results = fetch_histories(wanted)
    assert isinstance(results["HANG.NS"], MarketDataError) and "within 2 s" in results["HANG.NS"].message
    assert all(isinstance(results[symbol], PriceHistory) for symbol in symbols(6))


def test_a_delisted_symbol_is_a_permanent_per_symbol_error(live):
    live.delisted.add("GONE.NS")
    with at(AFTER_CLOSE):
        results = fetch_histories(["AAA.NS", "GONE.NS"])
    assert isinstance(results["AAA.NS"], PriceHistory)
    assert isinstance(results["GONE.NS"], MarketDataError) and results["GONE.NS"].permanent


def test_random_server_errors_are_retried_and_never_fail_the_whole_fetch(live):
    live.error_rate = 0.3
    wanted = symbols(30)
    with at(AFTER_CLOSE):
        results = fetch_histories(wanted)
    assert live.counts["500"] > 0
    assert set(results) == set(wanted)
    assert sum(isinstance(outcome, PriceHistory) for outcome in results.values()) >= 25


def test_an_unreachable_yahoo_fails_the_job_fast_with_the_reason(live):
    live.stop()  # nothing listens on its port any more: connection refused
    with at(AFTER_CLOSE):
        job, _ = services.request_analysis_job(symbols=symbols(50))
        tasks.run_analysis_job(str(job.pk))
    job.refresh_from_db()
    assert job.status == JobStatus.FAILED
    assert "Yahoo Finance is unreachable" in job.status_reason


def test_a_yfinance_that_changed_under_us_fails_loudly_instead_of_every_symbol(live, monkeypatch):
    import yfinance

    def changed(self, *args, **kwargs):
        raise TypeError("history() got an unexpected keyword argument 'actions'")

    monkeypatch.setattr(yfinance.Ticker, "history", changed)
    with at(AFTER_CLOSE), pytest.raises(SourceUnavailable, match="TypeError"):
        fetch_histories(symbols(10))


def test_concurrency_towards_yahoo_is_bounded_across_workers(live, settings):
    """Two workers fetching at once share THETOOL_YAHOO_CONCURRENCY slots (in the shared cache)."""
    import threading

    from django.db import connection

    settings.THETOOL_YAHOO_CONCURRENCY = 2
    live.latency = 0.05

    def worker(names):
        try:
            fetch_histories(names)
        finally:
            connection.close()

    with at(AFTER_CLOSE):
        threads = [threading.Thread(target=worker, args=(symbols(30)[i::2],)) for i in range(2)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
    assert PriceCache.objects.count() == 30
    assert live.max_in_flight <= 2


def test_the_rate_limiter_hands_out_a_windows_permits_then_says_how_long_to_wait(settings):
    settings.THETOOL_YAHOO_REQUESTS_PER_MINUTE = 30  # 5 permits per 10-second window
    # A window no other test uses: the cache table outlives each test's flush.
    with time_machine.travel(datetime(2026, 6, 1, 3, 0, 2, tzinfo=UTC), tick=False):
        waits = [limits._take_rate_permit() for _ in range(6)]
    assert waits[:5] == [0.0] * 5
    assert waits[5] == pytest.approx(8.0)


def test_the_fake_serves_a_real_nse_csv_when_given_one(tmp_path, shared_data):
    csv = Path(shared_data) / "RELIANCE.NS_sample.csv"
    with FakeYahoo(csv_files={"RELIANCE.NS": csv}) as server:
        bars = server.bars("RELIANCE.NS", until=date(2030, 1, 1))
    assert len(bars.dates) == 80 and str(bars.dates[0]) == "2025-08-28"


def test_each_result_stores_its_data_quality_in_the_provenance(live):
    """provenance is what the stock and job APIs serialize (StockResultSerializer.provenance)."""
    with at(DURING_SESSION):
        job, _ = services.request_analysis_job(symbols=["QUAL.NS"])
        tasks.run_analysis_job(str(job.pk))
    result = AnalysisResult.objects.get(job=job, symbol="QUAL.NS")
    assert result.provenance["quality"] == {
        "data_as_of": "2026-11-27",
        "sessions_behind": 0,  # Monday's bar is still provisional: Friday's is the newest final one
        "zero_volume_run": 0,
        "flags": [],
    }


# --- A session's bar right after the close: late, or with a close Yahoo still revises ------------

MONDAY_1535 = datetime(2026, 11, 30, 10, 5, tzinfo=UTC)  # 15:35 IST: closed, Yahoo's bar not settled
MONDAY_1540 = datetime(2026, 11, 30, 10, 10, tzinfo=UTC)
MONDAY_1555 = datetime(2026, 11, 30, 10, 25, tzinfo=UTC)
MONDAY_1605 = datetime(2026, 11, 30, 10, 35, tzinfo=UTC)  # past 15:30 + THETOOL_BAR_SETTLE_MINUTES (30)
MONDAY_1620 = datetime(2026, 11, 30, 10, 50, tzinfo=UTC)


# Requests are counted per symbol: a fetch a previous test abandoned (at its wall-clock limit) may still
# reach this test's fake, since yfinance's session is process-wide.


def test_a_close_fetched_before_it_settled_serves_reruns_then_is_fetched_once_more(live):
    live.close_final_at = dt_time(15, 50)
    final_close = live.bars("AAA.NS", until=date(2026, 11, 30)).close[-1]
    with at(MONDAY_1540):
        early = fetch_histories(["AAA.NS"])["AAA.NS"]
    assert early.dates[-1] == np.datetime64("2026-11-30") and early.close[-1] != pytest.approx(final_close)
    live.reset_counts()
    with at(MONDAY_1555):
        rerun = fetch_histories(["AAA.NS"])["AAA.NS"]
    assert (
        live.history_requests["AAA.NS"] == 0 and rerun.close[-1] == early.close[-1]
    )  # until it settles, the cache serves
    with at(MONDAY_1605):
        settled = fetch_histories(["AAA.NS"])["AAA.NS"]
    assert live.history_requests["AAA.NS"] == 1
    assert_same_bars(settled, live, through=date(2026, 11, 30))  # the final close, not the provisional one
    live.reset_counts()
    with at(MONDAY_1620):
        fetch_histories(["AAA.NS"])
    assert live.history_requests["AAA.NS"] == 0
    row = PriceCache.objects.get(symbol="AAA.NS")
    assert row.fetched_on == date(2026, 11, 30) and row.fetched_at >= MONDAY_1605


def test_a_bar_yahoo_publishes_late_arrives_when_the_session_settles_not_a_session_later(live):
    live.bar_appears_at = dt_time(15, 45)
    with at(MONDAY_1535):
        early = fetch_histories(["LATE.NS"])["LATE.NS"]
    assert early.dates[-1] == np.datetime64("2026-11-27")  # Monday's bar is not at Yahoo yet
    live.reset_counts()
    with at(MONDAY_1605):
        settled = fetch_histories(["LATE.NS"])["LATE.NS"]
    assert live.history_requests["LATE.NS"] == 1
    assert settled.dates[-1] == np.datetime64("2026-11-30")


def test_a_result_on_a_close_not_yet_settled_is_flagged_and_the_next_run_is_not(live):
    live.close_final_at = dt_time(15, 50)
    with at(MONDAY_1540):
        early, _ = services.request_analysis_job(symbols=["SETL.NS"])
        assert tasks.run_analysis_job(str(early.pk)) == "completed"
    with at(MONDAY_1605):
        late, _ = services.request_analysis_job(symbols=["SETL.NS"])
        assert tasks.run_analysis_job(str(late.pk)) == "completed"
    first = AnalysisResult.objects.get(job=early).provenance["quality"]
    second = AnalysisResult.objects.get(job=late).provenance["quality"]
    assert (first["data_as_of"], first["sessions_behind"], first["flags"]) == ("2026-11-30", 0, ["settling"])
    assert (second["data_as_of"], second["flags"]) == ("2026-11-30", [])
    assert [note.label for note in AnalysisResult.objects.get(job=early).data_notes] == ["close not final"]


def test_with_no_settling_time_a_bar_fetched_after_the_close_is_final(live, settings):
    settings.THETOOL_BAR_SETTLE_MINUTES = 0
    with at(MONDAY_1540):
        fetch_histories(["AAA.NS"])
        job, _ = services.request_analysis_job(symbols=["AAA.NS"])
        tasks.run_analysis_job(str(job.pk))
    live.reset_counts()
    with at(MONDAY_1605):
        fetch_histories(["AAA.NS"])
    assert live.history_requests["AAA.NS"] == 0
    assert AnalysisResult.objects.get(job=job).provenance["quality"]["flags"] == []


def test_when_yahoo_is_unreachable_after_the_session_settled_the_earlier_bars_serve_flagged(live):
    live.close_final_at = dt_time(15, 50)
    with at(MONDAY_1540):
        early = fetch_histories(["AAA.NS", "BBB.NS"])
    live.error_rate = 1.0  # every chart request answers HTTP 500: the breaker trips
    live.reset_counts()
    with at(MONDAY_1605):
        job, _ = services.request_analysis_job(symbols=["AAA.NS", "BBB.NS"])
        assert tasks.run_analysis_job(str(job.pk)) == "completed"
    assert live.counts["500"] > 0  # Yahoo was asked, and refused
    for result in AnalysisResult.objects.filter(job=job):
        assert result.verdict and result.provenance["quality"]["flags"] == ["settling"]
        assert result.provenance["last_bar"] == "2026-11-30"
    with at(MONDAY_1605):
        again = fetch_histories(["AAA.NS"])["AAA.NS"]
    assert again.unsettled and again.close[-1] == early["AAA.NS"].close[-1]


def test_a_symbol_yahoo_cannot_refetch_after_it_settled_keeps_its_earlier_bars(live, settings):
    settings.THETOOL_FETCH_WALL_CLOCK_SECONDS = 1
    with at(MONDAY_1540):
        fetch_histories(["AAA.NS", "HANG.NS"])
    live.hanging.add("HANG.NS")
    with at(MONDAY_1605):
        results = fetch_histories(["AAA.NS", "HANG.NS"])
    assert not results["AAA.NS"].unsettled  # refetched: final
    assert results["HANG.NS"].unsettled and results["HANG.NS"].dates[-1] == np.datetime64("2026-11-30")


def test_without_earlier_bars_an_unreachable_yahoo_still_fails_fast(live):
    live.error_rate = 1.0
    with at(MONDAY_1605), pytest.raises(SourceUnavailable, match="unreachable"):
        fetch_histories(["NEW1.NS", "NEW2.NS"])
