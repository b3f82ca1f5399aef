"""Plain factory functions shared by every test module: sane defaults, keyword overrides.

stock = make_stock("M&M")                       # symbol M&M, yahoo_symbol M&M.NS
result = make_result("M&M.NS", verdict="Buy")   # a saved successful result
failed = make_result("M&M.NS", error="no data") # a saved failed result (no verdict)
history = make_history("TCS.NS", bars=300)      # a synthetic, valid PriceHistory (no database)
"""

from __future__ import annotations

import uuid
from datetime import date
from decimal import Decimal

import numpy as np

from stocks import services
from stocks.market_data import PriceHistory
from stocks.models import AnalysisResult, LatestResult, Stock


def clear_universe() -> None:
    """Remove every Stock (a fresh install loads the NIFTY 50 by migration): one known world per test."""
    Stock.objects.all().delete()


def make_stock(symbol: str = "RELIANCE", **overrides) -> Stock:
    fields = {
        "symbol": symbol,
        "yahoo_symbol": f"{symbol}.NS",
        "name": f"{symbol.title()} Limited",
        "exchange": "NSE",
        "series": "EQ",
        "is_active": True,
    }
    fields.update(overrides)
    return Stock.objects.create(**fields)


def make_result(symbol: str = "RELIANCE.NS", *, error: str = "", created_at=None, **overrides) -> AnalysisResult:
    """A saved AnalysisResult: successful by default, failed when `error` is given.

    `created_at` overrides the auto_now_add timestamp (set with an UPDATE after insert).
    """
    if error:
        fields = {"verdict": "", "error": error}
    else:
        fields = {
            "verdict": "Buy",
            "signal": "BUY",
            "score": 0.35,
            "entry": Decimal("100.00"),
            "stop_loss": Decimal("98.00"),
            "target": Decimal("104.00"),
            "risk_reward": 2.0,
            "position_size": 200,
            # capital 100,000 at 2% risk allows 1,000 shares; the 20% cap allows 200, which bind
            "shares_by_risk": 1000,
            "shares_by_max_position": 200,
            "size_limited_by": "max_position",
            "risk_amount": Decimal("400.00"),
            "risk_taken_percent": 0.4,
            "indicators": [
                {
                    "name": "rsi",
                    "category": "momentum",
                    "value": 28.5,
                    "vote": 1,
                    "confidence": 0.6,
                    "rule": "RSI 14 below 30 votes buy",
                    "details": {},
                },
            ],
            "provenance": {"source": "demo", "bars": 500, "first_bar": "2024-01-01", "last_bar": "2025-11-28"},
            "data_source": "demo",
        }
    fields.update({"symbol": symbol, "strategy_id": 1, "capital": Decimal("100000.00")})
    fields.update(overrides)
    # Through the service, as the worker stores them, so LatestResult stays in step.
    [result] = services.record_results(results=[AnalysisResult(**fields)]).rows
    if created_at is not None:
        AnalysisResult.objects.filter(pk=result.pk).update(created_at=created_at)
        result.refresh_from_db()
        # The pointer compared the insert time; re-point from the dates the test chose.
        LatestResult.objects.filter(stock_id=result.symbol).delete()
        services.refresh_latest_results(symbols=[result.symbol])
    return result


def make_job(symbols: list[str] | None = None, **overrides):
    """A saved, queued AnalysisJob (import inside: the jobs app is optional for stocks tests)."""
    from jobs.models import AnalysisJob

    symbols = sorted(symbols or ["RELIANCE.NS"])
    fields = {
        "analysis_key": uuid.uuid4().hex,
        "symbols": symbols,
        "total": len(symbols),
        "strategy_id": 1,
        "capital": Decimal("100000.00"),
        "risk_percent": Decimal("2.00"),
        "data_source": "demo",
    }
    fields.update(overrides)
    return AnalysisJob.objects.create(**fields)


def make_history(
    symbol: str = "RELIANCE.NS",
    *,
    bars: int = 300,
    drift: float = 0.001,
    seed: int = 7,
    source: str = "demo",
    end: date = date(2025, 11, 28),
) -> PriceHistory:
    """A valid synthetic daily series ending on `end` (business days), oldest first.

    `drift` is the mean daily log return: positive trends up, negative trends down.
    """
    rng = np.random.default_rng(seed)
    close = 100.0 * np.exp(np.cumsum(rng.normal(drift, 0.01, bars)))
    open_ = close * (1 + rng.normal(0, 0.003, bars))
    high = np.maximum(open_, close) * (1 + rng.uniform(0, 0.01, bars))
    low = np.minimum(open_, close) * (1 - rng.uniform(0, 0.01, bars))
    volume = rng.integers(100_000, 5_000_000, bars).astype(np.float64)
    dates = np.busday_offset(np.datetime64(end, "D"), np.arange(-bars + 1, 1), roll="backward")
    return PriceHistory(
        symbol=symbol,
        source=source,
        dates=dates.astype("datetime64[D]"),
        open=open_,
        high=high,
        low=low,
        close=close,
        volume=volume,
    )
