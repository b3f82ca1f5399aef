"""Scoring, verdicts, trade plans and parameter checks of the analysis engine, with exact numbers."""

import json
import os
import subprocess
import sys
from decimal import Decimal
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from stocks import indicators
from stocks.analysis import (
    TradeParams,
    analyze,
    chart_series,
    plan_trade,
    price_summary,
    score_readings,
    signal_for,
    tick_size_for,
    verdict_for,
)
from stocks.exceptions import InvalidTradeParameters
from stocks.market_data import MarketDataError, PriceHistory
from stocks.strategies import STRATEGIES, get_strategy

PARAMS = TradeParams(capital=100_000)


def synthetic_history(seed: int, bars: int = 500, drift: float = 0.0003, symbol: str = "SYN.NS") -> PriceHistory:
    """A deterministic random walk with valid OHLCV; `drift` is the mean daily log return."""
    rng = np.random.default_rng(seed)
    close = 100 * np.exp(np.cumsum(rng.normal(drift, 0.018, bars)))
    open_ = np.concatenate(([100.0], close[:-1])) * np.exp(rng.normal(0, 0.0045, bars))
    high = np.maximum(open_, close) * np.exp(np.abs(rng.normal(0, 0.009, bars)))
    low = np.minimum(open_, close) * np.exp(-np.abs(rng.normal(0, 0.009, bars)))
    volume = np.round(rng.lognormal(13, 0.5, bars))
    dates = np.datetime64("2023-01-02") + np.arange(bars)
    return PriceHistory(symbol, "demo", dates, open_, high, low, close, volume)


def reading(name: str, vote: int, confidence: float) -> dict:
    return {"name": name, "category": indicators.CATEGORIES[name], "vote": vote, "confidence": confidence}


# --- score and verdict --------------------------------------------------------------------------


def test_score_is_the_weighted_vote_over_the_weighted_confidence():
    readings = [reading("macd", 1, 0.5), reading("rsi", -1, 1.0), reading("atr", 0, 0.5)]
    # Balanced: (0.5 - 1.0 + 0) / (0.5 + 1.0 + 0.5)
    assert score_readings(readings, get_strategy(1)) == -0.25
    # Trend Following: macd 0.5 x 2.5 x 1.5, rsi 1.0 x 0.5 x 0.7, atr 0.5 x 1.0 x 0.8
    # (1.875 - 0.35) / (1.875 + 0.35 + 0.4) = 0.580952...
    assert score_readings(readings, get_strategy(2)) == 0.581


def test_score_weighs_categories_and_indicators_together():
    readings = [reading("rsi", 1, 0.8), reading("cmf", -1, 0.6), reading("bollinger", 0, 0.4)]
    # Mean Reversion: rsi 0.8 x 2.5 x 1.5 = 3.0, cmf 0.6 x 1.0 x 1.0 = 0.6, bollinger 0.4 x 2.5 x 1.3 = 1.3
    assert score_readings(readings, get_strategy(3)) == round((3.0 - 0.6) / (3.0 + 0.6 + 1.3), 4)


def test_unanimous_votes_score_plus_or_minus_one():
    names = indicators.INDICATOR_NAMES
    assert score_readings([reading(name, 1, 0.7) for name in names], get_strategy(4)) == 1.0
    assert score_readings([reading(name, -1, 0.2) for name in names], get_strategy(4)) == -1.0


def test_score_is_zero_when_no_reading_carries_weight():
    assert score_readings([reading(name, 1, 0.0) for name in indicators.INDICATOR_NAMES], get_strategy(1)) == 0.0
    assert score_readings([], get_strategy(1)) == 0.0


@pytest.mark.parametrize(
    "score, verdict, signal",
    [
        (1.0, "Strong Buy", "BUY"),
        (0.6, "Strong Buy", "BUY"),
        (0.5999, "Buy", "BUY"),
        (0.2, "Buy", "BUY"),
        (0.1999, "Hold", "HOLD"),
        (0.0, "Hold", "HOLD"),
        (-0.1999, "Hold", "HOLD"),
        (-0.2, "Sell", "SELL"),
        (-0.5999, "Sell", "SELL"),
        (-0.6, "Strong Sell", "SELL"),
        (-1.0, "Strong Sell", "SELL"),
    ],
)
def test_verdict_and_signal_thresholds(score, verdict, signal):
    assert verdict_for(score) == verdict
    assert signal_for(verdict) == signal


# --- trade plan ---------------------------------------------------------------------------------


def plan(strategy_id: int, verdict: str, *, entry: float = 100.0, atr: float = 1.0, params: TradeParams = PARAMS):
    return plan_trade(
        entry_price=entry, atr_value=atr, verdict=verdict, strategy=get_strategy(strategy_id), params=params
    )


@pytest.mark.parametrize(
    "strategy_id, verdict, entry, stop, target, risk_reward",
    [
        (1, "Buy", 1000.0, 980.0, 1040.0, 2.0),
        (1, "Sell", 1000.0, 1020.0, 960.0, 2.0),
        (2, "Strong Buy", 200.0, 195.0, 215.0, 3.0),
        (2, "Sell", 200.0, 205.0, 185.0, 3.0),
        (3, "Buy", 100.0, 98.5, 102.25, 1.5),
        (3, "Strong Sell", 100.0, 101.5, 97.75, 1.5),
        (4, "Buy", 500.0, 485.0, 537.5, 2.5),
        (4, "Strong Sell", 500.0, 515.0, 462.5, 2.5),
    ],
)
def test_fixed_percent_levels_per_strategy_and_mirrored_for_sells(
    strategy_id, verdict, entry, stop, target, risk_reward
):
    result = plan(strategy_id, verdict, entry=entry)
    assert (result.entry, result.stop_loss, result.target, result.risk_reward) == (entry, stop, target, risk_reward)


def test_hold_gets_the_long_side_levels():
    hold, buy = plan(1, "Hold", entry=1000.0), plan(1, "Buy", entry=1000.0)
    assert (hold.stop_loss, hold.target, hold.position_size) == (buy.stop_loss, buy.target, buy.position_size)


@pytest.mark.parametrize(
    "atr, stop_percent, stop, risk_reward",
    [
        (1.0, 3.0, 97.0, 1.33),  # 1.5 x 1% = 1.5%, raised to the 3% floor
        (2.4, 3.6, 96.4, 1.11),  # 1.5 x 2.4% = 3.6%, inside the bounds
        (4.0, 4.0, 96.0, 1.0),  # 1.5 x 4% = 6%, capped at 4%
    ],
)
def test_weekly_target_stop_is_one_and_a_half_atr_clamped_to_three_to_four_percent(
    atr, stop_percent, stop, risk_reward
):
    result = plan(5, "Buy", entry=100.0, atr=atr)
    assert result.stop_loss_percent == pytest.approx(stop_percent)
    assert (result.stop_loss, result.target, result.risk_reward) == (stop, 104.0, risk_reward)


def test_weekly_target_sell_mirrors_the_atr_stop():
    result = plan(5, "Sell", entry=100.0, atr=2.4)
    assert (result.stop_loss, result.target) == (103.6, 96.0)


def test_prices_round_to_the_tick_and_risk_reward_uses_the_rounded_levels():
    result = plan(1, "Buy", entry=123.456)
    # tick 0.01: entry 123.46; stop 123.46 x 0.98 = 120.9908, floored to 120.99; risk 2.47, reward 2 x 2.47
    assert (result.entry, result.stop_loss, result.target, result.tick_size) == (123.46, 120.99, 128.4, 0.01)
    assert result.risk_reward == 2.0
    # min(2000 / 2.47 = 809.7, 20000 / 123.46 = 161.99): whole shares are floored, never rounded up
    assert (result.shares_by_risk, result.shares_by_max_position, result.position_size) == (809, 161, 161)


@pytest.mark.parametrize(
    "price, tick",
    [
        ("0.35", "0.01"),
        ("249.99", "0.01"),
        ("250", "0.05"),
        ("1000", "0.05"),
        ("1000.10", "0.10"),
        ("5000", "0.10"),
        ("5000.50", "0.50"),
        ("10000", "0.50"),
        ("10001", "1.00"),
        ("20000", "1.00"),
        ("20005", "5.00"),
    ],
)
def test_tick_size_follows_nse_price_bands_at_their_boundaries(price, tick):
    assert tick_size_for(Decimal(price)) == Decimal(tick)


@pytest.mark.parametrize(
    "strategy_id, verdict, entry, levels",
    [
        # tick 0.05: entry 251.23 -> 251.25; stop 246.225 floored to 246.20; risk 5.05, reward 10.10
        (1, "Buy", 251.23, (251.25, 246.2, 261.35, 2.0)),
        # tick 0.10: stop 1209.908 floored to 1209.90 (away from the entry); risk 24.70, reward 49.40
        (1, "Buy", 1234.56, (1234.6, 1209.9, 1284.0, 2.0)),
        # a sell's stop rounds up, away from the entry: 1259.292 -> 1259.30
        (1, "Sell", 1234.56, (1234.6, 1259.3, 1185.2, 2.0)),
        # Mean Reversion (reward:risk 1.5) at 0.70: stop 0.6895 -> 0.68, risk 0.02, reward 0.03, not 2.25% = 0.72
        (3, "Buy", 0.70, (0.7, 0.68, 0.73, 1.5)),
        # tick 5.00: stop 24500 exactly, risk 500, reward 1000
        (1, "Buy", 25_000.0, (25_000.0, 24_500.0, 26_000.0, 2.0)),
    ],
)
def test_levels_are_multiples_of_the_tick_and_keep_the_strategys_reward_to_risk(strategy_id, verdict, entry, levels):
    result = plan(strategy_id, verdict, entry=entry)
    assert (result.entry, result.stop_loss, result.target, result.risk_reward) == levels
    tick = Decimal(repr(result.tick_size))
    assert all(Decimal(repr(price)) % tick == 0 for price in levels[:3])


@pytest.mark.parametrize(
    "entry, stop, target",
    [
        # stop 0.343 -> 0.34 (one tick of risk), target two ticks up; rounding to cents gave 0.36 (1.0)
        (0.35, 0.34, 0.37),
        (0.1, 0.09, 0.12),
        (0.99, 0.97, 1.03),  # stop 0.9702 -> 0.97: two ticks of risk, four of reward
    ],
)
def test_a_stock_under_one_rupee_keeps_a_reward_to_risk_of_two(entry, stop, target):
    result = plan(1, "Buy", entry=entry)
    assert (result.stop_loss, result.target, result.risk_reward) == (stop, target, 2.0)


def test_a_price_of_one_tick_cannot_hold_a_stop_and_is_refused():
    with pytest.raises(MarketDataError, match="too small") as error:
        plan(1, "Buy", entry=0.01)
    assert error.value.permanent is True
    with pytest.raises(MarketDataError, match="too small"):
        plan(2, "Sell", entry=0.02)  # the target would be 0.02 - 3 ticks, below zero
    with pytest.raises(MarketDataError, match="too small"):
        plan(1, "Buy", entry=0.004)  # rounds to an entry of 0.00


def test_the_max_position_cap_binds_at_the_defaults_and_the_risk_taken_says_so():
    result = plan(1, "Buy", entry=1000.0)
    # risk: 100000 x 2% / (1000 - 980) = 100 shares; max position: 100000 x 20% / 1000 = 20 shares
    assert (result.shares_by_risk, result.shares_by_max_position) == (100, 20)
    assert (result.position_size, result.size_limited_by) == (20, "max_position")
    # 20 shares x 20 risk = 400 INR: 0.4% of capital taken, not the 2% asked for
    assert (result.risk_amount, result.risk_taken_percent) == (400.0, 0.4)


def test_the_risk_budget_binds_when_the_cap_allows_more():
    params = TradeParams(capital=100_000, risk_percent=1.0, max_position_percent=100.0)
    result = plan(1, "Buy", entry=1000.0, params=params)
    # risk: 100000 x 1% / 20 = 50 shares; max position: 100000 / 1000 = 100 shares
    assert (result.position_size, result.size_limited_by) == (50, "risk")
    assert (result.risk_amount, result.risk_taken_percent) == (1000.0, 1.0)


def test_the_risk_percent_changes_the_size_when_it_binds():
    sizes = [
        plan(1, "Buy", entry=1000.0, params=TradeParams(capital=100_000, risk_percent=r)).position_size
        for r in (0.1, 0.2, 2.0)
    ]
    assert sizes == [5, 10, 20]


def test_a_tie_between_the_limits_is_reported_as_the_risk_limit():
    params = TradeParams(capital=100_000, risk_percent=0.4, max_position_percent=20.0)
    result = plan(1, "Buy", entry=1000.0, params=params)
    assert (result.shares_by_risk, result.shares_by_max_position, result.size_limited_by) == (20, 20, "risk")


def test_position_size_floors_exactly_where_floats_would_lose_a_share():
    params = TradeParams(capital=150_000, risk_percent=1.1, max_position_percent=100.0)
    # 150000 x 1.1% = 1650 at risk, 55.00 - 53.90 = 1.10 per share: exactly 1500 (float maths says 1499.99...)
    assert plan(1, "Buy", entry=55.0, params=params).position_size == 1500


def test_requested_max_position_overrides_the_strategys():
    params = TradeParams(capital=100_000, max_position_percent=50.0)
    assert plan(1, "Buy", entry=1000.0, params=params).max_position_percent == 50.0
    assert plan(1, "Buy", entry=1000.0).max_position_percent == 20.0
    assert [plan(key, "Buy").max_position_percent for key in STRATEGIES] == [20.0, 25.0, 15.0, 20.0, 35.0]


# --- parameters ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "kwargs, field",
    [
        ({"capital": 999.99}, "capital"),
        ({"capital": 0}, "capital"),
        ({"capital": -5_000}, "capital"),
        ({"capital": 10_000_000_001}, "capital"),
        ({"capital": float("nan")}, "capital"),
        ({"capital": float("inf")}, "capital"),
        ({"capital": "100000"}, "capital"),
        ({"capital": True}, "capital"),
        ({"capital": None}, "capital"),
        ({"capital": 100_000, "risk_percent": 0.09}, "risk_percent"),
        ({"capital": 100_000, "risk_percent": 10.01}, "risk_percent"),
        ({"capital": 100_000, "risk_percent": float("nan")}, "risk_percent"),
        ({"capital": 100_000, "risk_percent": "2"}, "risk_percent"),
        ({"capital": 100_000, "max_position_percent": 0.5}, "max_position_percent"),
        ({"capital": 100_000, "max_position_percent": 100.5}, "max_position_percent"),
        ({"capital": 100_000, "max_position_percent": float("-inf")}, "max_position_percent"),
        ({"capital": 100_000, "max_position_percent": [20]}, "max_position_percent"),
    ],
)
def test_invalid_trade_parameters_raise_naming_the_field(kwargs, field):
    with pytest.raises(InvalidTradeParameters) as error:
        TradeParams(**kwargs)
    assert error.value.details["field"] == field
    assert field in error.value.message


def test_trade_parameter_bounds_are_inclusive_and_numbers_become_floats():
    low = TradeParams(capital=1_000, risk_percent=0.1, max_position_percent=1)
    high = TradeParams(capital=Decimal("10000000000"), risk_percent=10, max_position_percent=100)
    assert (low.capital, low.risk_percent, low.max_position_percent) == (1000.0, 0.1, 1.0)
    assert type(high.capital) is float and high.capital == 1e10
    assert TradeParams(capital=5_000).max_position_percent is None


# --- analyze ------------------------------------------------------------------------------------


def test_analyze_puts_score_verdict_plan_and_evidence_together():
    history = synthetic_history(21)
    result = analyze(history, get_strategy(1), PARAMS)
    assert result.symbol == "SYN.NS"
    assert result.score == score_readings(result.indicators, get_strategy(1))
    assert result.verdict == verdict_for(result.score)
    assert result.signal == signal_for(result.verdict)
    assert result.entry == round(float(history.close[-1]), 2)
    assert [item["name"] for item in result.indicators] == list(indicators.INDICATOR_NAMES)
    expected = plan(1, result.verdict, entry=float(history.close[-1]), atr=result.indicators[9]["details"]["atr"])
    sizing = ("shares_by_risk", "shares_by_max_position", "size_limited_by", "risk_amount", "risk_taken_percent")
    for name in ("stop_loss", "target", "risk_reward", "position_size", *sizing):
        assert getattr(result, name) == getattr(expected, name), name


def test_analyze_records_provenance_with_the_effective_parameters():
    history = synthetic_history(22, bars=300)
    result = analyze(history, get_strategy(3), TradeParams(capital=250_000, risk_percent=1.5))
    assert result.provenance == {
        "source": "demo",
        "bars": 300,
        "first_bar": "2023-01-02",
        "last_bar": str(np.datetime64("2023-01-02") + 299),
        "strategy_id": 3,
        "strategy_name": "Mean Reversion",
        "capital": 250_000.0,
        "risk_percent": 1.5,
        "max_position_percent": 15.0,
        "stop_loss_percent": 1.5,
        "target_percent": 2.25,
        "tick_size": 0.01,
    }


@pytest.mark.parametrize("strategy_id", sorted(STRATEGIES))
def test_analysis_output_is_strict_json(strategy_id):
    result = analyze(synthetic_history(23), get_strategy(strategy_id), PARAMS).to_dict()
    assert json.loads(json.dumps(result, allow_nan=False)) == result
    assert type(result["score"]) is float and type(result["position_size"]) is int
    assert all(type(result[key]) is float for key in ("entry", "stop_loss", "target", "risk_reward"))
    assert "chart" not in result


def test_a_steady_uptrend_buys_and_its_mirror_image_sells_under_trend_following():
    rising = synthetic_history(24, drift=0.004)
    mirrored = PriceHistory(
        "MIRROR.NS", "demo", rising.dates,
        10_000 / rising.open, 10_000 / rising.low, 10_000 / rising.high, 10_000 / rising.close, rising.volume,
    )  # fmt: skip
    up, down = analyze(rising, get_strategy(2), PARAMS), analyze(mirrored, get_strategy(2), PARAMS)
    assert up.signal == "BUY" and up.stop_loss < up.entry < up.target
    assert down.signal == "SELL" and down.target < down.entry < down.stop_loss


def test_weekly_target_analysis_keeps_its_stop_within_three_to_four_percent():
    for seed in range(25, 30):
        result = analyze(synthetic_history(seed), get_strategy(5), PARAMS)
        stop_percent = abs(result.entry - result.stop_loss) / result.entry * 100
        assert 3.0 - 0.01 <= stop_percent <= 4.0 + 0.01
        assert 3.0 <= result.provenance["stop_loss_percent"] <= 4.0


def test_analyze_refuses_too_few_bars(shared_data):
    frame = pd.read_csv(shared_data / "RELIANCE.NS_sample.csv")
    prices = {name: frame[name].to_numpy(dtype=float) for name in ("Open", "High", "Low", "Close", "Volume")}
    dates = np.array([day[:10] for day in frame["Date"]], dtype="datetime64[D]")
    history = PriceHistory(
        "RELIANCE.NS", "csv", dates, prices["Open"], prices["High"], prices["Low"], prices["Close"], prices["Volume"]
    )
    with pytest.raises(MarketDataError, match="needs at least 250 daily bars, got 80") as error:
        analyze(history, get_strategy(1), PARAMS)
    assert error.value.permanent is True


# --- chart series -------------------------------------------------------------------------------


def test_chart_series_returns_the_last_bars_with_warmed_up_overlays():
    history = synthetic_history(31)
    chart = chart_series(history, last_n=250)
    assert set(chart) == {
        "time", "open", "high", "low", "close", "ema50", "ema200", "bb_upper", "bb_middle", "bb_lower",
        "volume", "rsi", "macd", "macd_signal", "macd_hist",
    }  # fmt: skip
    assert all(len(values) == 250 for values in chart.values())
    assert chart["time"][0] == str(history.dates[250]) and chart["time"][-1] == str(history.dates[-1])
    assert chart["close"][-1] == round(float(history.close[-1]), 4)
    assert chart["ema200"][0] == round(float(indicators.ema(history.close, 200)[250]), 4)
    assert None not in chart["ema200"]
    json.dumps(chart, allow_nan=False)


def test_chart_series_marks_undefined_overlays_as_none_on_short_histories():
    history = synthetic_history(32, bars=80)
    chart = chart_series(history)
    assert len(chart["time"]) == 80
    assert chart["ema200"] == [None] * 80
    assert chart["ema50"][:49] == [None] * 49 and all(isinstance(value, float) for value in chart["ema50"][49:])
    assert chart["bb_lower"][:19] == [None] * 19 and not any(value is None for value in chart["bb_lower"][19:])
    assert json.loads(json.dumps(chart, allow_nan=False)) == chart


def test_chart_series_carries_volume_rsi_and_macd_for_their_panes():
    history = synthetic_history(34)
    chart = chart_series(history, last_n=100)
    assert chart["volume"][-1] == round(float(history.volume[-1]), 4)
    assert chart["rsi"][-1] == round(float(indicators.rsi(history.close)[-1]), 4)
    line, signal, hist = indicators.macd(history.close)
    assert (chart["macd"][-1], chart["macd_signal"][-1], chart["macd_hist"][-1]) == tuple(
        round(float(series[-1]), 4) for series in (line, signal, hist)
    )


def test_price_summary_gives_change_day_range_and_52_week_range():
    history = synthetic_history(35, bars=400)
    summary = price_summary(history)
    last, previous = float(history.close[-1]), float(history.close[-2])
    assert summary["last_close"] == round(last, 4) and summary["previous_close"] == round(previous, 4)
    assert summary["change"] == round(last - previous, 4)
    assert summary["change_percent"] == round((last - previous) / previous * 100, 4)
    assert (summary["day_low"], summary["day_high"]) == (
        round(float(history.low[-1]), 4),
        round(float(history.high[-1]), 4),
    )
    dates = history.dates.astype("datetime64[D]")
    year = dates > dates[-1] - np.timedelta64(365, "D")
    assert int(year.sum()) == 365  # one bar a calendar day here: the last 365 days, not all 400 bars
    assert summary["high_52w"] == round(float(history.high[year].max()), 4)
    assert summary["low_52w"] == round(float(history.low[year].min()), 4)
    assert summary["as_of"] == str(dates[-1])


def test_price_summary_of_a_single_bar_has_no_change():
    summary = price_summary(synthetic_history(36, bars=1))
    assert summary["change"] is None and summary["change_percent"] is None


@pytest.mark.parametrize("bad_last_n", [0, -5, 2.5, True, "250"])
def test_chart_series_rejects_a_bad_window(bad_last_n):
    with pytest.raises(ValueError, match="last_n"):
        chart_series(synthetic_history(33, bars=60), last_n=bad_last_n)


# --- purity -------------------------------------------------------------------------------------


def test_the_engine_imports_without_django():
    """indicators, analysis, strategies and the bar rules are pure: no Django module is even loaded."""
    script = (
        "import sys; import stocks.analysis, stocks.indicators, stocks.strategies, stocks.bars, stocks.quality;"
        "loaded = sorted(name for name in sys.modules if name.split('.')[0] in ('django', 'rest_framework'));"
        "assert not loaded, loaded"
    )
    env = {key: value for key, value in os.environ.items() if key != "DJANGO_SETTINGS_MODULE"}
    completed = subprocess.run(
        [sys.executable, "-c", script], cwd=Path(__file__).resolve().parents[2], env=env, capture_output=True, text=True
    )
    assert completed.returncode == 0, completed.stderr
