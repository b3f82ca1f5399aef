"""Writes of the daily loop: watchlists, saved screens, scheduled scans and the due-scan runner.

Every write checks ownership here (not only in views), so the pages, the API and the runner share
one rule: only a list's owner changes it.
"""

from __future__ import annotations

import logging
from datetime import datetime, time

from django.db import IntegrityError, transaction
from django.utils import timezone

from jobs import services as job_services
from jobs.admission import request_job_for_client
from jobs.models import AnalysisJob
from stocks import strategies, universe
from stocks.exceptions import UnknownStrategy, UnknownSymbol
from stocks.models import Stock
from watchlists import schedule, selectors
from watchlists.exceptions import DuplicateName, EmptyWatchlist, NotOwner
from watchlists.models import (
    DEFAULT_SCAN_TIME,
    SavedScreen,
    ScanRun,
    ScanTarget,
    ScheduledScan,
    Watchlist,
    WatchlistItem,
)

logger = logging.getLogger("watchlists")


def ensure_owner(*, user, obj) -> None:
    """Raise NotOwner (403) unless `user` owns `obj` (a watchlist, saved screen or scan)."""
    if not (user is not None and user.is_authenticated and obj.owner_id == user.pk):
        kind = obj._meta.verbose_name
        raise NotOwner(f"Only the owner of this {kind} may change it", details={"id": obj.pk})


def _stocks_for(symbols: list[str]) -> list[Stock]:
    """The universe's stocks for these symbols; raises InvalidSymbol / UnknownSymbol (400 / 404)."""
    wanted = universe.normalize_symbols(symbols) if symbols else []
    found = {stock.yahoo_symbol: stock for stock in Stock.objects.filter(yahoo_symbol__in=wanted)}
    missing = [symbol for symbol in wanted if symbol not in found]
    if missing:
        raise UnknownSymbol(f"Not in the stock universe: {', '.join(missing)}", details={"symbols": missing})
    return [found[symbol] for symbol in wanted]


def _save_named(obj) -> None:
    """Save, answering a clash with one of the owner's other names as a 400 (nothing changed)."""
    try:
        with transaction.atomic():
            obj.save()
    except IntegrityError:
        raise DuplicateName(f"You already have one named {obj.name!r}", details={"name": obj.name}) from None


def create_watchlist(*, owner, name: str, symbols: list[str] | None = None) -> Watchlist:
    stocks = _stocks_for(symbols or [])
    with transaction.atomic():
        watchlist = Watchlist(owner=owner, name=name.strip())
        _save_named(watchlist)
        WatchlistItem.objects.bulk_create([WatchlistItem(watchlist=watchlist, stock=stock) for stock in stocks])
    return watchlist


def rename_watchlist(*, user, watchlist: Watchlist, name: str) -> Watchlist:
    ensure_owner(user=user, obj=watchlist)
    watchlist.name = name.strip()
    _save_named(watchlist)
    return watchlist


def delete_watchlist(*, user, watchlist: Watchlist) -> None:
    ensure_owner(user=user, obj=watchlist)
    watchlist.delete()


def add_stocks(*, user, watchlist: Watchlist, symbols: list[str]) -> int:
    """Add stocks (already listed ones are kept once); returns how many were new."""
    ensure_owner(user=user, obj=watchlist)
    stocks = _stocks_for(symbols)
    present = set(watchlist.items.values_list("stock_id", flat=True))
    new = [WatchlistItem(watchlist=watchlist, stock=stock) for stock in stocks if stock.pk not in present]
    # ignore_conflicts: a concurrent add of the same stock lands once (watchlist_stock_once).
    WatchlistItem.objects.bulk_create(new, ignore_conflicts=True)
    Watchlist.objects.filter(pk=watchlist.pk).update(updated_at=timezone.now())
    return len(new)


def remove_stocks(*, user, watchlist: Watchlist, symbols: list[str]) -> int:
    ensure_owner(user=user, obj=watchlist)
    wanted = universe.normalize_symbols(symbols) if symbols else []
    removed, _ = watchlist.items.filter(stock__yahoo_symbol__in=wanted).delete()
    Watchlist.objects.filter(pk=watchlist.pk).update(updated_at=timezone.now())
    return removed


def set_watchlist_stocks(*, user, watchlist: Watchlist, symbols: list[str]) -> None:
    """Replace the list's stocks with `symbols` (the API's update)."""
    ensure_owner(user=user, obj=watchlist)
    stocks = _stocks_for(symbols)
    with transaction.atomic():
        watchlist.items.exclude(stock__in=stocks).delete()
        present = set(watchlist.items.values_list("stock_id", flat=True))
        WatchlistItem.objects.bulk_create(
            [WatchlistItem(watchlist=watchlist, stock=s) for s in stocks if s.pk not in present], ignore_conflicts=True
        )


def analyze_watchlist(*, request, watchlist: Watchlist, requested_by: str, **params) -> tuple[AnalysisJob, bool]:
    """An ordinary job for the list's stocks (so an identical running job is returned, not repeated).

    Anyone who may read the list may analyse it; the job's own rules (limits, force) still apply.
    """
    symbols = selectors.watchlist_symbols(watchlist=watchlist)
    if not symbols:
        raise EmptyWatchlist(f"Watchlist {watchlist.name!r} has no stocks to analyse", details={"id": watchlist.pk})
    return request_job_for_client(request=request, symbols=symbols, requested_by=requested_by, **params)


# --- Saved screens -----------------------------------------------------------------------------


def create_saved_screen(*, owner, name: str, query: str) -> SavedScreen:
    screen = SavedScreen(owner=owner, name=name.strip(), query=query.lstrip("?"))
    _save_named(screen)
    return screen


def update_saved_screen(*, user, screen: SavedScreen, name: str | None = None, query: str | None = None):
    ensure_owner(user=user, obj=screen)
    if name is not None:
        screen.name = name.strip()
    if query is not None:
        screen.query = query.lstrip("?")
    _save_named(screen)
    return screen


def delete_saved_screen(*, user, screen: SavedScreen) -> None:
    ensure_owner(user=user, obj=screen)
    screen.delete()


# --- Scheduled scans ---------------------------------------------------------------------------


def _check_strategy(strategy_id: int) -> None:
    if strategy_id not in strategies.STRATEGIES:
        raise UnknownStrategy(f"Unknown strategy {strategy_id}", details={"strategy_id": strategy_id})


def schedule_scan(
    *,
    owner,
    name: str,
    watchlist: Watchlist | None = None,
    saved_screen: SavedScreen | None = None,
    strategy_id: int = 1,
    run_at: time = DEFAULT_SCAN_TIME,
    now: datetime | None = None,
) -> ScheduledScan:
    """A scan of a watchlist, a saved screen, or (neither given) the whole universe."""
    _check_strategy(strategy_id)
    for target_obj in (watchlist, saved_screen):
        if target_obj is not None:
            ensure_owner(user=owner, obj=target_obj)
    target = ScanTarget.WATCHLIST if watchlist else ScanTarget.SCREEN if saved_screen else ScanTarget.UNIVERSE
    scan = ScheduledScan(
        owner=owner,
        name=name.strip(),
        target=target,
        watchlist=watchlist,
        saved_screen=None if watchlist else saved_screen,
        strategy_id=strategy_id,
        run_at=run_at,
        next_run_at=schedule.next_run_after(after=now or timezone.now(), run_at=run_at),
    )
    scan.save()
    return scan


def delete_scan(*, user, scan: ScheduledScan) -> None:
    ensure_owner(user=user, obj=scan)
    scan.delete()


def _claim_scan(*, scan: ScheduledScan, now: datetime) -> bool:
    """Move the scan's next_run_at past `now` if it still holds the value we read.

    The conditional UPDATE is the claim: two runners read the same due scan, only one UPDATE
    matches (the other sees 0 rows), so a scan never fires twice for one session.
    """
    following = schedule.next_run_after(after=max(now, scan.next_run_at), run_at=scan.run_at)
    claimed = ScheduledScan.objects.filter(pk=scan.pk, next_run_at=scan.next_run_at, enabled=True).update(
        next_run_at=following, last_run_at=now
    )
    return claimed == 1


def _fire_scan(*, scan: ScheduledScan, session) -> ScanRun | None:
    symbols = selectors.scan_symbols(scan=scan)
    if symbols is not None and not symbols:
        ScheduledScan.objects.filter(pk=scan.pk).update(last_error="nothing to scan: the list or screen is empty")
        return None
    # An identical job already queued or running is returned (created=False): the scan joins it.
    job, created = job_services.request_analysis_job(
        symbols=symbols,  # None: every active stock
        strategy_id=scan.strategy_id,
        requested_by=f"scan:{scan.pk}",
        requested_by_user=scan.owner,
    )
    ScheduledScan.objects.filter(pk=scan.pk).update(last_job=job, last_error="")
    run, _ = ScanRun.objects.get_or_create(
        scan=scan, session=session, defaults={"job": job, "joined_running_job": not created}
    )
    return run


def run_due_scans(*, now: datetime | None = None) -> list[ScanRun]:
    """Fire every enabled scan whose next_run_at has come: one claimed UPDATE and one job each.

    Safe to call from several workers at once (see _claim_scan). A scan whose job cannot be
    requested records the reason and waits for its next session.
    """
    now = now or timezone.now()
    runs = []
    for scan in ScheduledScan.objects.filter(enabled=True, next_run_at__lte=now).select_related("owner"):
        session = schedule.session_of(moment=scan.next_run_at)
        if not _claim_scan(scan=scan, now=now):
            continue
        try:
            run = _fire_scan(scan=scan, session=session)
        except Exception as exc:  # one broken scan must not stop the others
            logger.exception("Scheduled scan %s failed", scan.pk)
            ScheduledScan.objects.filter(pk=scan.pk).update(last_error=str(exc)[:500])
            continue
        if run is not None:
            runs.append(run)
    return runs
