"""Reads of the daily loop: whose lists, what a scan covers, and what changed between scans.

"What changed" is computed from stored AnalysisResult rows (never by analysing again):
`changes_between` is the one function the pages, the API, the CSV and alerts read it through.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from urllib.parse import parse_qs

from django.db.models import Count, OuterRef, QuerySet, Subquery
from django.utils import timezone

from stocks import screener
from stocks import selectors as stock_selectors
from stocks.models import AnalysisResult, Verdict
from watchlists.exceptions import WatchlistNotFound
from watchlists.models import SavedScreen, ScanRun, ScanTarget, ScheduledScan, Watchlist

# Strong Sell (0) ... Strong Buy (4): an upgrade moves up this ladder.
VERDICT_RANK = {"Strong Sell": 0, "Sell": 1, "Hold": 2, "Buy": 3, "Strong Buy": 4}
SPARKLINE_POINTS = 20


def watchlists_of(*, user) -> QuerySet[Watchlist]:
    if not (user and user.is_authenticated):
        return Watchlist.objects.none()
    return Watchlist.objects.filter(owner=user).annotate(stock_count=Count("items")).order_by("name", "id")


def get_watchlist(*, pk) -> Watchlist:
    """Any user's watchlist by id (reads are open to signed-in users; writes check the owner)."""
    try:
        return Watchlist.objects.select_related("owner").get(pk=int(pk))
    except (Watchlist.DoesNotExist, TypeError, ValueError):
        raise WatchlistNotFound(f"No watchlist {pk}", details={"id": str(pk)}) from None


def watchlist_symbols(*, watchlist: Watchlist) -> list[str]:
    return list(watchlist.items.order_by("stock__yahoo_symbol").values_list("stock__yahoo_symbol", flat=True))


def saved_screens_of(*, user) -> QuerySet[SavedScreen]:
    if not (user and user.is_authenticated):
        return SavedScreen.objects.none()
    return SavedScreen.objects.filter(owner=user)


def saved_screen_by_token(*, token) -> SavedScreen | None:
    # `token` comes through the <uuid:> converter; a database error must propagate (503, not 404).
    return SavedScreen.objects.select_related("owner").filter(share_token=token).first()


def screen_symbols(*, query: str, strategy_id: int) -> list[str]:
    """The symbols a saved screen's query string selects today (the screener's own SQL)."""
    params = {key: values[-1] for key, values in parse_qs(query).items()}
    filters = screener.parse_filters(params)
    stocks = stock_selectors.stocks_with_strategy_results(strategy_id=strategy_id)
    stocks = screener.apply_filters(stocks, filters=filters, strategy_id=strategy_id)
    return list(stocks.order_by("yahoo_symbol").values_list("yahoo_symbol", flat=True))


def scan_symbols(*, scan: ScheduledScan) -> list[str] | None:
    """What a scan analyses: its list's symbols, its screen's matches, or None (every active stock)."""
    if scan.target == ScanTarget.WATCHLIST:
        return watchlist_symbols(watchlist=scan.watchlist)
    if scan.target == ScanTarget.SCREEN:
        return screen_symbols(query=scan.saved_screen.query, strategy_id=scan.strategy_id)
    return None


def scans_of(*, user) -> QuerySet[ScheduledScan]:
    if not (user and user.is_authenticated):
        return ScheduledScan.objects.none()
    return ScheduledScan.objects.filter(owner=user).select_related("watchlist", "saved_screen", "last_job")


def runs_of(*, scan: ScheduledScan, limit: int = 10) -> list[ScanRun]:
    return list(scan.runs.select_related("job")[:limit])


# --- What changed ------------------------------------------------------------------------------


@dataclass(frozen=True)
class VerdictChange:
    symbol: str
    strategy_id: int
    verdict: str
    previous_verdict: str  # "" when the stock had no earlier result under this strategy
    score: float | None
    previous_score: float | None
    analysed_at: datetime
    result_id: int
    history: list[float] = field(default_factory=list)  # older -> newer scores, for the sparkline

    @property
    def kind(self) -> str:
        """upgrade, downgrade, new (no earlier result) or unchanged."""
        if not self.previous_verdict:
            return "new"
        delta = VERDICT_RANK.get(self.verdict, 2) - VERDICT_RANK.get(self.previous_verdict, 2)
        return "upgrade" if delta > 0 else "downgrade" if delta < 0 else "unchanged"

    @property
    def score_delta(self) -> float | None:
        if self.score is None or self.previous_score is None:
            return None
        return round(self.score - self.previous_score, 2)

    @property
    def new_strong(self) -> str:
        """'Strong Buy' / 'Strong Sell' when the stock just became one, else ''."""
        strong = self.verdict in (Verdict.STRONG_BUY, Verdict.STRONG_SELL)
        return self.verdict if strong and self.previous_verdict != self.verdict else ""


def changes_between(
    *,
    since: datetime,
    until: datetime | None = None,
    strategy_id: int = 1,
    symbols: list[str] | None = None,
    only_changed: bool = False,
) -> list[VerdictChange]:
    """Each symbol's newest verdict analysed in (since, until] against its newest one before `since`.

    One query for the pairs (a correlated subquery finds the previous result) and one for the
    score histories. `symbols=None` means every symbol analysed in the window; `only_changed`
    drops stocks whose verdict stayed the same.
    """
    window = AnalysisResult.objects.filter(strategy_id=strategy_id, error="", created_at__gt=since)
    if until is not None:
        window = window.filter(created_at__lte=until)
    if symbols is not None:
        window = window.filter(symbol__in=symbols)
    newest_in_window = window.filter(symbol=OuterRef("symbol")).order_by("-created_at", "-id").values("id")[:1]
    previous = AnalysisResult.objects.filter(
        symbol=OuterRef("symbol"), strategy_id=strategy_id, error="", created_at__lte=since
    ).order_by("-created_at", "-id")
    rows = (
        window.filter(id=Subquery(newest_in_window))
        .annotate(
            previous_verdict=Subquery(previous.values("verdict")[:1]),
            previous_score=Subquery(previous.values("score")[:1]),
        )
        .order_by("symbol")
        .values("id", "symbol", "verdict", "score", "created_at", "previous_verdict", "previous_score")
    )
    rows = list(rows)
    histories = score_histories(symbols=[row["symbol"] for row in rows], strategy_id=strategy_id, until=until)
    changes = [
        VerdictChange(
            symbol=row["symbol"],
            strategy_id=strategy_id,
            verdict=row["verdict"],
            previous_verdict=row["previous_verdict"] or "",
            score=row["score"],
            previous_score=row["previous_score"],
            analysed_at=row["created_at"],
            result_id=row["id"],
            history=histories.get(row["symbol"], []),
        )
        for row in rows
    ]
    if only_changed:
        changes = [change for change in changes if change.kind != "unchanged"]
    return changes


def score_histories(
    *, symbols: list[str], strategy_id: int, until: datetime | None = None, points: int = SPARKLINE_POINTS
) -> dict[str, list[float]]:
    """The last `points` scores per symbol under a strategy, oldest first (for sparklines)."""
    if not symbols:
        return {}
    results = AnalysisResult.objects.filter(symbol__in=symbols, strategy_id=strategy_id, error="")
    if until is not None:
        results = results.filter(created_at__lte=until)
    out: dict[str, list[float]] = {}
    for symbol, score in results.order_by("symbol", "-created_at", "-id").values_list("symbol", "score"):
        scores = out.setdefault(symbol, [])
        if len(scores) < points and score is not None:
            scores.append(score)
    return {symbol: list(reversed(scores)) for symbol, scores in out.items()}


def default_since(*, now: datetime) -> datetime:
    """Without `since`: the last day."""
    return now - timedelta(days=1)


def changes_for_query(*, query: dict) -> list[VerdictChange]:
    """The changes a validated changes query asks for (`since`, `until`, `watchlist`, `strategy`, `changed`)."""
    symbols = None
    if query.get("watchlist"):
        symbols = watchlist_symbols(watchlist=get_watchlist(pk=query["watchlist"]))
    return changes_between(
        since=query.get("since") or default_since(now=timezone.now()),
        until=query.get("until"),
        strategy_id=query.get("strategy", 1),
        symbols=symbols,
        only_changed=query.get("changed", False),
    )


def symbols_of_watchlist_ref(ref: str) -> set[str]:
    """The symbols of the watchlist whose id is `ref` (an alert subscription's target), or none."""
    watchlist = Watchlist.objects.filter(pk=int(ref)).first() if ref.isdigit() else None
    return set(watchlist_symbols(watchlist=watchlist)) if watchlist else set()


def symbols_of_screen_ref(ref: str) -> set[str]:
    """The symbols a saved screen (by id) selects today under its default strategy (Balanced)."""
    screen = SavedScreen.objects.filter(pk=int(ref)).first() if ref.isdigit() else None
    if screen is None:
        return set()
    params = {key: values[-1] for key, values in parse_qs(screen.query).items()}
    strategy_id = int(params["strategy"]) if params.get("strategy", "").isdigit() else 1
    return set(screen_symbols(query=screen.query, strategy_id=strategy_id))
