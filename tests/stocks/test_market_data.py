"""Market data: yfinance (bulk, cache, wall-clock limit, circuit breaker, rate limits), demo, csv:DIR, validation.

yfinance is never called for real. Most tests patch `yahoo._yf_download` (our thin wrapper) with
frames shaped exactly like yfinance 1.7.0's `download(group_by="ticker", auto_adjust=True,
multi_level_index=True)`; `test_frame_helper_matches_what_yfinance_builds` proves that shape by running
yfinance's own download code with only `Ticker` replaced.
"""

import os
import shutil
import subprocess
import sys
import threading
import time
from datetime import UTC, date, datetime

import numpy as np
import pandas as pd
import pytest
import time_machine
from curl_cffi.requests.exceptions import ConnectionError as CurlConnectionError
from django.conf import settings as django_settings
from yfinance.exceptions import YFRateLimitError

from stocks.market_data import (
    MarketDataError,
    PriceHistory,
    SourceUnavailable,
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


def empty_yf_frame() -> pd.DataFrame:
    """yfinance.utils.empty_df(): what download() keeps for a ticker that failed."""
    columns = ["Open", "High", "Low", "Close", "Adj Close", "Volume"]
    return pd.DataFrame(index=pd.DatetimeIndex([], name="Date"), data={c: np.nan for c in columns})


def yf_frame(per_ticker: dict[str, pd.DataFrame | None]) -> pd.DataFrame:
    """What yfinance 1.7.0 `download(group_by="ticker", auto_adjust=True, multi_level_index=True)` returns.

    Columns are a (Ticker, Price) MultiIndex with tickers in set order; every ticker is reindexed to
    the union of all dates (NaN where it had no bar); a missing ticker is all-NaN columns.
    """
    tickers = list({ticker.upper() for ticker in per_ticker})
    frames = {t: per_ticker[t] if per_ticker[t] is not None else empty_yf_frame() for t in tickers}
    index = None
    for frame in frames.values():
        if not frame.empty:
            index = frame.index if index is None else index.union(frame.index)
    index = index if index is not None else pd.DatetimeIndex([])
    frames = {t: frame.reindex(index) for t, frame in frames.items()}
    return pd.concat(frames.values(), axis=1, sort=True, keys=frames.keys(), names=["Ticker", "Price"])


class FakeDownload:
    """Stands in for yahoo._yf_download; records each call's tickers.

    `script` maps a ticker to a frame (data), None (missing), an error text (yfinance's per-ticker
    error) or a callable(call_number) returning one of those. `raises`/`sleep` act on the whole call.
    """

    def __init__(self, script: dict, *, raises=None, sleep: float = 0.0):
        self.script, self.raises, self.sleep = script, raises, sleep
        self.calls: list[list[str]] = []
        self.lock = threading.Lock()

    def __call__(self, tickers):
        with self.lock:
            self.calls.append(list(tickers))
            number = len(self.calls)
        pause = self.sleep(number) if callable(self.sleep) else self.sleep
        if pause:
            time.sleep(pause)
        raises = self.raises(number) if callable(self.raises) else self.raises
        if raises is not None:
            raise raises
        data, errors = {}, {}
        for ticker in tickers:
            outcome = self.script.get(ticker)
            outcome = outcome(number) if callable(outcome) else outcome
            if isinstance(outcome, pd.DataFrame):
                data[ticker] = outcome
            else:
                data[ticker] = None
                if outcome:
                    errors[ticker] = outcome
        return yf_frame(data), errors

    @property
    def tickers(self) -> list[str]:
        return sorted(t for call in self.calls for t in call)


class NoNetworkTicker:
    def __init__(self, ticker):
        raise AssertionError(f"a test tried to reach Yahoo for {ticker}")


@pytest.fixture(autouse=True)
def no_yahoo(monkeypatch):
    """Whatever a test forgets to patch, yfinance's download code cannot reach the network."""
    import yfinance.multi

    monkeypatch.setattr(yfinance.multi, "Ticker", NoNetworkTicker)


@pytest.fixture
def yahoo(monkeypatch, settings):
    """Install a FakeDownload and fast, small limits; returns a factory."""
    settings.THETOOL_DATA_SOURCE = "yfinance"
    settings.THETOOL_FETCH_CHUNK_SIZE = 2
    settings.THETOOL_RATE_LIMIT_BACKOFF_SECONDS = 0.01
    settings.THETOOL_RATE_LIMIT_RETRIES = 2
    settings.THETOOL_FETCH_WALL_CLOCK_SECONDS = 5

    def install(script: dict, **options) -> FakeDownload:
        fake = FakeDownload(script, **options)
        monkeypatch.setattr(yahoo_adapter, "_yf_download", fake)
        return fake

    return install


@pytest.fixture
def today():
    with time_machine.travel(TODAY, tick=False):
        yield TODAY.date()


SYMBOLS = ["AAA.NS", "BBB.NS", "CCC.NS", "DDD.NS", "EEE.NS"]


def good_script(symbols=SYMBOLS) -> dict:
    return {symbol: history_frame(seed=i, base=100 + 50 * i) for i, symbol in enumerate(symbols)}


# --- The shape of yfinance's answer ----------------------------------------------------------


class FakeTicker:
    """Replaces yfinance.multi.Ticker: answers history() from `FakeTicker.answers` without a network."""

    answers: dict = {}
    calls: list = []

    def __init__(self, ticker):
        self.ticker = ticker
        self._price_history = None

    def history(self, **kwargs):
        FakeTicker.calls.append((self.ticker, kwargs))
        answer = FakeTicker.answers[self.ticker]
        answer = answer() if callable(answer) else answer
        if isinstance(answer, BaseException):
            raise answer
        return answer.tz_localize("Asia/Kolkata")  # a real daily history carries the exchange timezone


@pytest.fixture
def real_yfinance_download(monkeypatch, settings, tmp_path):
    """yahoo._yf_download runs yfinance's own download code; only Ticker is fake."""
    import yfinance.multi

    settings.THETOOL_YFINANCE_CACHE_DIR = str(tmp_path / "yf-cache")
    monkeypatch.setattr(yahoo_adapter, "_configured", False)
    monkeypatch.setattr(yfinance.multi, "Ticker", FakeTicker)
    FakeTicker.calls = []
    return FakeTicker


def test_frame_helper_matches_what_yfinance_builds(real_yfinance_download, tmp_path):
    long, short = history_frame(30, seed=1), history_frame(10, start="2024-01-22", seed=2)
    real_yfinance_download.answers = {"AAA.NS": long, "BBB.NS": short, "NOPE.NS": ValueError("no data")}

    frame, errors = yahoo_adapter._yf_download(["AAA.NS", "BBB.NS", "NOPE.NS"])

    expected = yf_frame({"AAA.NS": long, "BBB.NS": short, "NOPE.NS": None})
    pd.testing.assert_frame_equal(frame, expected, check_like=True)
    assert frame.columns.names == ["Ticker", "Price"]
    assert frame.index.name == "Date" and frame.index.tz is None
    assert errors == {"NOPE.NS": "ValueError('no data')"}
    options = real_yfinance_download.calls[0][1]
    assert options["auto_adjust"] is True and options["interval"] == "1d"
    assert (tmp_path / "yf-cache").is_dir()  # yfinance's tz cache lives where settings say


@pytest.mark.django_db
def test_real_download_path_retries_rate_limits_and_reports_network_errors(real_yfinance_download, settings, today):
    settings.THETOOL_RATE_LIMIT_BACKOFF_SECONDS = 0.01
    attempts = {"BBB.NS": 0}

    def rate_limited_once():
        attempts["BBB.NS"] += 1
        return YFRateLimitError() if attempts["BBB.NS"] == 1 else history_frame(seed=2)

    real_yfinance_download.answers = {
        "AAA.NS": history_frame(seed=1),
        "BBB.NS": rate_limited_once,
        "CCC.NS": CurlConnectionError("Failed to perform, curl: (7) Couldn't connect to server"),
    }

    results = fetch_histories(["AAA.NS", "BBB.NS", "CCC.NS"], source="yfinance")

    assert isinstance(results["AAA.NS"], PriceHistory) and len(results["AAA.NS"]) == 300
    assert isinstance(results["BBB.NS"], PriceHistory) and attempts["BBB.NS"] == 2
    assert isinstance(results["CCC.NS"], MarketDataError) and results["CCC.NS"].permanent is False
    assert "no data returned by Yahoo for CCC.NS" in results["CCC.NS"].message


# --- yfinance: bulk downloads and the cache --------------------------------------------------


@pytest.mark.django_db
def test_bulk_download_makes_one_call_per_chunk(yahoo, today):
    fake = yahoo(good_script())

    results = fetch_histories(SYMBOLS)

    assert [len(call) for call in fake.calls] == [2, 2, 1]
    assert fake.tickers == SYMBOLS
    assert all(isinstance(results[s], PriceHistory) and results[s].source == "yfinance" for s in SYMBOLS)
    assert list(results) == SYMBOLS


@pytest.mark.django_db
def test_second_fetch_the_same_day_reads_the_cache_and_calls_nothing(yahoo, today):
    yahoo(good_script())
    first = fetch_histories(SYMBOLS, source="yfinance")
    fake = yahoo({})  # a second download would get nothing
    second = fetch_histories(SYMBOLS, source="yfinance")

    assert fake.calls == []
    for symbol in SYMBOLS:
        np.testing.assert_array_equal(first[symbol].close, second[symbol].close)
        np.testing.assert_array_equal(first[symbol].dates, second[symbol].dates)


@pytest.mark.django_db
def test_only_symbols_missing_from_the_cache_are_downloaded(yahoo, today):
    yahoo(good_script())
    fetch_histories(SYMBOLS[:3])
    fake = yahoo(good_script())

    fetch_histories(SYMBOLS)

    assert fake.tickers == SYMBOLS[3:]


@pytest.mark.django_db
def test_cache_rows_hold_compact_column_arrays(yahoo, today):
    yahoo(good_script())
    fetch_histories(["AAA.NS"])

    row = PriceCache.objects.get(symbol="AAA.NS")
    assert (row.source, row.fetched_on, row.bar_count) == ("yfinance", today, 300)
    assert set(row.bars) == {"d", "o", "h", "l", "c", "v"}
    assert row.bars["d"][0] == "2024-01-01" and row.first_bar == date(2024, 1, 1)
    assert all(len(values) == 300 for values in row.bars.values())
    assert isinstance(row.bars["v"][0], int)


@pytest.mark.django_db
def test_use_cache_false_downloads_again_and_refreshes_todays_row(yahoo, today):
    yahoo({"AAA.NS": history_frame(seed=1)})
    fetch_histories(["AAA.NS"])
    fake = yahoo({"AAA.NS": history_frame(310, seed=9)})

    result = fetch_histories(["AAA.NS"], use_cache=False)

    assert fake.calls == [["AAA.NS"]] and len(result["AAA.NS"]) == 310
    assert PriceCache.objects.get(symbol="AAA.NS").bar_count == 310


@pytest.mark.django_db
def test_a_cache_row_from_an_earlier_day_is_neither_used_nor_kept(yahoo):
    with time_machine.travel(datetime(2026, 3, 3, 23, 0, tzinfo=UTC), tick=False):
        yahoo(good_script())
        fetch_histories(["AAA.NS"])
    with time_machine.travel(datetime(2026, 3, 4, 1, 0, tzinfo=UTC), tick=False):
        fake = yahoo(good_script())
        fetch_histories(["AAA.NS"])
    assert fake.calls == [["AAA.NS"]]
    assert list(PriceCache.objects.values_list("fetched_on", flat=True)) == [date(2026, 3, 4)]


@pytest.mark.django_db
def test_a_concurrent_writer_of_the_same_row_does_not_fail_the_fetch(yahoo, today):
    yahoo(good_script())
    fetch_histories(["AAA.NS"])
    history = fetch_histories(["AAA.NS"])["AAA.NS"]
    # A second worker that fetched the same symbol writes the same (symbol, source, day): ignored.
    cache.write_cache({"AAA.NS": history}, day=today, refresh=False)
    assert PriceCache.objects.filter(symbol="AAA.NS").count() == 1


@pytest.mark.django_db
def test_2192_cached_symbols_are_read_in_a_few_queries_without_calling_yahoo(
    yahoo, today, django_assert_max_num_queries
):
    symbols = [f"S{i:04d}.NS" for i in range(2192)]
    bars = bars_to_json(demo_history("X.NS"))
    PriceCache.objects.bulk_create(
        PriceCache(
            symbol=s, source="yfinance", fetched_on=today, bars=bars, bar_count=500,
            first_bar=date(2024, 1, 1), last_bar=date(2026, 3, 3),
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


# --- yfinance: per-symbol errors -------------------------------------------------------------


@pytest.mark.django_db
def test_a_missing_ticker_gets_its_own_error_and_is_never_called_delisted(yahoo, today):
    yahoo({"AAA.NS": history_frame(), "ZZZ.NS": "$ZZZ.NS: possibly delisted; no price data found"})

    results = fetch_histories(["AAA.NS", "ZZZ.NS"])

    assert isinstance(results["AAA.NS"], PriceHistory)
    error = results["ZZZ.NS"]
    assert isinstance(error, MarketDataError) and error.permanent is True
    assert error.message.startswith("no data returned by Yahoo for ZZZ.NS")
    assert not PriceCache.objects.filter(symbol="ZZZ.NS").exists()


@pytest.mark.django_db
def test_a_single_ticker_download_is_parsed(yahoo, today):
    yahoo({"M&M.NS": history_frame(seed=3)})
    result = fetch_histories(["M&M.NS"])["M&M.NS"]
    assert isinstance(result, PriceHistory)
    assert (len(result), result.dates.dtype) == (300, np.dtype("datetime64[D]"))
    assert result.symbol == "M&M.NS"


@pytest.mark.django_db
def test_a_recent_listing_keeps_only_its_own_bars(yahoo, today):
    """yfinance pads every ticker to the union of dates; the padding is not this ticker's data."""
    yahoo({"OLD.NS": history_frame(300), "NEW.NS": history_frame(40, start="2025-01-01", seed=5)})
    result = fetch_histories(["OLD.NS", "NEW.NS"])
    assert len(result["NEW.NS"]) == 40
    assert str(result["NEW.NS"].dates[0]) == "2025-01-01"


@pytest.mark.django_db
def test_bad_bars_from_yahoo_are_a_permanent_error_naming_the_date(yahoo, today):
    broken = history_frame(20)
    broken.loc[broken.index[7], "High"] = broken["Low"].iloc[7] - 1
    yahoo({"AAA.NS": broken})
    error = fetch_histories(["AAA.NS"])["AAA.NS"]
    assert isinstance(error, MarketDataError) and error.permanent
    assert error.message == f"AAA.NS: high below low on {broken.index[7].date()}"


def test_a_malformed_symbol_is_a_per_symbol_error(yahoo):
    fake = yahoo({})
    results = fetch_histories(["../etc/passwd", "bad symbol"])
    assert fake.calls == []
    assert all(isinstance(r, MarketDataError) and r.permanent for r in results.values())


# --- yfinance: rate limits -------------------------------------------------------------------


@pytest.mark.django_db
def test_a_rate_limited_chunk_is_retried_after_a_pause(yahoo, today):
    fake = yahoo(good_script(SYMBOLS[:2]), raises=lambda n: YFRateLimitError() if n == 1 else None)
    results = fetch_histories(SYMBOLS[:2])
    assert len(fake.calls) == 2
    assert all(isinstance(r, PriceHistory) for r in results.values())


@pytest.mark.django_db
def test_only_the_rate_limited_tickers_of_a_chunk_are_retried(yahoo, today):
    limited = "YFRateLimitError('Too Many Requests. Rate limited. Try after a while.')"
    fake = yahoo({"AAA.NS": history_frame(), "BBB.NS": lambda n: limited if n == 1 else history_frame(seed=2)})
    results = fetch_histories(["AAA.NS", "BBB.NS"])
    assert fake.calls == [["AAA.NS", "BBB.NS"], ["BBB.NS"]]
    assert isinstance(results["BBB.NS"], PriceHistory)


@pytest.mark.django_db
def test_a_lasting_rate_limit_gives_transient_per_symbol_errors(yahoo, settings, today):
    settings.THETOOL_RATE_LIMIT_RETRIES = 2
    fake = yahoo({}, raises=YFRateLimitError())
    results = fetch_histories(SYMBOLS[:2])
    assert len(fake.calls) == 3  # the first try and two retries
    for error in results.values():
        assert isinstance(error, MarketDataError) and not isinstance(error, SourceUnavailable)
        assert error.permanent is False and "rate-limited" in error.message


# --- yfinance: wall-clock limit and circuit breaker ------------------------------------------


@pytest.mark.django_db
def test_a_download_that_hangs_raises_source_unavailable_quickly(yahoo, settings, today):
    settings.THETOOL_FETCH_WALL_CLOCK_SECONDS = 0.2
    fake = yahoo(good_script(), sleep=3)
    # The download would return data after 3 s: raising proves the wall-clock limit cut it short.
    with pytest.raises(SourceUnavailable, match="Yahoo Finance is unreachable: .*did not finish within 0.2 s"):
        fetch_histories(SYMBOLS)
    assert len(fake.calls) == 1  # the breaker trips on the first chunk, not once per chunk


@pytest.mark.django_db
def test_a_network_error_raised_by_the_download_raises_source_unavailable(yahoo, today):
    fake = yahoo({}, raises=CurlConnectionError("curl: (6) Could not resolve host: query2.finance.yahoo.com"))
    with pytest.raises(SourceUnavailable, match="Could not resolve host"):
        fetch_histories(SYMBOLS)
    assert len(fake.calls) == 1


@pytest.mark.django_db
def test_no_data_with_network_errors_on_the_first_chunk_raises_source_unavailable(yahoo, today):
    network = "ConnectionError('Failed to perform, curl: (28) Connection timed out after 20001 milliseconds')"
    fake = yahoo(dict.fromkeys(SYMBOLS, network))
    with pytest.raises(SourceUnavailable, match="no data for any symbol"):
        fetch_histories(SYMBOLS)
    assert len(fake.calls) == 1


@pytest.mark.django_db
def test_a_chunk_of_unknown_tickers_is_not_an_outage(yahoo, today):
    fake = yahoo(dict.fromkeys(SYMBOLS, "$X: possibly delisted; no price data found"))
    results = fetch_histories(SYMBOLS)
    assert len(fake.calls) == 3
    assert all(isinstance(r, MarketDataError) and r.permanent for r in results.values())


@pytest.mark.django_db
def test_one_hanging_chunk_after_good_ones_fails_only_its_symbols(yahoo, settings, today):
    settings.THETOOL_FETCH_WALL_CLOCK_SECONDS = 0.3
    fake = yahoo(good_script(), sleep=lambda call: 2 if call == 2 else 0)
    results = fetch_histories(SYMBOLS)
    assert len(fake.calls) == 3
    assert isinstance(results["AAA.NS"], PriceHistory) and isinstance(results["EEE.NS"], PriceHistory)
    for symbol in ("CCC.NS", "DDD.NS"):
        assert isinstance(results[symbol], MarketDataError) and results[symbol].permanent is False
        assert "did not answer" in results[symbol].message
    # What arrived is cached, so a retry downloads only the failed chunk.
    assert PriceCache.objects.filter(symbol__in=["AAA.NS", "BBB.NS", "EEE.NS"]).count() == 3


@pytest.mark.django_db
def test_two_hanging_chunks_in_a_row_trip_the_breaker_even_after_good_ones(yahoo, settings, today):
    settings.THETOOL_FETCH_WALL_CLOCK_SECONDS = 0.2
    fake = yahoo(good_script(), sleep=lambda call: 2 if call > 1 else 0)
    with pytest.raises(SourceUnavailable):
        fetch_histories(SYMBOLS)
    assert len(fake.calls) == 3
    assert PriceCache.objects.filter(symbol__in=["AAA.NS", "BBB.NS"]).count() == 2


@pytest.mark.django_db
def test_bars_that_came_back_before_a_retry_hung_are_kept(yahoo, settings, today):
    settings.THETOOL_FETCH_WALL_CLOCK_SECONDS = 0.2
    limited = "YFRateLimitError('Too Many Requests. Rate limited. Try after a while.')"
    fake = yahoo({"AAA.NS": history_frame(), "BBB.NS": limited}, sleep=lambda call: 2 if call == 2 else 0)
    results = fetch_histories(["AAA.NS", "BBB.NS"])
    assert len(fake.calls) == 2
    assert isinstance(results["AAA.NS"], PriceHistory)
    assert isinstance(results["BBB.NS"], MarketDataError) and "did not answer" in results["BBB.NS"].message


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


@pytest.mark.django_db
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
