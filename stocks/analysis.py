"""From one symbol's daily bars to a verdict and a trade plan, with the evidence behind them.

Pure: no Django, no ORM, no settings (bars come from `stocks.bars`, verdicts from `stocks.verdicts`). Steps:

1. `indicators.compute_readings` gives twelve readings (value, vote, confidence, rule).
2. `score_readings` weighs them with the strategy:
   score = sum(vote x confidence x indicator weight x category weight) / sum(confidence x both weights),
   in -1..1, 0 when the denominator is 0. It reads the readings' rounded confidences, so anyone can
   recompute the score from the stored readings.
3. `verdict_for` maps the score rounded to 4 places (the one users see) to a verdict:
   >= 0.6 Strong Buy, >= 0.2 Buy, <= -0.6 Strong Sell, <= -0.2 Sell, else Hold.
4. `plan_trade` places entry, stop and target and sizes the position (see its docstring).
"""

import math
from dataclasses import asdict, dataclass
from decimal import ROUND_FLOOR, ROUND_HALF_UP, Decimal

import numpy as np

from stocks import indicators, quality
from stocks.bars import MarketDataError, PriceHistory
from stocks.exceptions import InvalidTradeParameters
from stocks.strategies import Strategy
from stocks.verdicts import Verdict

STRONG_THRESHOLD = 0.6
MILD_THRESHOLD = 0.2

CAPITAL_BOUNDS = (1_000.0, 10_000_000_000.0)  # INR
RISK_PERCENT_BOUNDS = (0.1, 10.0)
MAX_POSITION_PERCENT_BOUNDS = (1.0, 100.0)

_CENT = Decimal("0.01")
_SELL_VERDICTS = (Verdict.SELL, Verdict.STRONG_SELL)
_BUY_VERDICTS = (Verdict.BUY, Verdict.STRONG_BUY)


@dataclass(frozen=True)
class TradeParams:
    """What the user asked for: capital (INR), risk per trade (% of capital), position cap (% of capital).

    `max_position_percent=None` means "the strategy's". Every field is checked on creation and a
    bad value raises InvalidTradeParameters naming the field; nothing is silently replaced.
    """

    capital: float
    risk_percent: float = 2.0
    max_position_percent: float | None = None

    def __post_init__(self):
        object.__setattr__(self, "capital", _checked_number("capital", self.capital, CAPITAL_BOUNDS, "INR"))
        object.__setattr__(
            self, "risk_percent", _checked_number("risk_percent", self.risk_percent, RISK_PERCENT_BOUNDS, "%")
        )
        if self.max_position_percent is not None:
            value = _checked_number("max_position_percent", self.max_position_percent, MAX_POSITION_PERCENT_BOUNDS, "%")
            object.__setattr__(self, "max_position_percent", value)


def _checked_number(field: str, value, bounds: tuple[float, float], unit: str) -> float:
    """`value` as a float if it is a finite real number (int, float or Decimal, not bool) within bounds."""
    low, high = bounds
    if isinstance(value, bool) or not isinstance(value, int | float | Decimal):
        raise InvalidTradeParameters(f"{field} must be a number, got {type(value).__name__}", details={"field": field})
    number = float(value)
    if not math.isfinite(number):
        raise InvalidTradeParameters(f"{field} must be a finite number, got {value}", details={"field": field})
    if not low <= number <= high:
        raise InvalidTradeParameters(
            f"{field} must be between {low:g} and {high:g} {unit}, got {value}",
            details={"field": field, "min": low, "max": high},
        )
    return number


@dataclass(frozen=True)
class TradePlan:
    entry: float
    stop_loss: float
    target: float
    risk_reward: float
    position_size: int
    stop_loss_percent: float
    target_percent: float
    max_position_percent: float


@dataclass(frozen=True)
class Analysis:
    symbol: str
    score: float
    verdict: str
    signal: str
    entry: float
    stop_loss: float
    target: float
    risk_reward: float
    position_size: int
    indicators: list[dict]
    provenance: dict

    def to_dict(self) -> dict:
        return asdict(self)


def analyze(history: PriceHistory, strategy: Strategy, params: TradeParams) -> Analysis:
    """Analyse `history` under `strategy` for `params`.

    Raises MarketDataError(permanent=True) with too few bars or an undefined indicator value, and
    quality.SuspectPrices when a one-day jump looks like an unadjusted split or a data error.
    """
    quality.check_price_jumps(history, max_drop=quality.MAX_ONE_DAY_DROP, max_rise=quality.MAX_ONE_DAY_RISE)
    readings = indicators.compute_readings(history)
    score = score_readings(readings, strategy)
    verdict = verdict_for(score)
    plan = plan_trade(
        entry_price=float(history.close[-1]),
        atr_value=_atr_of(readings),
        verdict=verdict,
        strategy=strategy,
        params=params,
    )
    return Analysis(
        symbol=history.symbol,
        score=score,
        verdict=verdict,
        signal=signal_for(verdict),
        entry=plan.entry,
        stop_loss=plan.stop_loss,
        target=plan.target,
        risk_reward=plan.risk_reward,
        position_size=plan.position_size,
        indicators=readings,
        provenance=_provenance(history, strategy, params, plan),
    )


def _atr_of(readings: list[dict]) -> float:
    return next(reading["details"]["atr"] for reading in readings if reading["name"] == "atr")


def _provenance(history: PriceHistory, strategy: Strategy, params: TradeParams, plan: TradePlan) -> dict:
    return {
        "source": history.source,
        "bars": len(history),
        "first_bar": str(history.dates[0].astype("datetime64[D]")),
        "last_bar": str(history.dates[-1].astype("datetime64[D]")),
        "strategy_id": strategy.id,
        "strategy_name": strategy.name,
        "capital": params.capital,
        "risk_percent": params.risk_percent,
        "max_position_percent": plan.max_position_percent,
        "stop_loss_percent": plan.stop_loss_percent,
        "target_percent": plan.target_percent,
    }


def score_readings(readings: list[dict], strategy: Strategy) -> float:
    """The weighted vote, rounded to 4 places, in -1..1; 0 when no reading carries any weight."""
    numerator = denominator = 0.0
    for reading in readings:
        weight = (
            reading["confidence"]
            * strategy.indicator_weights[reading["name"]]
            * strategy.category_weights[reading["category"]]
        )
        numerator += reading["vote"] * weight
        denominator += weight
    if denominator == 0:
        return 0.0
    return round(max(-1.0, min(1.0, numerator / denominator)), 4)


def verdict_for(score: float) -> str:
    """>= 0.6 Strong Buy, >= 0.2 Buy, <= -0.6 Strong Sell, <= -0.2 Sell, else Hold."""
    if score >= STRONG_THRESHOLD:
        return Verdict.STRONG_BUY.value
    if score >= MILD_THRESHOLD:
        return Verdict.BUY.value
    if score <= -STRONG_THRESHOLD:
        return Verdict.STRONG_SELL.value
    if score <= -MILD_THRESHOLD:
        return Verdict.SELL.value
    return Verdict.HOLD.value


def signal_for(verdict: str) -> str:
    """BUY for Buy and Strong Buy, SELL for Sell and Strong Sell, HOLD otherwise."""
    if verdict in _BUY_VERDICTS:
        return "BUY"
    if verdict in _SELL_VERDICTS:
        return "SELL"
    return "HOLD"


def plan_trade(
    *, entry_price: float, atr_value: float, verdict: str, strategy: Strategy, params: TradeParams
) -> TradePlan:
    """Entry, stop, target, risk-reward and position size for one trade.

    - entry = the last close; prices are rounded half-up to 2 decimals (no tick rounding).
    - stop distance = the strategy's stop %; for an ATR strategy 1.5 x ATR14 as % of the entry,
      clamped to its min..max % (3..4 for Weekly 4% Target). Target distance = the strategy's target %.
    - Buy verdicts and Hold place the stop below and the target above the entry (Hold shows what a
      long trade would look like; its signal stays HOLD). Sell verdicts mirror them.
    - risk_reward = |target - entry| / |entry - stop| from the rounded prices, to 2 places.
    - position size = min(floor(capital x risk % / per-share risk), floor(capital x max position % / entry)),
      max position % being the request's or else the strategy's.

    Raises MarketDataError(permanent=True) when the price is too small for a stop 2 decimals away.
    """
    stop_percent = _stop_percent(entry_price, atr_value, strategy)
    max_position_percent = (
        strategy.max_position_percent if params.max_position_percent is None else params.max_position_percent
    )
    direction = -1 if verdict in _SELL_VERDICTS else 1
    entry = _cents(Decimal(repr(entry_price)))
    stop = _cents(entry * (1 - direction * _percent(stop_percent)))
    target = _cents(entry * (1 + direction * _percent(strategy.target_percent)))
    per_share_risk = abs(entry - stop)
    if per_share_risk == 0:
        raise MarketDataError(f"entry {entry} is too small to place a stop at 2 decimals", permanent=True)
    capital = Decimal(repr(params.capital))
    by_risk = capital * _percent(params.risk_percent) / per_share_risk
    by_exposure = capital * _percent(max_position_percent) / entry
    return TradePlan(
        entry=float(entry),
        stop_loss=float(stop),
        target=float(target),
        risk_reward=float((abs(target - entry) / per_share_risk).quantize(_CENT, ROUND_HALF_UP)),
        position_size=int(min(by_risk, by_exposure).to_integral_value(ROUND_FLOOR)),
        stop_loss_percent=round(stop_percent, 4),
        target_percent=strategy.target_percent,
        max_position_percent=max_position_percent,
    )


def _stop_percent(entry_price: float, atr_value: float, strategy: Strategy) -> float:
    if not strategy.atr_stop:
        return strategy.stop_loss_percent
    atr_percent = atr_value / entry_price * 100.0
    return min(strategy.stop_loss_percent, max(strategy.atr_stop_min_percent, strategy.atr_multiple * atr_percent))


def _percent(value: float) -> Decimal:
    return Decimal(repr(value)) / 100


def _cents(value: Decimal) -> Decimal:
    return value.quantize(_CENT, ROUND_HALF_UP)


def chart_series(history: PriceHistory, *, last_n: int = 250) -> dict:
    """JSON-ready lists for a price chart of the last `last_n` bars, oldest first.

    Keys: time (ISO dates), open, high, low, close, ema50, ema200, bb_upper, bb_middle, bb_lower.
    Overlays are computed over the whole history (so EMA 200 is warmed up) and are None where
    still undefined. Any number of bars is accepted; `last_n` must be a positive int.
    """
    if isinstance(last_n, bool) or not isinstance(last_n, int) or last_n < 1:
        raise ValueError(f"last_n must be a positive int, got {last_n!r}")
    upper, middle, lower = indicators.bollinger(history.close)
    window = slice(-last_n, None)
    return {
        "time": [str(day) for day in history.dates[window].astype("datetime64[D]")],
        "open": _json_floats(history.open[window]),
        "high": _json_floats(history.high[window]),
        "low": _json_floats(history.low[window]),
        "close": _json_floats(history.close[window]),
        "ema50": _json_floats(indicators.ema(history.close, indicators.EMA_FAST)[window]),
        "ema200": _json_floats(indicators.ema(history.close, indicators.EMA_SLOW)[window]),
        "bb_upper": _json_floats(upper[window]),
        "bb_middle": _json_floats(middle[window]),
        "bb_lower": _json_floats(lower[window]),
    }


def _json_floats(values: np.ndarray) -> list[float | None]:
    return [round(value, 4) if math.isfinite(value) else None for value in values.tolist()]
