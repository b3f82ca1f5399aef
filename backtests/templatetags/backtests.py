"""Small includes other pages use: a stock's track record, a strategy's universe backtest summary."""

from django import template

from backtests import selectors
from stocks.backtest import PAST_RESULTS_NOTE

register = template.Library()


@register.inclusion_tag("backtests/_track_record.html", takes_context=True)
def verdict_track_record(context, symbol: str, strategy_id: int | None, last_n: int = 10):
    """'How did this verdict do on this stock': the last signals of the strategy, from the latest backtest,
    and a button to backtest the stock (again)."""
    row = selectors.latest_symbol_backtest(symbol=symbol, strategy_id=strategy_id or 1)
    request = context.get("request")
    return {
        "row": row,
        "signals": row.recent_signals[:last_n] if row else [],
        "symbol": symbol,
        "strategy_id": strategy_id or 1,
        "csrf_token": context.get("csrf_token"),
        "back": request.get_full_path() if request else "",
        "note": PAST_RESULTS_NOTE,
    }


@register.inclusion_tag("backtests/_strategy_summary.html", takes_context=True)
def strategy_backtest_summary(context, strategy_id: int):
    """The latest completed universe backtest of the strategy, or 'not run yet' with a button."""
    latest = context.get("_universe_backtests")
    if latest is None:
        latest = selectors.latest_universe_backtests()
        context["_universe_backtests"] = latest  # one query for the whole page
    job = latest.get(strategy_id)
    buckets = list(selectors.backtest_buckets(job)) if job else []
    return {
        "job": job,
        "buckets": buckets,
        "first": buckets[0] if buckets else None,
        "strategy_id": strategy_id,
        "csrf_token": context.get("csrf_token"),
        "note": PAST_RESULTS_NOTE,
    }
