"""Which source answers (settings.THETOOL_DATA_SOURCE or the `source` argument), and the two offline ones.

- "yfinance": Yahoo Finance (`stocks.market_data.yahoo`);
- "demo": deterministic synthetic bars (no network), the same for a symbol in every process;
- "csv:DIR": one yfinance-style CSV per symbol, DIR/<YAHOO_SYMBOL>.csv.
"""

import hashlib
import re
from datetime import date
from pathlib import Path

import numpy as np
import pandas as pd
from django.conf import settings

from stocks.bars import MarketDataError, PriceHistory, checked_history, validate_bars
from stocks.market_data import yahoo
from stocks.market_data.cache import YFINANCE, utc_today

SOURCE_KINDS = ("yfinance", "demo", "csv")
DEMO_BARS = 500

# Upper-case Yahoo-style symbols only: no slash or space can reach a file path or a URL.
_SYMBOL_PATTERN = re.compile(r"[A-Z0-9][A-Z0-9&_.\-]{0,39}")


def source_kind(source: str | None = None) -> str:
    """'yfinance', 'demo' or 'csv' for a source string (None: settings.THETOOL_DATA_SOURCE)."""
    source = _resolve_source(source)
    if source in (YFINANCE, "demo"):
        return source
    if source.startswith("csv:") and len(source) > 4:
        return "csv"
    raise ValueError(f"Unknown market data source {source!r}: use yfinance, demo or csv:DIR")


def fetch_histories(
    symbols: list[str], *, source: str | None = None, use_cache: bool = True
) -> dict[str, PriceHistory | MarketDataError]:
    """Daily bars for each Yahoo symbol (e.g. 'M&M.NS'), or the reason it has none.

    Every requested symbol is a key of the answer. `use_cache=False` refetches from the source and
    refreshes today's cache rows. Raises SourceUnavailable when the whole source is unreachable
    (bars fetched before that point are already cached, so a retry resumes cheaply).
    """
    source = _resolve_source(source)
    kind = source_kind(source)
    requested = list(dict.fromkeys(symbols))
    results: dict = {}
    valid = []
    for symbol in requested:
        if isinstance(symbol, str) and _SYMBOL_PATTERN.fullmatch(symbol):
            valid.append(symbol)
        else:
            results[symbol] = MarketDataError(f"{symbol!r} is not a valid Yahoo symbol", permanent=True)
    if kind == "demo":
        results.update({symbol: demo_history(symbol) for symbol in valid})
    elif kind == "csv":
        directory = Path(source[4:])
        results.update({symbol: _csv_result(symbol, directory) for symbol in valid})
    else:
        results.update(yahoo.fetch_yfinance(valid, use_cache=use_cache))
    return {symbol: results[symbol] for symbol in requested}


def _resolve_source(source: str | None) -> str:
    return (source or settings.THETOOL_DATA_SOURCE).strip()


# --- demo ------------------------------------------------------------------------------------


def _stable_seed(symbol: str) -> int:
    """A seed that is the same in every process (Python's hash() is salted per process)."""
    return int.from_bytes(hashlib.sha256(symbol.encode("utf-8")).digest()[:8], "big")


def _last_business_day_before(day: date) -> np.datetime64:
    return np.busday_offset(np.datetime64(day, "D"), -1, roll="forward")


def _demo_log_closes(rng: np.random.Generator, n: int) -> tuple[np.ndarray, np.ndarray]:
    """Log closes made of 2-5 regimes (trend up, trend down, range), plus the daily volatility."""
    level = np.log(rng.uniform(40, 4000))
    pieces, vols = [], []
    while sum(len(piece) for piece in pieces) < n:
        length = int(rng.integers(60, 220))
        vol = rng.uniform(0.008, 0.022)
        regime = rng.choice(["up", "down", "range"])
        if regime == "range":
            steps = np.arange(1, length + 1)
            amplitude, period, phase = rng.uniform(0.04, 0.12), rng.uniform(20, 60), rng.uniform(0, 2 * np.pi)
            wave = amplitude * (np.sin(2 * np.pi * steps / period + phase) - np.sin(phase))
            piece = level + wave + rng.normal(0, vol / 2, length)
        else:
            drift = rng.uniform(0.0008, 0.0025) * (1 if regime == "up" else -1)
            piece = level + np.cumsum(drift + rng.normal(0, vol, length))
        pieces.append(piece)
        vols.append(np.full(length, vol))
        level = piece[-1]
    return np.concatenate(pieces)[:n], np.concatenate(vols)[:n]


def demo_history(symbol: str, *, today: date | None = None, bars: int = DEMO_BARS) -> PriceHistory:
    """Deterministic synthetic daily bars ending on the last business day before `today` (UTC)."""
    rng = np.random.default_rng(_stable_seed(symbol))
    log_close, vol = _demo_log_closes(rng, bars)
    close = np.maximum(np.exp(log_close), 1.0)
    previous = np.concatenate([[close[0]], close[:-1]])
    open_ = previous * np.exp(rng.normal(0, vol * 0.3))
    body_high, body_low = np.maximum(open_, close), np.minimum(open_, close)
    high = body_high * (1 + np.abs(rng.normal(0, vol * 0.5)))
    low = body_low * (1 - np.minimum(np.abs(rng.normal(0, vol * 0.5)), 0.5))
    # Rounding is monotonic, so low <= open, close <= high survives it.
    open_, high, low, close = (np.round(values, 2) for values in (open_, high, low, close))
    surprise = np.abs(np.diff(np.log(close), prepend=np.log(close[0]))) / vol
    volume = np.round(rng.lognormal(np.log(rng.uniform(1e5, 5e6)), 0.35, bars) * (1 + surprise)) + 1
    end = _last_business_day_before(today or utc_today())
    dates = np.busday_offset(end, np.arange(-(bars - 1), 1), roll="backward")
    return checked_history(
        symbol=symbol, source="demo", dates=dates, open_=open_, high=high, low=low, close=close, volume=volume
    )


# --- csv:DIR ---------------------------------------------------------------------------------


def _csv_result(symbol: str, directory: Path) -> PriceHistory | MarketDataError:
    try:
        return csv_history(symbol, directory)
    except MarketDataError as exc:
        return exc


def csv_history(symbol: str, directory: Path) -> PriceHistory:
    """Bars of DIR/<symbol>.csv (Date,Open,High,Low,Close,Volume[,Dividends,Stock Splits]).

    A Date like `2025-08-28 00:00:00+05:30` counts as its local calendar date, 2025-08-28.
    """
    path = Path(directory) / f"{symbol}.csv"
    if not path.is_file():
        raise MarketDataError(f"{symbol}: no CSV file {path.name} in {directory}", permanent=True)
    try:
        frame = pd.read_csv(path, dtype={"Date": str})
    except (OSError, ValueError, pd.errors.ParserError) as exc:
        raise MarketDataError(f"{symbol}: cannot read {path.name} ({exc})", permanent=True) from exc
    if "Date" not in frame.columns:
        raise MarketDataError(f"{symbol}: missing column(s) Date in {path.name}", permanent=True)
    try:
        # The first ten characters are the local calendar date, whatever offset follows.
        frame.index = pd.Index(np.array(frame["Date"].str.strip().str.slice(0, 10), dtype="datetime64[D]"))
    except (TypeError, ValueError) as exc:
        raise MarketDataError(f"{symbol}: unreadable Date in {path.name} ({exc})", permanent=True) from exc
    return validate_bars(frame, symbol=symbol, source="csv")
