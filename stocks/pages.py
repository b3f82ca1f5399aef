"""Server-rendered stock pages: the universe table, one stock, the strategies.

Views stay thin: read GET parameters, call selectors, render. The universe table is searched,
filtered, sorted and paginated in SQL (50 rows a page), so it stays quick at 2,192 stocks.
"""

from __future__ import annotations

import logging
from decimal import Decimal, InvalidOperation

from django.conf import settings
from django.core.paginator import Paginator
from django.db.models import F
from django.http import Http404
from django.shortcuts import render
from django.views.decorators.http import require_GET

from jobs.models import AnalysisJob
from jobs.selectors import get_job
from stocks import analysis, market_data, selectors, strategies
from stocks.exceptions import InvalidSymbol, InvalidTradeParameters, UnknownSymbol
from stocks.indicators import CATEGORY_NAMES, INDICATOR_NAMES
from stocks.models import AnalysisResult, Verdict
from thetool.exceptions import ApplicationError

logger = logging.getLogger("stocks")

PAGE_SIZE = 50
DEFAULT_CAPITAL = Decimal("100000")
CHART_BARS = 250
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
}


def _verdict_filter(raw: str) -> str:
    """A known verdict, NOT_ANALYSED, or "" (no filter) for anything else."""
    return raw if raw in Verdict.values or raw == NOT_ANALYSED else ""


def universe_table(*, query: str, verdict: str, sort: str):
    """Stocks with their latest result, filtered and ordered for the All-stocks table."""
    stocks = selectors.stocks_with_latest_results(query=query, verdict=verdict if verdict in Verdict.values else None)
    if verdict == NOT_ANALYSED:
        stocks = stocks.filter(latest_result_id__isnull=True)
    return stocks.order_by(*SORTS[sort])


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


def tracked_job(request) -> AnalysisJob | None:
    """The job named by ?job=<id> (set after Analyze), whose progress the page shows."""
    raw = request.GET.get("job", "")
    if not raw:
        return None
    try:
        return get_job(raw)
    except ApplicationError:  # an unknown or malformed id just shows no progress bar
        return None


@require_GET
def stock_list(request):
    query = request.GET.get("q", "").strip()[:100]
    verdict = _verdict_filter(request.GET.get("verdict", ""))
    sort = request.GET.get("sort", "symbol")
    sort = sort if sort in SORTS else "symbol"
    page = Paginator(universe_table(query=query, verdict=verdict, sort=sort), PAGE_SIZE).get_page(
        request.GET.get("page")
    )
    context = {
        "page": page,
        "query": query,
        "verdict": verdict,
        "sort": sort,
        "verdicts": Verdict.values,
        "not_analysed": NOT_ANALYSED,
        "job": tracked_job(request),
        **analysis_form_context(request),
    }
    return render(request, "stocks/stock_list.html", context)


def position_for_capital(result: AnalysisResult, capital: Decimal) -> int | None:
    """The result's position size re-sized for `capital`, with the engine's own rule (plan_trade).

    Entry, stop and target do not depend on capital; only the share count does. None when the
    result cannot be re-planned (old provenance without the parameters, or a capital out of bounds).
    """
    if result.entry is None or not result.verdict:
        return None
    provenance = result.provenance or {}
    atr = next((i.get("details", {}).get("atr") for i in result.indicators if i.get("name") == "atr"), None)
    try:
        strategy = strategies.get_strategy(result.strategy_id)
        params = analysis.TradeParams(
            capital=float(capital),
            risk_percent=float(provenance.get("risk_percent", 2.0)),
            max_position_percent=provenance.get("max_position_percent"),
        )
        plan = analysis.plan_trade(
            entry_price=float(result.entry),
            atr_value=float(atr) if atr is not None else 0.0,
            verdict=result.verdict,
            strategy=strategy,
            params=params,
        )
    except (InvalidTradeParameters, market_data.MarketDataError, ValueError, TypeError, KeyError) as exc:
        logger.info("Cannot re-size %s for capital %s: %s", result.symbol, capital, exc)
        return None
    return plan.position_size


def chart_for(yahoo_symbol: str, result: AnalysisResult | None) -> tuple[dict | None, str]:
    """(chart series, "") or (None, reason). Never raises: the page shows the reason instead.

    Uses the source the latest result used, so the chart shows the bars the verdict came from.
    """
    source = (result.provenance or {}).get("source") if result else None
    source = source or settings.THETOOL_DATA_SOURCE
    if source in ("csv",) and settings.THETOOL_DATA_SOURCE.startswith("csv:"):
        source = settings.THETOOL_DATA_SOURCE  # provenance names the kind; the setting names the directory
    try:
        outcome = market_data.fetch_histories([yahoo_symbol], source=source).get(yahoo_symbol)
        if outcome is None:
            return None, "the data source returned nothing for this symbol"
        if isinstance(outcome, market_data.MarketDataError):
            return None, outcome.message
        return analysis.chart_series(outcome, last_n=CHART_BARS), ""
    except market_data.MarketDataError as exc:
        return None, exc.message
    except Exception:  # a page must never 500 because a chart could not be drawn
        logger.exception("Chart data for %s failed", yahoo_symbol)
        return None, "internal error while reading prices (see the server log)"


@require_GET
def stock_detail(request, symbol: str):
    try:
        stock = selectors.get_stock(symbol)
    except (UnknownSymbol, InvalidSymbol) as exc:
        raise Http404(exc.message) from None
    result = selectors.latest_result_for(stock.yahoo_symbol)
    form = analysis_form_context(request)
    if result is not None and "capital" not in request.GET:
        form["capital"] = result.capital
        form["strategy_id"] = result.strategy_id
    chart, chart_error = chart_for(stock.yahoo_symbol, result)
    levels = None
    if result is not None and result.verdict:
        levels = {"entry": result.entry, "stop_loss": result.stop_loss, "target": result.target}
    context = {
        "stock": stock,
        "result": result,
        "strategy": strategies.STRATEGIES.get(result.strategy_id) if result else None,
        "position_size": position_for_capital(result, form["capital"]) if result else None,
        "history": selectors.result_history(stock.yahoo_symbol, limit=50),
        "chart": chart,
        "chart_levels": {k: float(v) for k, v in levels.items() if v is not None} if levels else {},
        "chart_error": chart_error,
        "job": tracked_job(request),
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
