"""Yahoo Finance through yfinance's public API: the only module that imports yfinance.

One `yf.Ticker(symbol).history(...)` per symbol, with yfinance's documented switch
`yf.config.debug.hide_exceptions = False` so each failure arrives as an exception we can sort:
a rate limit (`YFRateLimitError`: waited out and retried), missing data (`YFPricesMissingError`,
`YFTzMissingError`: a permanent per-symbol error), a network error (transient; many in a row with
nothing fetched trip the circuit breaker), anything else (yfinance changed under us: counted like a
network error, so a broken adapter fails the job with the reason instead of "0 ok, 50 failed").

Bars are cached per last completed NSE session (`cache.final_session`): a bar of a session still in
progress is provisional, dropped before analysis and never cached; bars fetched before the session's
bar settled are fetched once more after it (`cache.settled_since`). Every fetch runs under our own
wall-clock limit and the shared limiter (`limits.yahoo_request`).
"""

import logging
import random
import threading
from concurrent.futures import FIRST_COMPLETED, ThreadPoolExecutor, wait
from dataclasses import dataclass, replace
from datetime import date, timedelta
from pathlib import Path

import pandas as pd
from django.conf import settings
from django.utils import timezone

from stocks.bars import MarketDataError, PriceHistory, SourceUnavailable, validate_bars
from stocks.market_data import limits
from stocks.market_data.cache import (
    YFINANCE,
    bars_to_json,
    batched,
    final_session,
    history_from_json,
    prune_cache,
    read_cache,
    settled_since,
    write_cache,
)
from thetool import shutdown

logger = logging.getLogger("stocks.market_data")

NETWORK_ERRORS_TO_TRIP = 4  # this many network failures in a row, with nothing fetched yet: Yahoo is down


def fetch_yfinance(symbols: list[str], *, use_cache: bool) -> dict:
    """Cached bars of the last completed NSE session, and a download of the rest.

    A symbol cached before its session's bar settled is fetched again; when Yahoo cannot serve it
    then (unreachable, or a transient error), its earlier bars are used, marked `unsettled`.
    """
    now = timezone.now()
    session = final_session(now)
    since = settled_since(session, now)
    results = read_cache(symbols, day=session, fetched_since=since) if use_cache else {}
    missing = [symbol for symbol in symbols if symbol not in results]
    if not missing:
        return results
    prune_cache(before=session)
    # Rows read_cache left out as unsettled are read again only when Yahoo fails to replace them.
    fallback = use_cache and since is not None
    try:
        results.update(_download_yahoo(missing, session=session))
    except SourceUnavailable as exc:
        earlier = _unsettled_rows(missing, session=session) if fallback else {}
        if len(earlier) < len(missing):
            raise
        logger.warning(
            "%s; using the bars of %d symbols fetched before session %s settled", exc.message, len(earlier), session
        )
        return results | earlier
    failed = [s for s in missing if isinstance(results.get(s), MarketDataError) and not results[s].permanent]
    earlier = _unsettled_rows(failed, session=session) if fallback and failed else {}
    if earlier:
        logger.warning(
            "Yahoo could not refetch %d symbols of session %s after it settled; using their earlier bars",
            len(earlier),
            session,
        )
        results.update(earlier)
    return results


def _unsettled_rows(symbols: list[str], *, session: date) -> dict[str, PriceHistory]:
    """Cached bars of `session` fetched before its bar settled (read_cache left them out), marked so."""
    return {symbol: replace(history, unsettled=True) for symbol, history in read_cache(symbols, day=session).items()}


_configure_lock = threading.Lock()
_configured = False


def _yfinance():
    """yfinance, configured once per process: a persistent tz cache, and exceptions instead of log lines."""
    global _configured
    import yfinance as yf

    with _configure_lock:
        if not _configured:
            cache_dir = Path(settings.THETOOL_YFINANCE_CACHE_DIR)
            try:
                cache_dir.mkdir(parents=True, exist_ok=True)
                # The timezone probe is answered from here after the first fetch of a ticker: one request
                # per symbol in steady state, across processes and restarts.
                yf.set_tz_cache_location(str(cache_dir))
            except OSError:
                logger.warning("Cannot use %s as yfinance's cache directory", cache_dir, exc_info=True)
            yf.config.debug.hide_exceptions = False
            _configured = True
    return yf


def _yf_history(symbol: str, start: date) -> pd.DataFrame:
    """One symbol's daily bars from yfinance's public API (the index is tz-aware, Asia/Kolkata)."""
    yf = _yfinance()
    return yf.Ticker(symbol).history(
        start=start.isoformat(),
        interval="1d",
        auto_adjust=True,
        actions=False,
        # repair=True would fetch intraday bars for suspect days (more requests, and scipy); our own
        # checks in stocks.quality flag jumps and zero-volume runs instead.
        repair=False,
        timeout=settings.THETOOL_FETCH_TIMEOUT_SECONDS,
    )


class _DeadlineExceeded(Exception):
    pass


def _call_with_deadline(function, *args, limit: float):
    """function(*args) in a daemon thread; raises _DeadlineExceeded when it runs longer than `limit`.

    yfinance's own timeouts do not bound a fetch (its cookie fetch retries with a hard-coded 30 s,
    a tz probe has a fixed 10 s), so we stop waiting instead. The abandoned thread ends on its own.
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

    threading.Thread(target=run, name="market-data-fetch", daemon=True).start()
    if not shutdown.wait(finished, limit):  # a worker told to stop stops waiting at once
        raise _DeadlineExceeded()
    if "error" in outcome:
        raise outcome["error"]
    return outcome["value"]


@dataclass
class _Unreachable:
    """A symbol that failed the way an unreachable (or changed) Yahoo fails: counts for the breaker."""

    reason: str


def _kind(exc: BaseException) -> str:
    """'rate_limit', 'missing', 'network' or 'unexpected', by yfinance's public exception classes."""
    from yfinance import exceptions as yfe

    # With exceptions unhidden, an HTTP error reaches us as the session's HTTPError (Yahoo answers an
    # unknown or delisted symbol with 404, and yfinance turns only some 429s into YFRateLimitError).
    status = getattr(getattr(exc, "response", None), "status_code", None)
    if isinstance(exc, yfe.YFRateLimitError) or status == 429:
        return "rate_limit"
    if isinstance(exc, yfe.YFPricesMissingError | yfe.YFTzMissingError | yfe.YFTickerMissingError) or status == 404:
        return "missing"
    if isinstance(status, int) and status >= 500:
        return "network"
    if isinstance(exc, OSError | TimeoutError):  # curl_cffi's and requests' errors are OSErrors
        return "network"
    return "unexpected"


def _backoff(attempt: int) -> float:
    base = settings.THETOOL_RATE_LIMIT_BACKOFF_SECONDS
    return base * 2**attempt + random.uniform(0, base)  # jitter: rate-limited workers do not return together


def _fetch_one(symbol: str, *, start: date, session: date) -> PriceHistory | MarketDataError | _Unreachable:
    """One symbol under the shared limiter and the wall-clock limit.

    A rate limit is waited out and retried up to THETOOL_RATE_LIMIT_RETRIES times; a network error
    or a 5xx gets one more try after a short pause (yfinance has already retried it once).
    """
    limit = float(settings.THETOOL_FETCH_WALL_CLOCK_SECONDS)
    retries = settings.THETOOL_RATE_LIMIT_RETRIES
    rate_limited, network_retry = 0, True
    while True:
        try:
            with limits.yahoo_request(lease=limit):
                frame = _call_with_deadline(_yf_history, symbol, start, limit=limit)
            return _history_from_frame(frame, symbol=symbol, session=session)
        except _DeadlineExceeded:
            return _Unreachable(f"Yahoo did not answer for {symbol} within {limit:g} s")
        except MarketDataError as exc:
            return exc
        except Exception as exc:
            kind = _kind(exc)
            if kind == "missing":
                return MarketDataError(f"Yahoo has no daily bars for {symbol} ({exc})", permanent=True)
            if kind == "network" and network_retry:
                network_retry = False
                shutdown.sleep(random.uniform(0.5, 1.5))
                continue
            if kind != "rate_limit":
                if kind == "unexpected":
                    logger.error("yfinance failed for %s", symbol, exc_info=True)
                return _Unreachable(f"{type(exc).__name__}: {exc}")
        if rate_limited >= retries:
            return MarketDataError(
                f"Yahoo kept rate-limiting {symbol} after {retries} retries (THETOOL_RATE_LIMIT_RETRIES); try later",
                permanent=False,
            )
        pause = _backoff(rate_limited)
        rate_limited += 1
        logger.warning("Yahoo rate-limited %s; retrying in %.1f s", symbol, pause)
        shutdown.sleep(pause)


def _history_from_frame(frame: pd.DataFrame, *, symbol: str, session: date) -> PriceHistory:
    """Validated bars through `session`: a later bar belongs to a session still in progress (provisional)."""
    if isinstance(frame.index, pd.DatetimeIndex) and len(frame):
        local_days = frame.index.tz_localize(None) if frame.index.tz is not None else frame.index
        frame = frame.loc[local_days.normalize() <= pd.Timestamp(session)]
    history = validate_bars(frame, symbol=symbol, source=YFINANCE)
    # Round-trip through the cache format so a first and a cached analysis see equal bars.
    return history_from_json(symbol, YFINANCE, bars_to_json(history))


def _download_yahoo(symbols: list[str], *, session: date) -> dict:
    """Fetch in chunks (each cached as it lands), THETOOL_YAHOO_CONCURRENCY symbols at a time.

    Circuit breaker: NETWORK_ERRORS_TO_TRIP failures in a row that look like an unreachable Yahoo,
    before any bars came back, raise SourceUnavailable at once (the job fails fast with the reason).
    After good bars, such failures are per-symbol transient errors.
    """
    start = session - timedelta(days=settings.THETOOL_HISTORY_DAYS)
    results: dict = {}
    state = {"got_any": False, "in_a_row": 0}
    pool = ThreadPoolExecutor(max_workers=settings.THETOOL_YAHOO_CONCURRENCY, thread_name_prefix="yahoo")
    try:
        for chunk in batched(symbols, settings.THETOOL_FETCH_CHUNK_SIZE):
            histories = _fetch_chunk(pool, chunk, start=start, session=session, results=results, state=state)
            write_cache(histories, day=session)
    finally:
        # Never wait for fetches still hanging when the breaker trips: each ends at its wall-clock limit.
        pool.shutdown(wait=False, cancel_futures=True)
    return results


def _fetch_chunk(pool, chunk: list[str], *, start: date, session: date, results: dict, state: dict) -> dict:
    futures = {pool.submit(_fetch_one, symbol, start=start, session=session): symbol for symbol in chunk}
    histories = {}
    pending = set(futures)
    while pending:
        shutdown.checkpoint()  # a worker told to stop leaves the fetches in flight to their limits
        done, pending = wait(pending, timeout=shutdown.POLL_SECONDS, return_when=FIRST_COMPLETED)
        for future in done:
            symbol, outcome = futures[future], future.result()
            if isinstance(outcome, _Unreachable):
                state["in_a_row"] += 1
                if not state["got_any"] and state["in_a_row"] >= min(NETWORK_ERRORS_TO_TRIP, len(chunk)):
                    for other in pending:
                        other.cancel()
                    raise SourceUnavailable(f"Yahoo Finance is unreachable: {outcome.reason}")
                results[symbol] = MarketDataError(outcome.reason, permanent=False)
                continue
            state["in_a_row"] = 0
            if isinstance(outcome, PriceHistory):
                state["got_any"] = True
                histories[symbol] = outcome
            results[symbol] = outcome
    return histories
