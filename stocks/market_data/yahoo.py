"""Yahoo Finance through yfinance: the only module that imports yfinance.

Many symbols per download call, each call under our own wall-clock limit, rate limits retried with
back-off, results cached in `PriceCache` for the UTC day. A whole source that cannot be reached
raises SourceUnavailable early instead of failing every symbol after a timeout.
"""

import logging
import threading
import time
from dataclasses import dataclass, field
from datetime import date, timedelta
from pathlib import Path

import pandas as pd
from django.conf import settings

from stocks.bars import PRICE_COLUMNS, MarketDataError, SourceUnavailable, validate_bars
from stocks.market_data.cache import (
    YFINANCE,
    bars_to_json,
    batched,
    history_from_json,
    prune_cache,
    read_cache,
    utc_today,
    write_cache,
)

logger = logging.getLogger("stocks.market_data")


def fetch_yfinance(symbols: list[str], *, use_cache: bool) -> dict:
    """Today's cached bars, and a download of the rest; one entry (history or error) per symbol."""
    day = utc_today()
    results = read_cache(symbols, day=day) if use_cache else {}
    missing = [symbol for symbol in symbols if symbol not in results]
    if missing:
        prune_cache(before=day)
        results.update(_download_yahoo(missing, day=day, refresh=not use_cache))
    return results


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
    start = utc_today() - timedelta(days=settings.THETOOL_HISTORY_DAYS)
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
    for chunk in batched(symbols, settings.THETOOL_FETCH_CHUNK_SIZE):
        outcome = _download_chunk(chunk)
        write_cache(outcome.histories, day=day, refresh=refresh)
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
