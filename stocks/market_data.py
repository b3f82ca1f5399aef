"""The only module that talks to a market data source (yfinance, demo, csv:DIR) or to NSE.

Callers get `PriceHistory` objects (validated daily bars as numpy arrays) or a
`MarketDataError` per symbol; `SourceUnavailable` means the whole source is unreachable.

Sources (settings.THETOOL_DATA_SOURCE, or the `source` argument):
- "yfinance": Yahoo Finance through yfinance, many symbols per download call, each call under our own
  wall-clock limit, results cached in `PriceCache` for the UTC day;
- "demo": deterministic synthetic bars (no network), the same for a symbol in every process;
- "csv:DIR": one yfinance-style CSV per symbol, DIR/<YAHOO_SYMBOL>.csv.
"""

import hashlib
import logging
import re
import threading
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from datetime import UTC, date, timedelta
from pathlib import Path

import numpy as np
import pandas as pd
from django.conf import settings
from django.db import DatabaseError, transaction
from django.utils import timezone

from stocks.models import PriceCache

logger = logging.getLogger("stocks.market_data")

PRICE_COLUMNS = ("Open", "High", "Low", "Close", "Volume")
SOURCE_KINDS = ("yfinance", "demo", "csv")
YFINANCE = "yfinance"
DEMO_BARS = 500
CACHE_DECIMALS = 4  # prices are stored to 0.0001: far below NSE's 0.05 tick, and keeps the JSON small
DB_BATCH = 500
_EQUITY_LIST_MAX_BYTES = 5_000_000

# Upper-case Yahoo-style symbols only: no slash or space can reach a file path or a URL.
_SYMBOL_PATTERN = re.compile(r"[A-Z0-9][A-Z0-9&_.\-]{0,39}")


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

    def __len__(self) -> int:
        return len(self.close)

    def __repr__(self) -> str:  # the arrays would flood logs and test output
        if not len(self):
            return f"PriceHistory({self.symbol}, {self.source}, 0 bars)"
        return f"PriceHistory({self.symbol}, {self.source}, {len(self)} bars {self.dates[0]}..{self.dates[-1]})"


# --- Public entry points ---------------------------------------------------------------------


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
        results.update(_fetch_yfinance(valid, use_cache=use_cache))
    return {symbol: results[symbol] for symbol in requested}


def validate_bars(frame: pd.DataFrame, *, symbol: str, source: str) -> PriceHistory:
    """A PriceHistory from a frame indexed by date with Open, High, Low, Close, Volume columns.

    Raises MarketDataError(permanent=True) naming the problem and the first bad date: missing
    columns, non-numeric values, NaNs, non-positive prices, negative volume, high < low, open or
    close outside [low, high], unsorted or duplicate dates. The minimum bar count is not checked
    here: the analysis engine owns that rule.
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
    return checked_history(symbol, source, dates, *(arrays[column] for column in PRICE_COLUMNS))


def checked_history(symbol, source, dates, open_, high, low, close, volume) -> PriceHistory:
    """A PriceHistory from arrays after the checks of validate_bars (vectorised: microseconds)."""
    if len(dates) == 0:
        raise MarketDataError(f"{symbol}: no bars", permanent=True)
    columns = dict(zip(PRICE_COLUMNS, (open_, high, low, close, volume), strict=True))
    for column, values in columns.items():
        _fail_where(np.isnan(values), symbol, dates, f"missing value (NaN) in {column}")
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


def bars_to_json(history: PriceHistory) -> dict:
    """The compact column arrays stored in PriceCache.bars: {"d", "o", "h", "l", "c", "v"}."""
    return {
        "d": np.datetime_as_string(history.dates, unit="D").tolist(),
        "o": np.round(history.open, CACHE_DECIMALS).tolist(),
        "h": np.round(history.high, CACHE_DECIMALS).tolist(),
        "l": np.round(history.low, CACHE_DECIMALS).tolist(),
        "c": np.round(history.close, CACHE_DECIMALS).tolist(),
        "v": np.round(history.volume).astype(np.int64).tolist(),
    }


def history_from_json(symbol: str, source: str, bars: dict) -> PriceHistory:
    """The PriceHistory stored by bars_to_json (validated again: cheap, and the JSON may be old)."""
    try:
        dates = np.array(bars["d"], dtype="datetime64[D]")
        arrays = [np.array(bars[key], dtype=np.float64) for key in ("o", "h", "l", "c", "v")]
    except (KeyError, TypeError, ValueError) as exc:
        raise MarketDataError(f"{symbol}: unreadable cached bars ({exc})", permanent=False) from exc
    return checked_history(symbol, source, dates, *arrays)


def download_equity_list(*, url: str | None = None, timeout: float | None = None) -> str:
    """The text of NSE's current EQUITY_L.csv. Raises SourceUnavailable when NSE cannot be reached."""
    url = url or settings.THETOOL_NSE_EQUITY_LIST_URL
    timeout = timeout or settings.THETOOL_NSE_DOWNLOAD_TIMEOUT_SECONDS
    # NSE answers 403 to clients without a browser-like User-Agent.
    request = urllib.request.Request(
        url, headers={"User-Agent": "Mozilla/5.0 (X11; Linux x86_64) TheTool", "Accept": "text/csv,*/*"}
    )
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            raw = response.read(_EQUITY_LIST_MAX_BYTES + 1)
    except urllib.error.HTTPError as exc:
        raise SourceUnavailable(f"NSE refused the download of {url} (HTTP {exc.code})") from exc
    except (urllib.error.URLError, OSError) as exc:
        reason = getattr(exc, "reason", exc)
        raise SourceUnavailable(f"NSE is unreachable ({url}): {reason}") from exc
    if len(raw) > _EQUITY_LIST_MAX_BYTES:
        raise SourceUnavailable(f"{url} is larger than {_EQUITY_LIST_MAX_BYTES} bytes: not an equity list")
    return raw.decode("utf-8-sig", errors="replace")


# --- Helpers shared by the sources -----------------------------------------------------------


def _resolve_source(source: str | None) -> str:
    return (source or settings.THETOOL_DATA_SOURCE).strip()


def _utc_today() -> date:
    return timezone.now().astimezone(UTC).date()


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


def _batched(items: list, size: int):
    for start in range(0, len(items), size):
        yield items[start : start + size]


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
    end = _last_business_day_before(today or _utc_today())
    dates = np.busday_offset(end, np.arange(-(bars - 1), 1), roll="backward")
    return checked_history(symbol, "demo", dates, open_, high, low, close, volume)


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


# --- yfinance --------------------------------------------------------------------------------


class _DeadlineExceeded(Exception):
    pass


_configure_lock = threading.Lock()
_configured = False


def _configure_yfinance(yf) -> None:
    """Once per process: a writable tz cache, and per-ticker exceptions instead of swallowed ones."""
    global _configured
    with _configure_lock:
        if _configured:
            return
        cache_dir = Path(settings.THETOOL_YFINANCE_CACHE_DIR)
        try:
            cache_dir.mkdir(parents=True, exist_ok=True)
            yf.set_tz_cache_location(str(cache_dir))
        except OSError:
            logger.warning("Cannot use %s as yfinance's cache directory", cache_dir, exc_info=True)
        # With hidden exceptions, yfinance reports a DNS failure as "possibly delisted"; unhidden,
        # download() still catches them per ticker and we can tell a network error from missing data.
        yf.config.debug.hide_exceptions = False
        _configured = True


def _yf_download(tickers: list[str]) -> tuple[pd.DataFrame, dict[str, str]]:
    """One yfinance download of `tickers`: the (Ticker, Price) frame and yfinance's per-ticker errors.

    The thin wrapper tests patch. yfinance's public download() only logs per-ticker errors, so the
    rate-limit and network errors we need are read from its per-call context (yfinance 1.7.0
    internals, with a fallback to the public call that loses only the error texts).
    """
    import yfinance as yf

    _configure_yfinance(yf)
    start = _utc_today() - timedelta(days=settings.THETOOL_HISTORY_DAYS)
    kwargs = {
        "start": start.isoformat(),
        "interval": "1d",
        "group_by": "ticker",
        "auto_adjust": True,
        "multi_level_index": True,
        "actions": False,
        "threads": True,
        "progress": False,
        "timeout": settings.THETOOL_FETCH_TIMEOUT_SECONDS,
    }
    try:
        from yfinance.multi import _download_impl, _DownloadCtx
    except ImportError:  # a future yfinance: public API, without per-ticker error texts
        return yf.download(tickers, **kwargs), {}
    context = _DownloadCtx()
    frame = _download_impl(context, tickers, **kwargs)
    return frame, dict(context.errors)


def _call_with_deadline(function, *args, limit: float):
    """function(*args) in a daemon thread; raises _DeadlineExceeded when it runs longer than `limit`.

    yfinance's own timeouts do not bound a download (its cookie fetch retries with a hard-coded 30 s),
    so we stop waiting instead. The abandoned thread finishes or dies with the process.
    """
    outcome: dict = {}
    finished = threading.Event()

    def run():
        try:
            outcome["value"] = function(*args)
        except BaseException as exc:  # handed to the caller's thread below
            outcome["error"] = exc
        finally:
            finished.set()

    threading.Thread(target=run, name="market-data-download", daemon=True).start()
    if not finished.wait(limit):
        raise _DeadlineExceeded()
    if "error" in outcome:
        raise outcome["error"]
    return outcome["value"]


def _is_rate_limit(error) -> bool:
    if isinstance(error, BaseException):
        return type(error).__name__ == "YFRateLimitError"
    text = str(error)
    return "YFRateLimitError" in text or "Too Many Requests" in text or "Rate limited" in text


_NETWORK_WORDS = (
    "timeout", "timed out", "connection", "resolve", "dns", "network", "unreachable",
    "ssl", "curl: (", "socket", "refused", "reset by peer",
)  # fmt: skip


def _is_network_error(error) -> bool:
    if isinstance(error, BaseException):
        return isinstance(error, OSError | TimeoutError)  # curl_cffi's and requests' errors are OSErrors
    text = str(error).lower()
    return any(word in text for word in _NETWORK_WORDS)


@dataclass
class _ChunkOutcome:
    histories: dict = field(default_factory=dict)
    errors: dict = field(default_factory=dict)
    failure: str | None = None  # the whole call timed out or raised a network error
    network_errors: bool = False  # some ticker failed with a network-looking error


def _frame_for(frame: pd.DataFrame | None, ticker: str) -> pd.DataFrame | None:
    """One ticker's OHLCV from a (Ticker, Price) frame, without the all-NaN alignment rows, or None."""
    if frame is None or frame.empty or not isinstance(frame.columns, pd.MultiIndex):
        return None
    if ticker not in frame.columns.get_level_values(0):
        return None
    own = frame[ticker]
    present = [column for column in PRICE_COLUMNS if column in own.columns]
    # yfinance reindexes every ticker to the union of dates: rows where this one had nothing are all-NaN.
    own = own.loc[~own[present].isna().all(axis=1)] if present else own.iloc[0:0]
    return None if own.empty else own


def _parse_download(
    frame: pd.DataFrame | None, errors: dict[str, str], pending: list[str], outcome: _ChunkOutcome
) -> set[str]:
    """File each pending ticker under histories or errors; return the rate-limited ones (to retry)."""
    rate_limited = set()
    for ticker in pending:
        own, error = _frame_for(frame, ticker), errors.get(ticker)
        if own is not None:
            try:
                history = validate_bars(own, symbol=ticker, source=YFINANCE)
                # Round-trip through the cache format so today's first and later analyses see equal bars.
                outcome.histories[ticker] = history_from_json(ticker, YFINANCE, bars_to_json(history))
                outcome.errors.pop(ticker, None)
            except MarketDataError as exc:
                outcome.errors[ticker] = exc
        elif error and _is_rate_limit(error):
            rate_limited.add(ticker)
        else:
            network = bool(error) and _is_network_error(error)
            outcome.network_errors |= network
            detail = f" ({error})" if error else ""
            # Never "delisted": yfinance says that about DNS failures too.
            outcome.errors[ticker] = MarketDataError(
                f"no data returned by Yahoo for {ticker}{detail}", permanent=not network
            )
    return rate_limited


def _download_chunk(chunk: list[str]) -> _ChunkOutcome:
    """One chunk: a download under the wall-clock limit, retried with back-off while Yahoo rate-limits."""
    limit = _wall_clock_limit()
    retries = settings.THETOOL_RATE_LIMIT_RETRIES
    backoff = settings.THETOOL_RATE_LIMIT_BACKOFF_SECONDS
    outcome, pending = _ChunkOutcome(), list(chunk)
    for attempt in range(retries + 1):
        try:
            frame, errors = _call_with_deadline(_yf_download, pending, limit=limit)
        except _DeadlineExceeded:
            outcome.failure = f"a download of {len(pending)} symbol(s) did not finish within {limit:g} s"
            return outcome
        except Exception as exc:
            if _is_rate_limit(exc):
                frame, errors = None, dict.fromkeys(pending, repr(exc))
            elif _is_network_error(exc):
                outcome.failure = f"{type(exc).__name__}: {exc}"
                return outcome
            else:
                logger.error("yfinance download failed for %d symbols", len(pending), exc_info=True)
                for ticker in pending:
                    outcome.errors[ticker] = MarketDataError(f"yfinance failed for {ticker}: {exc}", permanent=False)
                return outcome
        pending = sorted(_parse_download(frame, errors, pending, outcome))
        if not pending:
            return outcome
        if attempt < retries:
            pause = backoff * 2**attempt
            logger.warning("Yahoo rate-limited %d symbols; retrying in %.1f s", len(pending), pause)
            time.sleep(pause)
    for ticker in pending:
        outcome.errors[ticker] = MarketDataError(
            f"Yahoo rate-limited the request for {ticker}; try later", permanent=False
        )
    return outcome


def _wall_clock_limit() -> float:
    return float(settings.THETOOL_FETCH_WALL_CLOCK_SECONDS)


def _download_yahoo(symbols: list[str], *, day: date, refresh: bool) -> dict:
    """Download in chunks, caching each chunk's bars as it lands; trip the circuit breaker early.

    The source counts as unreachable when a chunk timed out, raised a network error, or got no bars
    at all with network-looking errors, and either nothing came back yet in this call or the previous
    chunk failed the same way. An isolated failure after good chunks becomes per-symbol transient errors.
    """
    results: dict = {}
    got_any, previous_failed = False, False
    for chunk in _batched(symbols, settings.THETOOL_FETCH_CHUNK_SIZE):
        outcome = _download_chunk(chunk)
        _write_cache(outcome.histories, day=day, refresh=refresh)
        results.update(outcome.histories)
        results.update(outcome.errors)
        reason = outcome.failure or (
            "no data for any symbol, with network errors" if not outcome.histories and outcome.network_errors else None
        )
        got_any = got_any or bool(outcome.histories)
        if reason and (not got_any or previous_failed):
            raise SourceUnavailable(f"Yahoo Finance is unreachable: {reason}")
        if outcome.failure:
            for ticker in chunk:
                if ticker not in outcome.histories:
                    results[ticker] = MarketDataError(
                        f"Yahoo Finance did not answer for {ticker}: {reason}", permanent=False
                    )
        previous_failed = bool(reason) and not outcome.histories
    return results


def _fetch_yfinance(symbols: list[str], *, use_cache: bool) -> dict:
    day = _utc_today()
    results = _read_cache(symbols, day=day) if use_cache else {}
    missing = [symbol for symbol in symbols if symbol not in results]
    if missing:
        _prune_cache(before=day)
        results.update(_download_yahoo(missing, day=day, refresh=not use_cache))
    return results


# --- The price cache (one PriceCache row per symbol, source and UTC day) ---------------------


def _read_cache(symbols: list[str], *, day: date) -> dict[str, PriceHistory]:
    found = {}
    for batch in _batched(symbols, DB_BATCH):
        rows = PriceCache.objects.filter(source=YFINANCE, fetched_on=day, symbol__in=batch)
        for symbol, bars in rows.values_list("symbol", "bars"):
            try:
                found[symbol] = history_from_json(symbol, YFINANCE, bars)
            except MarketDataError as exc:  # a damaged row is refetched, not fatal
                logger.warning("Ignoring cached bars of %s: %s", symbol, exc.message)
    return found


def _write_cache(histories: dict[str, PriceHistory], *, day: date, refresh: bool) -> None:
    """Store fetched bars in one short transaction (never held during a fetch: SQLite is IMMEDIATE).

    Concurrent workers fetching the same symbol both insert; the unique constraint keeps one row.
    `refresh` (use_cache=False) overwrites today's row with the newer bars.
    """
    if not histories:
        return
    rows = [
        PriceCache(
            symbol=symbol,
            source=YFINANCE,
            fetched_on=day,
            bars=bars_to_json(history),
            bar_count=len(history),
            first_bar=history.dates[0].item(),
            last_bar=history.dates[-1].item(),
        )
        for symbol, history in histories.items()
    ]
    options = (
        {"update_conflicts": True, "unique_fields": ["symbol", "source", "fetched_on"],
         "update_fields": ["bars", "bar_count", "first_bar", "last_bar"]}
        if refresh
        else {"ignore_conflicts": True}
    )  # fmt: skip
    try:
        with transaction.atomic():
            PriceCache.objects.bulk_create(rows, batch_size=DB_BATCH, **options)
    except DatabaseError:
        # The cache only saves time: a locked or full database must not fail the analysis.
        logger.warning("Could not cache the bars of %d symbols", len(rows), exc_info=True)


def _prune_cache(*, before: date) -> None:
    """Drop cache rows of earlier days: only today's rows are ever read (~50 kB per symbol)."""
    try:
        with transaction.atomic():
            PriceCache.objects.filter(source=YFINANCE, fetched_on__lt=before).delete()
    except DatabaseError:
        logger.warning("Could not prune the price cache", exc_info=True)
