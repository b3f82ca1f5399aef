"""Writes of the backtests domain: requesting a backtest job, and running one to stored results.

A backtest is an AnalysisJob of kind "backtest": the same table, lifecycle, deduplication rule
(the kind and the backtest's parameters are part of the analysis key), claiming, fencing,
heartbeat, cancel and recovery. Only the executor differs (`backtests.execution`).
"""

import dataclasses
from datetime import date

import numpy as np
from django.conf import settings

from jobs.models import AnalysisJob, JobKind
from jobs.services import DEFAULT_CAPITAL, DEFAULT_RISK_PERCENT, AnalysisSpec, build_analysis_spec, decide_job
from stocks import backtest, market_data
from stocks.analysis import TradeParams
from stocks.backtest import BacktestReport, Costs
from stocks.bars import PriceHistory
from stocks.exceptions import InvalidTradeParameters
from stocks.strategies import get_strategy
from thetool.exceptions import ApplicationError

MAX_HOLDING_BOUNDS = (1, 120)  # sessions


class InvalidBacktestPeriod(ApplicationError):
    code = "invalid_period"


def build_backtest_spec(
    *,
    symbols: list[str] | None,
    strategy_id: int = 1,
    capital=DEFAULT_CAPITAL,
    risk_percent=DEFAULT_RISK_PERCENT,
    max_position_percent=None,
    start_date: date | None = None,
    end_date: date | None = None,
    max_holding: int = backtest.DEFAULT_MAX_HOLDING,
    costs: dict | None = None,
    data_source: str | None = None,
) -> AnalysisSpec:
    """Validate a backtest request into a spec whose key covers the kind, the period, holding and costs."""
    spec = build_analysis_spec(
        symbols=symbols,
        capital=capital,
        strategy_id=strategy_id,
        risk_percent=risk_percent,
        max_position_percent=max_position_percent,
        data_source=data_source,
    )
    if start_date and end_date and start_date > end_date:
        raise InvalidBacktestPeriod(
            f"start_date {start_date} is after end_date {end_date}", details={"field": "start_date"}
        )
    low, high = MAX_HOLDING_BOUNDS
    if isinstance(max_holding, bool) or not isinstance(max_holding, int) or not low <= max_holding <= high:
        raise InvalidTradeParameters(
            f"max_holding must be a whole number of sessions from {low} to {high}",
            details={"field": "max_holding", "min": low, "max": high},
        )
    parameters = {
        "start_date": start_date.isoformat() if start_date else None,
        "end_date": end_date.isoformat() if end_date else None,
        "max_holding": max_holding,
        "costs": dataclasses.asdict(build_costs(costs)),
        "min_signals": settings.THETOOL_BACKTEST_MIN_SIGNALS,
    }
    return dataclasses.replace(spec, kind=JobKind.BACKTEST, parameters=parameters)


def build_costs(overrides: dict | None) -> Costs:
    """The documented defaults with the caller's overrides; each must be a number >= 0."""
    overrides = overrides or {}
    known = {item.name for item in dataclasses.fields(Costs)}
    unknown = sorted(set(overrides) - known)
    if unknown:
        raise InvalidTradeParameters(
            f"Unknown cost field(s): {', '.join(unknown)}", details={"field": "costs", "valid": sorted(known)}
        )
    for name, value in overrides.items():
        if isinstance(value, bool) or not isinstance(value, int | float) or not np.isfinite(value) or value < 0:
            raise InvalidTradeParameters(f"costs.{name} must be a number >= 0", details={"field": f"costs.{name}"})
    return Costs(**{name: float(value) for name, value in overrides.items()})


def request_backtest_job(
    *,
    symbols: list[str] | None,
    force: bool = False,
    requested_by: str = "",
    requested_by_user=None,
    admit=None,
    **request,
) -> tuple[AnalysisJob, bool]:
    """The running identical backtest (created=False) or a new, enqueued one (created=True)."""
    spec = build_backtest_spec(symbols=symbols, **request)
    return decide_job(
        spec=spec, force=force, requested_by=requested_by, requested_by_user=requested_by_user, admit=admit
    )


def report_for_job(*, job: AnalysisJob, histories: list[PriceHistory]) -> BacktestReport:
    """The backtest `job` describes, over the histories fetched for it."""
    parameters = job.parameters
    return backtest.build_report(
        histories=histories,
        strategy=get_strategy(job.strategy_id),
        params=TradeParams(
            capital=float(job.capital),
            risk_percent=float(job.risk_percent),
            max_position_percent=float(job.max_position_percent) if job.max_position_percent is not None else None,
        ),
        costs=Costs(**parameters.get("costs", {})),
        source=market_data.source_kind(job.data_source),
        start=_day(parameters.get("start_date")),
        end=_day(parameters.get("end_date")),
        max_holding=parameters.get("max_holding", backtest.DEFAULT_MAX_HOLDING),
        min_signals=parameters.get("min_signals", settings.THETOOL_BACKTEST_MIN_SIGNALS),
    )


def _day(value: str | None) -> np.datetime64 | None:
    return np.datetime64(value, "D") if value else None


def fetch_for_backtest(*, symbols: list[str], source: str) -> tuple[list[PriceHistory], dict[str, str]]:
    """(histories, {symbol: error}) for `symbols` from `source`."""
    histories, errors = [], {}
    for symbol, outcome in market_data.fetch_histories(symbols, source=source).items():
        if isinstance(outcome, PriceHistory):
            histories.append(outcome)
        else:
            errors[symbol] = str(outcome)
    return histories, errors
