"""Market data: the cache around yfinance, demo, csv:DIR, validation.

Here `yahoo._yf_history` (our one-symbol wrapper) is patched with frames; the real yfinance path
(HTTP, parsing, rate limits, timeouts, the circuit breaker) runs against a fake Yahoo server in
test_yahoo_live.py.
"""

import os
import shutil
import subprocess
import sys
import threading
from datetime import UTC, date, datetime

import numpy as np
import pandas as pd
import pytest
import time_machine
from django.conf import settings as django_settings

from stocks.market_data import (
    MarketDataError,
    PriceHistory,
    bars_to_json,
    cache,
    demo_history,
    fetch_histories,
    source_kind,
    validate_bars,
)
from stocks.market_data import yahoo as yahoo_adapter
from stocks.models import PriceCache

# yfinance 1.7.0's own download code calls DataFrame.rename(inplace=True), deprecated in pandas 3.1.
pytestmark = pytest.mark.filterwarnings("ignore:The inplace keyword:DeprecationWarning")

TODAY = datetime(2026, 3, 4, 9, 30, tzinfo=UTC)  # a Wednesday


# --- Frames shaped like yfinance 1.7.0 -------------------------------------------------------


def history_frame(n: int = 300, *, start: str = "2024-01-01", seed: int = 0, base: float = 100.0) -> pd.DataFrame:
    """One ticker as `Ticker.history(auto_adjust=True, actions=False)` gives it, minus the timezone."""
    rng = np.random.default_rng(seed)
    close = base * np.exp(np.cumsum(rng.normal(0, 0.01, n)))
    open_ = close * (1 + rng.normal(0, 0.004, n))
    high = np.maximum(open_, close) * (1 + rng.uniform(0, 0.01, n))
    low = np.minimum(open_, close) * (1 - rng.uniform(0, 0.01, n))
    volume = rng.integers(1_000, 1_000_000, n)
    index = pd.bdate_range(start, periods=n, name="Date")
    return pd.DataFrame({"Open": open_, "High": high, "Low": low, "Close": close, "Volume": volume}, index=index)


class FakeHistory:
    """Stands in for yahoo._yf_history (one symbol's `Ticker.history` frame); records the symbols asked."""

    def __init__(self, script: dict):
        self.script = script
        self.calls: list[str] = []
        self._lock = threading.Lock()

    def __call__(self, symbol, start):
        with self._lock:
            self.calls.append(symbol)
        answer = self.script.get(symbol)
        if isinstance(answer, BaseException):
            raise answer
        if answer is None:
            raise AssertionError(f"a test asked for {symbol}, which its script does not know")
        return answer


@pytest.fixture(autouse=True)
def no_yahoo(monkeypatch):
    """Whatever a test forgets to patch, yfinance cannot reach the network."""

    def refuse(symbol, start):
        raise AssertionError(f"a test tried to reach Yahoo for {symbol}")

    monkeypatch.setattr(yahoo_adapter, "_yf_history", refuse)


@pytest.fixture
def yahoo(monkeypatch, settings):
    """Install a FakeHistory and fast, small limits; returns a factory.

    The real yfinance path (HTTP, parsing, errors) is tested against a fake Yahoo server in
    test_yahoo_live.py; these tests cover the cache around it.
    """
    settings.THETOOL_DATA_SOURCE = "yfinance"
    settings.THETOOL_FETCH_WALL_CLOCK_SECONDS = 5

    def install(script: dict) -> FakeHistory:
        fake = FakeHistory(script)
        monkeypatch.setattr(yahoo_adapter, "_yf_history", fake)
        return fake

    return install


@pytest.fixture
def today():
    with time_machine.travel(TODAY, tick=False):
        yield TODAY.date()


SYMBOLS = ["AAA.NS", "BBB.NS", "CCC.NS", "DDD.NS", "EEE.NS"]


def good_script(symbols=SYMBOLS) -> dict:
    return {symbol: history_frame(seed=i, base=100 + 50 * i) for i, symbol in enumerate(symbols)}


# --- yfinance: the cache around it ---------------------------------------------------------


@pytest.mark.django_db(transaction=True)  # fetches run in threads with their own connections
def test_second_fetch_in_the_same_session_reads_the_cache_and_calls_nothing(yahoo, today):
    fake = yahoo(good_script())
    first = fetch_histories(SYMBOLS)
    second = fetch_histories(SYMBOLS)
    assert sorted(fake.calls) == SYMBOLS
    for symbol in SYMBOLS:
        np.testing.assert_array_equal(first[symbol].close, second[symbol].close)


@pytest.mark.django_db(transaction=True)  # fetches run in threads with their own connections
def test_only_symbols_missing_from_the_cache_are_fetched(yahoo, today):
    fake = yahoo(good_script())
    fetch_histories(SYMBOLS[:2])
    fetch_histories(SYMBOLS)
    assert sorted(fake.calls) == SYMBOLS


@pytest.mark.django_db(transaction=True)  # fetches run in threads with their own connections
def test_cache_rows_hold_compact_column_arrays_keyed_by_the_last_completed_session(yahoo, today):
    yahoo(good_script())
    fetch_histories(["AAA.NS"])
    row = PriceCache.objects.get(symbol="AAA.NS")
    assert set(row.bars) == {"d", "o", "h", "l", "c", "v"}
    assert row.bar_count == len(row.bars["d"]) == 300
    assert row.fetched_on == date(2026, 3, 2)  # TODAY is Wednesday 15:00 IST; Tuesday 3 March 2026 is Holi


@pytest.mark.django_db(transaction=True)  # fetches run in threads with their own connections
def test_use_cache_false_fetches_again_and_refreshes_the_sessions_row(yahoo, today):
    fake = yahoo({"AAA.NS": history_frame(seed=1)})
    fetch_histories(["AAA.NS"])
    fake.script["AAA.NS"] = history_frame(seed=2)
    refreshed = fetch_histories(["AAA.NS"], use_cache=False)["AAA.NS"]
    assert fake.calls == ["AAA.NS", "AAA.NS"]
    row = PriceCache.objects.get(symbol="AAA.NS")
    assert row.bars["c"][-1] == pytest.approx(refreshed.close[-1])


@pytest.mark.django_db(transaction=True)  # fetches run in threads with their own connections
def test_a_cache_row_of_an_earlier_session_is_neither_used_nor_kept(yahoo):
    with time_machine.travel(datetime(2026, 3, 5, 11, 0, tzinfo=UTC), tick=False):  # Thursday after the close
        yahoo(good_script())
        fetch_histories(["AAA.NS"])
    with time_machine.travel(datetime(2026, 3, 6, 11, 0, tzinfo=UTC), tick=False):  # Friday after the close
        fake = yahoo(good_script())
        fetch_histories(["AAA.NS"])
    assert fake.calls == ["AAA.NS"]
    assert list(PriceCache.objects.values_list("fetched_on", flat=True)) == [date(2026, 3, 6)]


@pytest.mark.django_db(transaction=True)  # fetches run in threads with their own connections
def test_a_concurrent_writer_of_the_same_row_does_not_fail_the_fetch(yahoo, today):
    yahoo(good_script())
    history = fetch_histories(["AAA.NS"])["AAA.NS"]
    # A second worker that fetched the same symbol writes the same (symbol, source, session): ignored.
    cache.write_cache({"AAA.NS": history}, day=date(2026, 3, 2))
    assert PriceCache.objects.filter(symbol="AAA.NS").count() == 1


@pytest.mark.django_db(transaction=True)  # fetches run in threads with their own connections
def test_2192_cached_symbols_are_read_in_a_few_queries_without_calling_yahoo(
    yahoo, today, django_assert_max_num_queries
):
    symbols = [f"S{i:04d}.NS" for i in range(2192)]
    bars = bars_to_json(demo_history("X.NS"))
    PriceCache.objects.bulk_create(
        PriceCache(
            symbol=s, source="yfinance", fetched_on=date(2026, 3, 2), bars=bars, bar_count=500,
            first_bar=date(2024, 1, 1), last_bar=date(2026, 3, 2),
        )
        for s in symbols
    )  # fmt: skip
    fake = yahoo({})
    # Batched reads (IN lists), not a query per symbol; the speed itself is measured by
    # bench/bench_universe.py ("read + validate cached bars"), never asserted in a test.
    with django_assert_max_num_queries(10):
        results = fetch_histories(symbols, source="yfinance")
    assert fake.calls == []
    assert len(results) == 2192
    assert all(isinstance(r, PriceHistory) and len(r) == 500 for r in results.values())


@pytest.mark.django_db(transaction=True)  # fetches run in threads with their own connections
def test_bad_bars_from_yahoo_are_a_permanent_error_naming_the_date(yahoo, today):
    frame = history_frame(seed=1)
    frame.iloc[-3, frame.columns.get_loc("High")] = frame["Low"].iloc[-3] * 0.5
    yahoo({"AAA.NS": frame})
    error = fetch_histories(["AAA.NS"])["AAA.NS"]
    assert isinstance(error, MarketDataError) and error.permanent
    assert np.datetime_as_string(np.datetime64(frame.index[-3], "D")) in error.message


@pytest.mark.django_db(transaction=True)
def test_a_malformed_symbol_is_a_per_symbol_error(yahoo):
    fake = yahoo({})
    results = fetch_histories(["../etc/passwd", "AAA NS"])
    assert all(isinstance(error, MarketDataError) and error.permanent for error in results.values())
    assert fake.calls == []


# --- validate_bars ---------------------------------------------------------------------------


def small_frame() -> pd.DataFrame:
    index = pd.DatetimeIndex(["2025-01-01", "2025-01-02", "2025-01-03"], name="Date")
    return pd.DataFrame(
        {
            "Open": [10.0, 10.5, 10.2],
            "High": [11.0, 11.0, 10.8],
            "Low": [9.5, 10.0, 10.0],
            "Close": [10.4, 10.1, 10.6],
            "Volume": [100, 0, 300],
        },
        index=index,
    )


def broken(change) -> pd.DataFrame:
    frame = small_frame()
    change(frame)
    return frame


@pytest.mark.parametrize(
    ("frame", "message"),
    [
        (small_frame().drop(columns=["Volume", "Low"]), "missing column(s) Low, Volume"),
        (broken(lambda f: f.__setitem__("Close", [10.4, np.nan, 10.6])), "missing value (NaN) in Close on 2025-01-02"),
        (broken(lambda f: f.__setitem__("Low", [9.5, 10.0, -1.0])), "non-positive price on 2025-01-03"),
        (broken(lambda f: f.__setitem__("Open", [0.0, 10.5, 10.2])), "non-positive price on 2025-01-01"),
        (broken(lambda f: f.__setitem__("High", [11.0, 9.0, 10.8])), "high below low on 2025-01-02"),
        (broken(lambda f: f.__setitem__("Open", [10.0, 10.5, 10.9])), "open outside [low, high] on 2025-01-03"),
        (broken(lambda f: f.__setitem__("Close", [9.4, 10.1, 10.6])), "close outside [low, high] on 2025-01-01"),
        (broken(lambda f: f.__setitem__("Volume", [100, -5, 300])), "negative volume on 2025-01-02"),
        (broken(lambda f: f.__setitem__("High", [11.0, np.inf, 10.8])), "infinite value in High on 2025-01-02"),
        (broken(lambda f: f.__setitem__("Low", [9.5, 10.0, -np.inf])), "infinite value in Low on 2025-01-03"),
        (broken(lambda f: f.__setitem__("Volume", [np.inf, 0, 300])), "infinite value in Volume on 2025-01-01"),
        (small_frame().iloc[[0, 2, 1]], "dates out of order on 2025-01-02"),
        (small_frame().iloc[[0, 1, 1]], "duplicate date on 2025-01-02"),
        (broken(lambda f: f.__setitem__("Close", ["a", "b", "c"])), "non-numeric values in Close"),
        (small_frame().iloc[0:0], "no bars"),
    ],
)
def test_validation_names_the_problem_and_the_first_bad_date(frame, message):
    with pytest.raises(MarketDataError) as caught:
        validate_bars(frame, symbol="X.NS", source="csv")
    assert caught.value.message == f"X.NS: {message}"
    assert caught.value.permanent is True


@pytest.mark.django_db(transaction=True)
def test_an_infinite_volume_from_yahoo_is_a_symbol_error_and_is_never_cached(yahoo, today):
    frame = history_frame(seed=1).astype({"Volume": "float64"})  # yfinance's volume column is float
    frame.iloc[-2, frame.columns.get_loc("Volume")] = np.inf
    yahoo({"AAA.NS": frame, "BBB.NS": history_frame(seed=2)})
    results = fetch_histories(["AAA.NS", "BBB.NS"])
    day = np.datetime_as_string(np.datetime64(frame.index[-2], "D"))
    assert results["AAA.NS"].message == f"AAA.NS: infinite value in Volume on {day}"
    assert list(PriceCache.objects.values_list("symbol", flat=True)) == ["BBB.NS"]


def test_valid_bars_become_a_price_history_and_zero_volume_is_allowed():
    history = validate_bars(small_frame(), symbol="X.NS", source="csv")
    assert len(history) == 3 and history.volume[1] == 0
    assert history.dates.dtype == np.dtype("datetime64[D]")
    assert repr(history) == "PriceHistory(X.NS, csv, 3 bars 2025-01-01..2025-01-03)"


def test_a_timezone_aware_index_keeps_its_local_calendar_date():
    frame = small_frame()
    frame.index = frame.index.tz_localize("Asia/Kolkata")  # midnight IST is the previous day in UTC
    history = validate_bars(frame, symbol="X.NS", source="csv")
    assert str(history.dates[0]) == "2025-01-01"


def test_few_bars_are_not_an_error_here():
    """The analysis engine owns the minimum bar count (it needs >= 250)."""
    assert len(validate_bars(small_frame().iloc[:1], symbol="X.NS", source="csv")) == 1


# --- demo ------------------------------------------------------------------------------------


def test_demo_bars_are_valid_and_end_on_the_last_business_day_before_today(today):
    history = fetch_histories(["RELIANCE.NS"], source="demo")["RELIANCE.NS"]
    assert isinstance(history, PriceHistory) and history.source == "demo"
    assert len(history) == 500
    assert str(history.dates[-1]) == "2026-03-03"  # the Tuesday before Wednesday TODAY
    assert np.is_busday(history.dates).all() and (np.diff(history.dates).astype(int) > 0).all()
    assert (history.low <= np.minimum(history.open, history.close)).all()
    assert (history.high >= np.maximum(history.open, history.close)).all()
    assert (history.low > 0).all() and (history.volume > 0).all()


@pytest.mark.parametrize(("now", "last"), [("2026-03-09", "2026-03-06"), ("2026-03-08", "2026-03-06")])
def test_demo_skips_the_weekend(now, last):
    with time_machine.travel(datetime.fromisoformat(now).replace(hour=12, tzinfo=UTC), tick=False):
        assert str(demo_history("TCS.NS").dates[-1]) == last


def test_demo_is_deterministic_per_symbol_and_differs_between_symbols(today):
    first, again, other = demo_history("TCS.NS"), demo_history("TCS.NS"), demo_history("INFY.NS")
    np.testing.assert_array_equal(first.close, again.close)
    assert not np.array_equal(first.close, other.close)


def test_demo_symbols_get_different_regimes(today):
    """Up-trends, down-trends and ranges over the last 60 bars, so verdicts differ between symbols."""
    moves = [h.close[-1] / h.close[-60] - 1 for h in (demo_history(f"S{i}.NS") for i in range(60))]
    assert sum(move > 0.05 for move in moves) >= 5
    assert sum(move < -0.05 for move in moves) >= 5
    assert sum(abs(move) < 0.03 for move in moves) >= 3


def test_demo_is_the_same_in_another_process_with_another_hash_seed(today):
    script = (
        "import django, os; django.setup();"
        "from datetime import date; from stocks.market_data import demo_history;"
        "h = demo_history('M&M.NS', today=date(2026, 3, 4));"
        "print(repr(float(h.close.sum())), repr(float(h.volume.sum())))"
    )
    env = {**os.environ, "PYTHONHASHSEED": "12345", "DJANGO_SETTINGS_MODULE": "thetool.settings"}
    output = subprocess.run(
        [sys.executable, "-c", script], cwd=django_settings.BASE_DIR, env=env, capture_output=True, text=True,
        check=True, timeout=60,
    ).stdout.split()  # fmt: skip
    here = demo_history("M&M.NS", today=date(2026, 3, 4))
    assert output == [repr(float(here.close.sum())), repr(float(here.volume.sum()))]


# --- csv:DIR ---------------------------------------------------------------------------------


def test_csv_source_reads_a_real_yfinance_export(shared_data, tmp_path):
    shutil.copy(shared_data / "RELIANCE.NS_sample.csv", tmp_path / "RELIANCE.NS.csv")
    history = fetch_histories(["RELIANCE.NS"], source=f"csv:{tmp_path}")["RELIANCE.NS"]
    assert isinstance(history, PriceHistory) and history.source == "csv"
    assert len(history) == 80
    assert str(history.dates[0]) == "2025-08-28"  # "2025-08-28 00:00:00+05:30" is the 28th in Mumbai
    assert history.close[0] == pytest.approx(1385.9000244140625)


def test_csv_source_reports_a_missing_file_per_symbol(tmp_path):
    error = fetch_histories(["TCS.NS"], source=f"csv:{tmp_path}")["TCS.NS"]
    assert isinstance(error, MarketDataError) and error.permanent
    assert "no CSV file TCS.NS.csv" in error.message


def test_csv_source_validates_the_bars(tmp_path):
    (tmp_path / "BAD.NS.csv").write_text(
        "Date,Open,High,Low,Close,Volume\n"
        "2025-01-01 00:00:00+05:30,100,101,99,100.5,1000\n"
        "2025-01-02 00:00:00+05:30,100.5,99,101,100,1200\n"
    )
    error = fetch_histories(["BAD.NS"], source=f"csv:{tmp_path}")["BAD.NS"]
    assert isinstance(error, MarketDataError) and error.message == "BAD.NS: high below low on 2025-01-02"


def test_an_infinite_high_in_a_csv_is_refused_by_validation_not_reported_as_an_undefined_atr(tmp_path):
    (tmp_path / "INF.NS.csv").write_text(
        "Date,Open,High,Low,Close,Volume\n"
        "2025-01-01 00:00:00+05:30,100,101,99,100.5,1000\n"
        "2025-01-02 00:00:00+05:30,100.5,inf,99,100,1200\n"
    )
    error = fetch_histories(["INF.NS"], source=f"csv:{tmp_path}")["INF.NS"]
    assert isinstance(error, MarketDataError) and error.message == "INF.NS: infinite value in High on 2025-01-02"


def test_csv_source_reports_an_unreadable_date(tmp_path):
    (tmp_path / "BAD.NS.csv").write_text("Date,Open,High,Low,Close,Volume\nyesterday,1,1,1,1,1\n")
    error = fetch_histories(["BAD.NS"], source=f"csv:{tmp_path}")["BAD.NS"]
    assert isinstance(error, MarketDataError) and "unreadable Date" in error.message


# --- source_kind -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("source", "kind"), [("yfinance", "yfinance"), ("demo", "demo"), ("csv:/data/bars", "csv"), (" demo ", "demo")]
)
def test_source_kind_labels_each_source(source, kind):
    assert source_kind(source) == kind


@pytest.mark.parametrize("source", ["csv:", "yahoo", "CSV:/x"])
def test_source_kind_rejects_unknown_sources(source):
    with pytest.raises(ValueError, match="Unknown market data source"):
        source_kind(source)


def test_source_none_means_the_setting(settings):
    settings.THETOOL_DATA_SOURCE = "demo"
    assert source_kind() == "demo"
    assert fetch_histories(["TCS.NS"])["TCS.NS"].source == "demo"
