"""Read-side queries for stocks and their analysis results.

"Latest" always means newest by (created_at, id): the model's own ordering. Every selector here
is one SQL query that works the same on SQLite and PostgreSQL: one stock's results are read
through the `result_symbol_latest` index on (symbol, -created_at), lists of stocks join the
LatestResult table (kept in step with the results by `services.record_results`), so no page
searches the history for "the newest" of every stock.
"""

from __future__ import annotations

from django.db.models import F, FilteredRelation, OuterRef, Q, QuerySet, Subquery

from stocks import universe
from stocks.exceptions import UnknownSymbol
from stocks.models import ANY_STRATEGY, AnalysisResult, Stock, StockQuote

NEWEST_FIRST = ("-created_at", "-id")


def _newest_result_of(symbol_ref) -> QuerySet[AnalysisResult]:
    """Results of the symbol `symbol_ref` (a value or an OuterRef), newest first."""
    return AnalysisResult.objects.filter(symbol=symbol_ref).order_by(*NEWEST_FIRST)


def latest_result_for(symbol: str, *, strategy_id: int | None = None) -> AnalysisResult | None:
    """The newest result of one symbol ("reliance", "RELIANCE.NS"), or None if never analysed;
    with `strategy_id`, the newest under that strategy."""
    results = _newest_result_of(universe.normalize_symbol(symbol))
    if strategy_id is not None:
        results = results.filter(strategy_id=strategy_id)
    return results.select_related("job").first()


def result_history(symbol: str, limit: int | None = 50) -> QuerySet[AnalysisResult]:
    """Past results of one symbol, newest first; `limit=None` leaves slicing to a paginator."""
    results = _newest_result_of(universe.normalize_symbol(symbol))
    return results if limit is None else results[:limit]


def _stocks(*, query: str = "", active: bool | None = True) -> QuerySet[Stock]:
    stocks = Stock.objects.all()
    if active is not None:
        stocks = stocks.filter(is_active=active)
    query = query.strip()
    if query:
        stocks = stocks.filter(Q(symbol__icontains=query) | Q(yahoo_symbol__icontains=query) | Q(name__icontains=query))
    return stocks.order_by("symbol")


def stocks_with_latest_results(
    *, query: str = "", active: bool | None = True, verdict: str | None = None
) -> QuerySet[Stock]:
    """Stocks annotated with their newest result under any strategy: `latest_verdict` ("" when it
    failed), `latest_score`, `latest_error`, `latest_analysed_at`, `latest_data_source` (demo
    results are labelled wherever they show) and `latest_result_id` (all None when never analysed).

    One query for any number of stocks: a LEFT JOIN to the stock's ANY_STRATEGY row of
    LatestResult, so filtering, counting and paginating never look into the history.
    `active=None` includes inactive stocks; `verdict` keeps stocks whose latest verdict it is.
    """
    stocks = _with_latest(_stocks(query=query, active=active), strategy_id=ANY_STRATEGY).annotate(
        latest_result_id=F("latest__result_id"),
        latest_verdict=F("latest__verdict"),
        latest_score=F("latest__score"),
        latest_error=F("latest__error"),
        latest_analysed_at=F("latest__created_at"),
        latest_data_source=F("latest__data_source"),
    )
    if verdict:
        stocks = stocks.filter(latest_verdict=verdict)
    return stocks


def _with_latest(stocks: QuerySet[Stock], *, strategy_id: int) -> QuerySet[Stock]:
    """`stocks` LEFT JOINed (as `latest`) to their LatestResult row for `strategy_id`."""
    return stocks.annotate(
        latest=FilteredRelation("latest_results", condition=Q(latest_results__strategy_id=strategy_id))
    )


def stocks_with_strategy_results(
    *, strategy_id: int, query: str = "", verdict: str | None = None, never_analysed: bool = False
) -> QuerySet[Stock]:
    """Active stocks with `latest_result_id`: the id of their newest result under `strategy_id`.

    Verdicts of different strategies never mix: a Momentum result does not stand in for a
    Balanced one, and sorting by score compares one strategy. One LEFT JOIN to LatestResult (one
    row per stock and strategy) gives `latest_result_id`, `latest_score`, `latest_analysed_at` and
    `latest_verdict`, so filters, sorts, the count and the page are each a single pass over the
    universe, whatever the history's size. Paginate first, then read the page's results with
    `results_by_id`. `verdict` keeps stocks whose latest verdict it is; `never_analysed` keeps
    stocks with no result under this strategy.
    """
    stocks = (
        _with_latest(_stocks(query=query, active=True), strategy_id=strategy_id)
        .annotate(latest_result_id=F("latest__result_id"))
        .alias(
            latest_score=F("latest__score"),
            latest_analysed_at=F("latest__created_at"),
            latest_verdict=F("latest__verdict"),
        )
    )
    if verdict:
        stocks = stocks.filter(latest_verdict=verdict)
    if never_analysed:
        stocks = stocks.filter(latest_result_id__isnull=True)
    return stocks


LIST_FIELDS = (
    "job", "symbol", "strategy_id", "verdict", "score", "error", "entry", "stop_loss", "target", "created_at",
    "data_source", "packed_provenance",  # provenance: the data-quality flags shown next to the verdict
)  # fmt: skip


def results_by_id(*, ids: list[int | None]) -> dict[int, AnalysisResult]:
    """The results with these ids (None ignored), by id, with their job: one query for a page of rows.

    Only the columns a row of the list shows (`{% stock_row %}`), and of the job only its status: a
    full-universe job's symbol list is ~30 KB of JSON, which was decoded again for every row that
    joined it (half of the stock list's time).
    """
    wanted = [pk for pk in ids if pk is not None]
    rows = AnalysisResult.objects.filter(pk__in=wanted).select_related("job").only(*LIST_FIELDS, "job__status")
    return {result.pk: result for result in rows}


def count_active_stocks() -> int:
    """How many stocks the universe has (the "of 2,192" after a search)."""
    return Stock.objects.filter(is_active=True).count()


def get_stock(symbol: str) -> Stock:
    """The stock for "RELIANCE", "reliance" or "RELIANCE.NS".

    Raises InvalidSymbol for malformed input and UnknownSymbol when it is not in the universe.
    """
    yahoo_symbol = universe.normalize_symbol(symbol)
    stock = Stock.objects.filter(yahoo_symbol=yahoo_symbol).first()
    if stock is None:
        raise UnknownSymbol(f"Unknown symbol {symbol!r}: it is not in the stock universe", details={"symbol": symbol})
    return stock


def with_quote_sort_keys(stocks: QuerySet[Stock]) -> QuerySet[Stock]:
    """Aliases for sorting by the price line (cost nothing unless an order_by uses them)."""
    quote = StockQuote.objects.filter(symbol=OuterRef("yahoo_symbol"))
    return stocks.alias(
        quote_change=Subquery(quote.values("change_percent")[:1]),
        quote_volume_ratio=Subquery(quote.values("volume_ratio")[:1]),
        quote_from_high=Subquery(quote.values("from_high_percent")[:1]),
    )


def quotes_by_symbol(*, symbols: list[str]) -> dict[str, StockQuote]:
    """The price lines of these symbols, by symbol: one query for a page of rows."""
    return {quote.symbol: quote for quote in StockQuote.objects.filter(symbol__in=symbols)}
