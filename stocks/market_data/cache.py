"""The price cache: one PriceCache row per symbol and source for the last completed NSE session.

A row's `fetched_on` is the NSE session its bars are final through (`final_session`), not the UTC day
of the fetch: a re-run in the same session reads it, the first run after the next close does not,
and weekends and holidays keep reading Friday's (or the pre-holiday) row. A row fetched in the
minutes after the close, before the session's bar settled (`NSECalendar.final_at`, close +
THETOOL_BAR_SETTLE_MINUTES), serves re-runs until then and is fetched once more after it
(`settled_since`): Yahoo may publish a session's bar late or revise its close.

Bars are stored as compact column arrays ({"d", "o", "h", "l", "c", "v"}) and validated again when
read (cheap, and a row may predate a rule).
"""

import logging
from datetime import UTC, date, datetime, timedelta

import numpy as np
from django.conf import settings
from django.db import DatabaseError, transaction
from django.utils import timezone

from stocks.bars import MarketDataError, PriceHistory, checked_history
from stocks.calendar import NSECalendar
from stocks.models import PriceCache

logger = logging.getLogger("stocks.market_data")

YFINANCE = "yfinance"
CACHE_DECIMALS = 4  # prices are stored to 0.0001: far below NSE's tick, and keeps the JSON small
DB_BATCH = 500


def utc_today() -> date:
    """The day a cache row belongs to (and the day demo bars end before)."""
    return timezone.now().astimezone(UTC).date()


def nse_calendar() -> NSECalendar:
    return NSECalendar(
        extra_holidays=settings.THETOOL_NSE_EXTRA_HOLIDAYS,
        settle=timedelta(minutes=settings.THETOOL_BAR_SETTLE_MINUTES),
    )


def final_session(now: datetime) -> date:
    """The newest NSE session whose bar is final at `now` (its close has passed): the cache key."""
    return nse_calendar().last_completed_session(now)


def settled_since(session: date, now: datetime) -> datetime | None:
    """Cached rows of `session` fetched before this moment are fetched again (None: every row serves).

    Until the session's bar settles, a row fetched after the close is as good as a new fetch; from
    then on only rows fetched after it settled are final.
    """
    final_at = nse_calendar().final_at(session)
    return final_at if now >= final_at else None


def batched(items: list, size: int):
    for start in range(0, len(items), size):
        yield items[start : start + size]


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
        open_, high, low, close, volume = (np.array(bars[key], dtype=np.float64) for key in ("o", "h", "l", "c", "v"))
    except (KeyError, TypeError, ValueError) as exc:
        raise MarketDataError(f"{symbol}: unreadable cached bars ({exc})", permanent=False) from exc
    return checked_history(
        symbol=symbol, source=source, dates=dates, open_=open_, high=high, low=low, close=close, volume=volume
    )


def read_cache(symbols: list[str], *, day: date, fetched_since: datetime | None = None) -> dict[str, PriceHistory]:
    """Cached bars of session `day` (only rows fetched at or after `fetched_since`, when given)."""
    found = {}
    for batch in batched(symbols, DB_BATCH):
        rows = PriceCache.objects.filter(source=YFINANCE, fetched_on=day, symbol__in=batch)
        if fetched_since is not None:
            rows = rows.filter(fetched_at__gte=fetched_since)
        for symbol, bars in rows.values_list("symbol", "bars"):
            try:
                found[symbol] = history_from_json(symbol, YFINANCE, bars)
            except MarketDataError as exc:  # a damaged row is refetched, not fatal
                logger.warning("Ignoring cached bars of %s: %s", symbol, exc.message)
    return found


def write_cache(histories: dict[str, PriceHistory], *, day: date) -> None:
    """Store fetched bars in one short transaction (never held during a fetch: SQLite is IMMEDIATE).

    An upsert: a refetch of the session (use_cache=False, or bars that had not settled) replaces the
    row's bars and `fetched_at`; concurrent workers fetching the same symbol leave one row.
    """
    if not histories:
        return
    fetched_at = timezone.now()
    rows = [
        PriceCache(
            symbol=symbol,
            source=YFINANCE,
            fetched_on=day,
            bars=bars_to_json(history),
            bar_count=len(history),
            first_bar=history.dates[0].item(),
            last_bar=history.dates[-1].item(),
            fetched_at=fetched_at,
        )
        # In symbol order: two workers upserting overlapping symbols lock rows in the same order (no deadlock).
        for symbol, history in sorted(histories.items())
    ]
    try:
        with transaction.atomic():
            PriceCache.objects.bulk_create(
                rows,
                batch_size=DB_BATCH,
                update_conflicts=True,
                unique_fields=["symbol", "source", "fetched_on"],
                update_fields=["bars", "bar_count", "first_bar", "last_bar", "fetched_at"],
            )
    except DatabaseError:
        # The cache only saves time: a locked or full database must not fail the analysis.
        logger.warning("Could not cache the bars of %d symbols", len(rows), exc_info=True)


def prune_cache(*, before: date) -> None:
    """Drop rows of earlier sessions: only the last completed session's rows are read (~50 kB per symbol)."""
    try:
        with transaction.atomic():
            PriceCache.objects.filter(source=YFINANCE, fetched_on__lt=before).delete()
    except DatabaseError:
        logger.warning("Could not prune the price cache", exc_info=True)
