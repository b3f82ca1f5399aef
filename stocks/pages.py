"""Server-rendered stock pages: the universe table, one stock, the strategies.

Views stay thin: read GET parameters, call selectors, render. The universe table is searched,
filtered, sorted and paginated in SQL (50 rows a page), so it stays quick at 2,192 stocks.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, replace
from decimal import Decimal, InvalidOperation
from functools import cached_property

from django.conf import settings
from django.core.paginator import Paginator
from django.db.models import F
from django.http import Http404
from django.shortcuts import render
from django.urls import reverse
from django.views.decorators.http import require_GET

from stocks import analysis, market_data, screener, selectors, services, strategies
from stocks.exceptions import InvalidSymbol, UnknownSymbol
from stocks.indicators import CATEGORY_NAMES, INDICATOR_NAMES
from stocks.models import AnalysisResult, Stock, StockQuote, Verdict
from stocks.readings import describe_reading

logger = logging.getLogger("stocks")

PAGE_SIZE = 50
PAGE_SIZES = (25, 50, 100, 200)
# The screener's optional columns (the symbol, company and checkbox always show).
COLUMNS = {
    "close": "Last close",
    "change": "1-day %",
    "volume": "Volume vs 20-day",
    "range52": "From 52-week high / low",
    "verdict": "Verdict",
    "score": "Score",
    "plan": "Trade plan",
    "analysed": "Last analysed",
}
DEFAULT_COLUMNS = ("close", "change", "verdict", "score", "analysed")
PREFERENCE_COOKIE = "thetool_screener"  # "close,change,...|50": remembered per browser, not per account
DEFAULT_CAPITAL = Decimal("100000")
NOT_ANALYSED = "none"

# GET "sort" value -> ORDER BY. Never-analysed stocks sort last whichever way a column goes.
SORTS = {
    "symbol": (F("symbol").asc(),),
    "-symbol": (F("symbol").desc(),),
    "name": (F("name").asc(), F("symbol").asc()),
    "-name": (F("name").desc(), F("symbol").asc()),
    "score": (F("latest_score").asc(nulls_last=True), F("symbol").asc()),
    "-score": (F("latest_score").desc(nulls_last=True), F("symbol").asc()),
    "analysed": (F("latest_analysed_at").asc(nulls_last=True), F("symbol").asc()),
    "-analysed": (F("latest_analysed_at").desc(nulls_last=True), F("symbol").asc()),
    "change": (F("quote_change").asc(nulls_last=True), F("symbol").asc()),
    "-change": (F("quote_change").desc(nulls_last=True), F("symbol").asc()),
    "volume": (F("quote_volume_ratio").asc(nulls_last=True), F("symbol").asc()),
    "-volume": (F("quote_volume_ratio").desc(nulls_last=True), F("symbol").asc()),
    "high": (F("quote_from_high").asc(nulls_last=True), F("symbol").asc()),
    "-high": (F("quote_from_high").desc(nulls_last=True), F("symbol").asc()),
}


def _verdict_filter(raw: str) -> str:
    """A known verdict, NOT_ANALYSED, or "" (no filter) for anything else."""
    return raw if raw in Verdict.values or raw == NOT_ANALYSED else ""


def universe_table(
    *, query: str, verdict: str, sort: str, strategy_id: int, filters: screener.ScreenFilters | None = None
):
    """Stocks with the id of their latest result under `strategy_id`, filtered (screener too) and ordered."""
    stocks = selectors.stocks_with_strategy_results(
        strategy_id=strategy_id,
        query=query,
        verdict=verdict if verdict in Verdict.values else None,
        never_analysed=verdict == NOT_ANALYSED,
    )
    if filters is not None and not filters.is_empty():
        stocks = screener.apply_filters(stocks, filters=filters, strategy_id=strategy_id)
    return selectors.with_quote_sort_keys(stocks).order_by(*SORTS[sort])


@dataclass(frozen=True)
class StockRow:
    stock: Stock
    result: AnalysisResult | None  # the latest under the page's strategy; None when never analysed
    quote: StockQuote | None = None  # the price line; None before its bars were ever cached

    @cached_property
    def job_url(self) -> str:
        """The result's job page ("" without a job); two cells link to it."""
        return reverse("job-detail", args=[self.result.job_id]) if self.result and self.result.job_id else ""


def rows_of_page(page, *, strategy_id: int) -> list[StockRow]:
    """The page's stocks with their latest results, read after paginating (one query for 50 rows)."""
    stocks = list(page.object_list)
    results = selectors.results_by_id(ids=[stock.latest_result_id for stock in stocks])
    quotes = selectors.quotes_by_symbol(symbols=[stock.yahoo_symbol for stock in stocks])
    return [
        StockRow(stock=stock, result=results.get(stock.latest_result_id), quote=quotes.get(stock.yahoo_symbol))
        for stock in stocks
    ]


def _capital(raw) -> Decimal:
    try:
        value = Decimal(str(raw))
    except (InvalidOperation, ValueError):
        return DEFAULT_CAPITAL
    return value if value.is_finite() and value > 0 else DEFAULT_CAPITAL


def _strategy_id(raw) -> int:
    try:
        value = int(raw)
    except (TypeError, ValueError):
        return 1
    return value if value in strategies.STRATEGIES else 1


def analysis_form_context(request) -> dict:
    """What the capital field and the strategy picker show (sticky across GETs)."""
    return {
        "capital": _capital(request.GET.get("capital", DEFAULT_CAPITAL)),
        "strategy_id": _strategy_id(request.GET.get("strategy")),
        "strategies": list(strategies.STRATEGIES.values()),
    }


def screener_preferences(request) -> tuple[list[str], int, bool]:
    """(columns, page size, changed) from the query string, else the remembered cookie, else defaults."""
    saved_columns, _, saved_size = request.COOKIES.get(PREFERENCE_COOKIE, "").partition("|")
    asked = request.GET.getlist("col")
    columns = [c for c in (asked or saved_columns.split(",")) if c in COLUMNS] or list(DEFAULT_COLUMNS)
    raw_size = request.GET.get("page_size") or saved_size
    size = int(raw_size) if raw_size.isdigit() and int(raw_size) in PAGE_SIZES else PAGE_SIZE
    return columns, size, bool(asked or request.GET.get("page_size"))


@require_GET
def stock_list(request):
    query = request.GET.get("q", "").strip()[:100]
    verdict = _verdict_filter(request.GET.get("verdict", ""))
    sort = request.GET.get("sort", "symbol")
    sort = sort if sort in SORTS else "symbol"
    form = analysis_form_context(request)
    # The page's own verdict filter (with "not analysed") already applies `verdict`: not twice.
    filters = replace(screener.parse_filters(request.GET), verdict="")
    columns, page_size, remember = screener_preferences(request)
    stocks = universe_table(query=query, verdict=verdict, sort=sort, strategy_id=form["strategy_id"], filters=filters)
    page = Paginator(stocks, page_size).get_page(request.GET.get("page"))
    context = {
        "page": page,
        "rows": rows_of_page(page, strategy_id=form["strategy_id"]),
        "universe_count": selectors.count_active_stocks()
        if query or verdict or not filters.is_empty()
        else page.paginator.count,
        "filters": filters,
        "filtered": bool(query or verdict or not filters.is_empty()),
        "columns": columns,
        "column_choices": COLUMNS,
        "page_size": page_size,
        "page_sizes": PAGE_SIZES,
        "index_names": screener.index_names(),
        "industries": screener.industries(),
        "bollinger_positions": screener.BOLLINGER_POSITIONS,
        "screen_query": request.GET.urlencode(),
        "query": query,
        "verdict": verdict,
        "sort": sort,
        "verdicts": Verdict.values,
        "not_analysed": NOT_ANALYSED,
        "strategy": strategies.STRATEGIES[form["strategy_id"]],
        **form,
    }
    response = render(request, "stocks/stock_list.html", context)
    if remember:
        one_year = 365 * 24 * 3600
        response.set_cookie(PREFERENCE_COOKIE, f"{','.join(columns)}|{page_size}", max_age=one_year, samesite="Lax")
    return response


def chart_for(yahoo_symbol: str, result: AnalysisResult | None) -> tuple[dict | None, dict | None, str]:
    """(chart series, price summary, "") or (None, None, reason). Never raises: the page shows the reason.

    Uses the source the latest result used, so the chart shows the bars the verdict came from.
    """
    source = (result.provenance or {}).get("source") if result else None
    source = source or settings.THETOOL_DATA_SOURCE
    if source in ("csv",) and settings.THETOOL_DATA_SOURCE.startswith("csv:"):
        source = settings.THETOOL_DATA_SOURCE  # provenance names the kind; the setting names the directory
    try:
        outcome = market_data.fetch_histories([yahoo_symbol], source=source).get(yahoo_symbol)
        if outcome is None:
            return None, None, "the data source returned nothing for this symbol"
        if isinstance(outcome, market_data.MarketDataError):
            return None, None, outcome.message
        # Every bar the analysis read (the range buttons zoom in): at most THETOOL_HISTORY_DAYS of sessions.
        return analysis.chart_series(outcome, last_n=max(len(outcome), 1)), analysis.price_summary(outcome), ""
    except market_data.MarketDataError as exc:
        return None, None, exc.message
    except Exception:  # a page must never 500 because a chart could not be drawn
        logger.exception("Chart data for %s failed", yahoo_symbol)
        return None, None, "internal error while reading prices (see the server log)"


@require_GET
def stock_detail(request, symbol: str):
    try:
        stock = selectors.get_stock(symbol)
    except (UnknownSymbol, InvalidSymbol) as exc:
        raise Http404(exc.message) from None
    form = analysis_form_context(request)
    # From the All-stocks table (?strategy=N) the page shows the verdict that row showed.
    result = selectors.latest_result_for(
        stock.yahoo_symbol, strategy_id=form["strategy_id"] if "strategy" in request.GET else None
    )
    if result is not None and "capital" not in request.GET:
        form["capital"] = result.capital
        form["strategy_id"] = result.strategy_id
    chart, price, chart_error = chart_for(stock.yahoo_symbol, result)
    levels = None
    if result is not None and result.verdict:
        levels = {"entry": result.entry, "stop_loss": result.stop_loss, "target": result.target}
    context = {
        "stock": stock,
        "result": result,
        "strategy": strategies.STRATEGIES.get(result.strategy_id) if result else None,
        "sizing": services.replan_for_capital(result=result, capital=form["capital"]) if result else None,
        "history": selectors.result_history(stock.yahoo_symbol, limit=50),
        "chart": chart,
        "price": price,
        "readings": [{**reading, **describe_reading(reading)} for reading in result.indicators] if result else [],
        "chart_levels": {k: float(v) for k, v in levels.items() if v is not None} if levels else {},
        "chart_error": chart_error,
        "fixed_symbols": [stock.yahoo_symbol],
        **form,
    }
    return render(request, "stocks/stock_detail.html", context)


@require_GET
def strategy_list(request):
    return render(
        request,
        "stocks/strategy_list.html",
        {
            "strategies": list(strategies.STRATEGIES.values()),
            "indicator_names": INDICATOR_NAMES,
            "category_names": CATEGORY_NAMES,
        },
    )
