"""Daily bars as the engine sees them, and the rules every bar must pass.

Pure: numpy and pandas only, no Django and no settings, so `stocks.indicators` and
`stocks.analysis` import this module and stay importable (and testable) without Django.
Every data source (`stocks.market_data`) builds its `PriceHistory` through `checked_history`,
so a bar that breaks a rule never reaches the engine or the price cache.
"""

from dataclasses import dataclass

import numpy as np
import pandas as pd

PRICE_COLUMNS = ("Open", "High", "Low", "Close", "Volume")


class MarketDataError(Exception):
    """Fetching or validating one symbol's data failed.

    `permanent=True`: retrying will not help (bad data, unknown ticker); `False`: it might.
    """

    def __init__(self, message: str, *, permanent: bool):
        super().__init__(message)
        self.message = message
        self.permanent = permanent


class SourceUnavailable(MarketDataError):
    """The source as a whole cannot be reached: stop the job instead of timing out per symbol."""

    def __init__(self, message: str):
        super().__init__(message, permanent=False)


@dataclass(frozen=True, eq=False)
class PriceHistory:
    """Validated daily OHLCV bars of one symbol, oldest first."""

    symbol: str
    source: str  # "yfinance" | "demo" | "csv"
    dates: np.ndarray  # datetime64[D]
    open: np.ndarray  # float64
    high: np.ndarray
    low: np.ndarray
    close: np.ndarray
    volume: np.ndarray
    # The last bar may still be revised at the source (fetched before it settled, and not refetched
    # since because the source failed): analysed, and flagged "settling" with the result.
    unsettled: bool = False

    def __len__(self) -> int:
        return len(self.close)

    def __repr__(self) -> str:  # the arrays would flood logs and test output
        if not len(self):
            return f"PriceHistory({self.symbol}, {self.source}, 0 bars)"
        return f"PriceHistory({self.symbol}, {self.source}, {len(self)} bars {self.dates[0]}..{self.dates[-1]})"


def validate_bars(frame: pd.DataFrame, *, symbol: str, source: str) -> PriceHistory:
    """A PriceHistory from a frame indexed by date with Open, High, Low, Close, Volume columns.

    Raises MarketDataError(permanent=True) naming the problem and the first bad date: missing
    columns, non-numeric values and every rule of `checked_history`. The minimum bar count is not
    checked here: the analysis engine owns that rule.
    """
    missing = [column for column in PRICE_COLUMNS if column not in frame.columns]
    if missing:
        raise MarketDataError(f"{symbol}: missing column(s) {', '.join(missing)}", permanent=True)
    try:
        dates = _as_days(frame.index)
    except (TypeError, ValueError) as exc:
        raise MarketDataError(f"{symbol}: unreadable dates ({exc})", permanent=True) from exc
    arrays = {}
    for column in PRICE_COLUMNS:
        try:
            arrays[column] = frame[column].to_numpy(dtype="float64", na_value=np.nan)
        except (TypeError, ValueError) as exc:
            raise MarketDataError(f"{symbol}: non-numeric values in {column}", permanent=True) from exc
    return checked_history(
        symbol=symbol,
        source=source,
        dates=dates,
        open_=arrays["Open"],
        high=arrays["High"],
        low=arrays["Low"],
        close=arrays["Close"],
        volume=arrays["Volume"],
    )


def checked_history(
    *,
    symbol: str,
    source: str,
    dates: np.ndarray,
    open_: np.ndarray,
    high: np.ndarray,
    low: np.ndarray,
    close: np.ndarray,
    volume: np.ndarray,
) -> PriceHistory:
    """A PriceHistory from arrays, or MarketDataError(permanent=True) naming the first bad date.

    Refused: no bars, NaN or infinite values (an infinite high would otherwise surface later as an
    undefined ATR, and an infinite volume would be cached as the minimum int64), unsorted or
    duplicate dates, non-positive prices, negative volume, high < low, open or close outside
    [low, high]. Vectorised: microseconds per symbol.
    """
    if len(dates) == 0:
        raise MarketDataError(f"{symbol}: no bars", permanent=True)
    columns = dict(zip(PRICE_COLUMNS, (open_, high, low, close, volume), strict=True))
    for column, values in columns.items():
        finite = np.isfinite(values)
        if not finite.all():  # one pass per column when the data is clean, which it nearly always is
            _fail_where(np.isnan(values), symbol, dates, f"missing value (NaN) in {column}")
            _fail_where(~finite, symbol, dates, f"infinite value in {column}")
    _fail_where(np.diff(dates) < np.timedelta64(0, "D"), symbol, dates[1:], "dates out of order")
    _fail_where(np.diff(dates) == np.timedelta64(0, "D"), symbol, dates[1:], "duplicate date")
    prices = np.vstack([open_, high, low, close])
    _fail_where((prices <= 0).any(axis=0), symbol, dates, "non-positive price")
    _fail_where(volume < 0, symbol, dates, "negative volume")
    # A relative tolerance absorbs float noise from Yahoo's adjustment; real inconsistencies are far larger.
    slack = np.abs(high) * 1e-9
    _fail_where(high < low - slack, symbol, dates, "high below low")
    _fail_where((open_ < low - slack) | (open_ > high + slack), symbol, dates, "open outside [low, high]")
    _fail_where((close < low - slack) | (close > high + slack), symbol, dates, "close outside [low, high]")
    return PriceHistory(symbol, source, dates, open_, high, low, close, volume)


def _as_days(index) -> np.ndarray:
    """datetime64[D] calendar dates of a DatetimeIndex (tz-aware: its local date) or date-like index."""
    if isinstance(index, pd.DatetimeIndex):
        if index.tz is not None:
            index = index.tz_localize(None)  # keep the local wall-clock date, as NSE reports it
        return index.to_numpy().astype("datetime64[D]")
    return np.array(index, dtype="datetime64[D]")


def _fail_where(mask: np.ndarray, symbol: str, dates: np.ndarray, problem: str) -> None:
    if mask.any():
        first = np.datetime_as_string(dates[int(np.argmax(mask))], unit="D")
        raise MarketDataError(f"{symbol}: {problem} on {first}", permanent=True)
