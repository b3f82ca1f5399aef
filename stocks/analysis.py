"""From one symbol's daily bars to a verdict and a trade plan, with the evidence behind them.

Pure: no Django, no ORM, no settings (bars come from `stocks.bars`, verdicts from `stocks.verdicts`). Steps:

0. `quality.check_price_jumps` refuses a history with a one-day jump that looks like an unadjusted
   split or a data error (an error instead of a verdict).
1. `indicators.compute_readings` gives twelve readings (value, vote, confidence, rule).
2. `score_readings` weighs them with the strategy:
   score = sum(vote x confidence x indicator weight x category weight) / sum(confidence x both weights),
   in -1..1, 0 when the denominator is 0. It reads the readings' rounded confidences, so anyone can
   recompute the score from the stored readings.
3. `verdict_for` maps the score rounded to 4 places (the one users see) to a verdict:
   >= 0.6 Strong Buy, >= 0.2 Buy, <= -0.6 Strong Sell, <= -0.2 Sell, else Hold.
4. `plan_trade` places entry, stop and target on NSE's tick and sizes the position, naming the limit
   (risk % or max position %) that bound the size (see its docstring).
"""

import math
from dataclasses import asdict, dataclass
from decimal import ROUND_CEILING, ROUND_FLOOR, ROUND_HALF_UP, Decimal

import numpy as np

from stocks import indicators, quality
from stocks.bars import MarketDataError, PriceHistory
from stocks.exceptions import InvalidTradeParameters
from stocks.indicators import CATEGORIES, INDICATOR_NAMES
from stocks.strategies import Strategy
from stocks.verdicts import Verdict

STRONG_THRESHOLD = 0.6
MILD_THRESHOLD = 0.2

CAPITAL_BOUNDS = (1_000.0, 10_000_000_000.0)  # INR
RISK_PERCENT_BOUNDS = (0.1, 10.0)
MAX_POSITION_PERCENT_BOUNDS = (1.0, 100.0)

SIZE_LIMITED_BY_RISK = "risk"
SIZE_LIMITED_BY_MAX_POSITION = "max_position"

_CENT = Decimal("0.01")
_TICKS_ABOVE_250 = (  # (highest price of the band, tick): see tick_size_for
    (Decimal(1_000), Decimal("0.05")),
    (Decimal(5_000), Decimal("0.10")),
    (Decimal(10_000), Decimal("0.50")),
    (Decimal(20_000), Decimal("1.00")),
)
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
    tick_size: float
    shares_by_risk: int  # floor(capital x risk % / per-share risk)
    shares_by_max_position: int  # floor(capital x max position % / entry)
    size_limited_by: str  # SIZE_LIMITED_BY_RISK or SIZE_LIMITED_BY_MAX_POSITION
    risk_amount: float  # INR lost at the stop: position size x per-share risk
    risk_taken_percent: float  # risk_amount as % of capital (at most the requested risk %)


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
    shares_by_risk: int
    shares_by_max_position: int
    size_limited_by: str
    risk_amount: float
    risk_taken_percent: float
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
        shares_by_risk=plan.shares_by_risk,
        shares_by_max_position=plan.shares_by_max_position,
        size_limited_by=plan.size_limited_by,
        risk_amount=plan.risk_amount,
        risk_taken_percent=plan.risk_taken_percent,
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
        "tick_size": plan.tick_size,
    }


def score_readings(readings: list[dict], strategy: Strategy) -> float:
    """The weighted vote, rounded to 4 places, in -1..1; 0 when no reading carries any weight.

    One day of `score_table`: live analysis and the backtest score through the same function.
    """
    names = [reading["name"] for reading in readings]
    votes = np.array([reading["vote"] for reading in readings], dtype=float).reshape(len(readings), 1)
    confidences = np.array([reading["confidence"] for reading in readings], dtype=float).reshape(len(readings), 1)
    return float(score_table(votes, confidences, strategy, names=names)[0])


def score_table(
    votes: np.ndarray, confidences: np.ndarray, strategy: Strategy, *, names: list[str] | tuple = INDICATOR_NAMES
) -> np.ndarray:
    """Scores of every day at once: votes and confidences have one row per indicator (in `names` order).

    sum(vote x confidence x indicator weight x category weight) / sum(confidence x both weights),
    clamped to -1..1 and rounded to 4 places; 0 where the denominator is 0. The sums run in
    indicator order, the same additions for one day as for many.
    """
    numerator = np.zeros(votes.shape[1])
    denominator = np.zeros(votes.shape[1])
    for row, name in enumerate(names):
        weight = confidences[row] * strategy.indicator_weights[name] * strategy.category_weights[CATEGORIES[name]]
        numerator = numerator + votes[row] * weight
        denominator = denominator + weight
    with np.errstate(divide="ignore", invalid="ignore"):
        scores = np.where(denominator == 0, 0.0, np.clip(numerator / denominator, -1.0, 1.0))
    return np.round(scores, 4)


_VERDICT_ORDER = (Verdict.STRONG_BUY, Verdict.BUY, Verdict.HOLD, Verdict.SELL, Verdict.STRONG_SELL)


def verdict_codes(scores: np.ndarray) -> np.ndarray:
    """Index into `VERDICTS_BY_CODE` for each score (0 Strong Buy .. 4 Strong Sell), see `verdict_for`."""
    return np.select(
        [scores >= STRONG_THRESHOLD, scores >= MILD_THRESHOLD, scores <= -STRONG_THRESHOLD, scores <= -MILD_THRESHOLD],
        [0, 1, 4, 3],
        default=2,
    )


VERDICTS_BY_CODE = tuple(verdict.value for verdict in _VERDICT_ORDER)


def verdict_for(score: float) -> str:
    """>= 0.6 Strong Buy, >= 0.2 Buy, <= -0.6 Strong Sell, <= -0.2 Sell, else Hold."""
    return VERDICTS_BY_CODE[int(verdict_codes(np.array([score]))[0])]


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
    """Entry, stop and target on NSE's price grid, and a position size that says which limit bound it.

    - Buy verdicts and Hold place the stop below and the target above the entry (Hold shows what a
      long trade would look like; its signal stays HOLD). Sell verdicts mirror them.
    - Prices are multiples of the stock's tick (`tick_size_for(entry)`). Entry = the last close
      rounded half-up to the tick.
    - Stop distance = the strategy's stop %; for an ATR strategy 1.5 x ATR14 as % of the entry,
      clamped to its min..max % (3..4 for Weekly 4% Target). The stop rounds away from the entry to
      the tick (never closer than one tick), so the per-share risk is never smaller than planned.
    - Target distance = per-share risk x the strategy's reward:risk (target % / stop %), rounded to
      the nearest tick (at least one): reward:risk stays as close to the strategy's as the grid allows.
    - risk_reward = |target - entry| / |entry - stop| from the rounded prices, to 2 places.
    - shares_by_risk = floor(capital x risk % / per-share risk); shares_by_max_position =
      floor(capital x max position % / entry), max position % being the request's or else the
      strategy's. The position size is the smaller; size_limited_by names it ("risk" on a tie).
      risk_amount = size x per-share risk (INR) and risk_taken_percent = its % of capital.

    Raises MarketDataError(permanent=True) when the price is too small to place a stop or a target
    at least one tick away and above zero.
    """
    stop_percent = _stop_percent(entry_price, atr_value, strategy)
    max_position_percent = (
        strategy.max_position_percent if params.max_position_percent is None else params.max_position_percent
    )
    direction = -1 if verdict in _SELL_VERDICTS else 1
    tick = tick_size_for(Decimal(repr(entry_price)))
    entry = _to_tick(Decimal(repr(entry_price)), tick, ROUND_HALF_UP)
    # Rounding away from an entry on the grid puts the stop at least one tick from it.
    away = ROUND_FLOOR if direction == 1 else ROUND_CEILING
    stop = _to_tick(entry * (1 - direction * _percent(stop_percent)), tick, away)
    per_share_risk = abs(entry - stop)
    ratio = Decimal(repr(strategy.target_percent)) / Decimal(repr(stop_percent))
    reward = max(tick, _to_tick(per_share_risk * ratio, tick, ROUND_HALF_UP))
    target = entry + direction * reward
    if min(entry, stop, target) <= 0:
        raise MarketDataError(
            f"entry {entry} is too small to place a stop and a target on a {tick} tick", permanent=True
        )
    capital = Decimal(repr(params.capital))
    by_risk = int((capital * _percent(params.risk_percent) / per_share_risk).to_integral_value(ROUND_FLOOR))
    by_max_position = int((capital * _percent(max_position_percent) / entry).to_integral_value(ROUND_FLOOR))
    size = min(by_risk, by_max_position)
    risk_amount = _cents(size * per_share_risk)
    return TradePlan(
        entry=float(entry),
        stop_loss=float(stop),
        target=float(target),
        risk_reward=float((reward / per_share_risk).quantize(_CENT, ROUND_HALF_UP)),
        position_size=size,
        stop_loss_percent=round(stop_percent, 4),
        target_percent=strategy.target_percent,
        max_position_percent=max_position_percent,
        tick_size=float(tick),
        shares_by_risk=by_risk,
        shares_by_max_position=by_max_position,
        size_limited_by=SIZE_LIMITED_BY_RISK if by_risk <= by_max_position else SIZE_LIMITED_BY_MAX_POSITION,
        risk_amount=float(risk_amount),
        risk_taken_percent=float((risk_amount / capital * 100).quantize(_CENT, ROUND_HALF_UP)),
    )


def tick_size_for(price: Decimal) -> Decimal:
    """NSE's price step (tick) in the equity segment for a stock trading at `price`.

    Below INR 250 the tick is 0.01 (since 10 June 2024) and from 250 to 1,000 it is 0.05. Above
    1,000 NSE uses 0.10 up to 5,000, 0.50 up to 10,000, 1.00 up to 20,000 and 5.00 beyond (since
    15 April 2025, for stocks with derivatives; other stocks keep 0.05, and a multiple of the
    larger tick is a valid 0.05 price too, so the coarser grid is right for both). NSE fixes each
    stock's tick monthly from the previous month-end close; the entry (last close) stands in for it.
    """
    if price < 250:
        return Decimal("0.01")
    # Each band includes its upper bound: 1,000.00 is the last price of the 0.05 band.
    for upper, tick in _TICKS_ABOVE_250:
        if price <= upper:
            return tick
    return Decimal("5.00")


def _stop_percent(entry_price: float, atr_value: float, strategy: Strategy) -> float:
    if not strategy.atr_stop:
        return strategy.stop_loss_percent
    atr_percent = atr_value / entry_price * 100.0
    return min(strategy.stop_loss_percent, max(strategy.atr_stop_min_percent, strategy.atr_multiple * atr_percent))


def _percent(value: float) -> Decimal:
    return Decimal(repr(value)) / 100


def _cents(value: Decimal) -> Decimal:
    return value.quantize(_CENT, ROUND_HALF_UP)


def _to_tick(value: Decimal, tick: Decimal, rounding: str) -> Decimal:
    return ((value / tick).to_integral_value(rounding) * tick).quantize(tick)


def chart_series(history: PriceHistory, *, last_n: int = 250) -> dict:
    """JSON-ready lists for a price chart of the last `last_n` bars, oldest first.

    Keys: time (ISO dates), open, high, low, close, ema50, ema200, bb_upper, bb_middle, bb_lower.
    Overlays are computed over the whole history (so EMA 200 is warmed up) and are None where
    still undefined. Any number of bars is accepted; `last_n` must be a positive int.
    """
    if isinstance(last_n, bool) or not isinstance(last_n, int) or last_n < 1:
        raise ValueError(f"last_n must be a positive int, got {last_n!r}")
    upper, middle, lower = indicators.bollinger(history.close)
    macd_line, macd_signal, macd_hist = indicators.macd(history.close)
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
        "volume": _json_floats(history.volume[window]),
        "rsi": _json_floats(indicators.rsi(history.close)[window]),
        "macd": _json_floats(macd_line[window]),
        "macd_signal": _json_floats(macd_signal[window]),
        "macd_hist": _json_floats(macd_hist[window]),
    }


# A 52-week range covers the sessions of the last 365 calendar days up to the last bar.
YEAR_DAYS = 365


def price_summary(history: PriceHistory) -> dict:
    """The price header: last close, change from the bar before, day range, 52-week range, as-of date.

    `change` and `change_percent` are None with a single bar (nothing to compare with).
    """
    if len(history) == 0:
        raise ValueError("price_summary needs at least one bar")
    last_close = float(history.close[-1])
    previous = float(history.close[-2]) if len(history) > 1 else None
    dates = history.dates.astype("datetime64[D]")
    year = dates > dates[-1] - np.timedelta64(YEAR_DAYS, "D")
    change = last_close - previous if previous is not None else None
    return {
        "last_close": round(last_close, 4),
        "previous_close": round(previous, 4) if previous is not None else None,
        "change": round(change, 4) if change is not None else None,
        "change_percent": round(change / previous * 100.0, 4) if change is not None and previous else None,
        "day_low": round(float(history.low[-1]), 4),
        "day_high": round(float(history.high[-1]), 4),
        "low_52w": round(float(np.nanmin(history.low[year])), 4),
        "high_52w": round(float(np.nanmax(history.high[year])), 4),
        "as_of": str(dates[-1]),
    }


def _json_floats(values: np.ndarray) -> list[float | None]:
    return [round(value, 4) if math.isfinite(value) else None for value in values.tolist()]


# The grid arithmetic of `plan_trade` on float arrays, for the backtest's every day at once. The
# tolerance absorbs binary rounding (1234.55 / 0.05 is 24690.999...), so a value that Decimal sees
# exactly on a tick or half-tick rounds the same way here; `tests/stocks/test_backtest.py` checks
# these levels against `plan_trade` on every day of real and demo histories.
_GRID_TOLERANCE = 1e-7
_TICK_BANDS = (250.0, 1_000.0, 5_000.0, 10_000.0, 20_000.0)
_TICK_VALUES = (0.01, 0.05, 0.10, 0.50, 1.00, 5.00)


@dataclass(frozen=True)
class PlanLevels:
    """Trade levels for many days: arrays of entry, stop, target and position size (shares)."""

    entry: np.ndarray
    stop_loss: np.ndarray
    target: np.ndarray
    position_size: np.ndarray
    direction: np.ndarray  # +1 long (Buy, Strong Buy, Hold), -1 short (Sell, Strong Sell)


def plan_levels(
    *, entry_prices: np.ndarray, atr_values: np.ndarray, directions: np.ndarray, strategy: Strategy, params: TradeParams
) -> PlanLevels:
    """`plan_trade` for arrays of days: same stop %, tick grid, roundings and sizing rules."""
    stop_percent = _stop_percents(entry_prices, atr_values, strategy)
    max_position = strategy.max_position_percent if params.max_position_percent is None else params.max_position_percent
    ticks = _ticks_for(entry_prices)
    entry = _grid(entry_prices, ticks, "half_up")
    raw_stop = entry * (1 - directions * stop_percent / 100)
    stop = np.where(directions == 1, _grid(raw_stop, ticks, "floor"), _grid(raw_stop, ticks, "ceiling"))
    per_share_risk = np.round(np.abs(entry - stop), 2)
    reward = np.maximum(ticks, _grid(per_share_risk * (strategy.target_percent / stop_percent), ticks, "half_up"))
    target = np.round(entry + directions * reward, 2)
    with np.errstate(divide="ignore", invalid="ignore"):
        by_risk = np.floor(params.capital * params.risk_percent / 100 / per_share_risk + _GRID_TOLERANCE)
        by_max = np.floor(params.capital * max_position / 100 / entry + _GRID_TOLERANCE)
    size = np.nan_to_num(np.minimum(by_risk, by_max), nan=0.0, posinf=0.0).astype(np.int64)
    return PlanLevels(entry=entry, stop_loss=stop, target=target, position_size=size, direction=directions)


def _stop_percents(entry_prices: np.ndarray, atr_values: np.ndarray, strategy: Strategy) -> np.ndarray:
    if not strategy.atr_stop:
        return np.full(len(entry_prices), strategy.stop_loss_percent)
    atr_percent = atr_values / entry_prices * 100.0
    return np.minimum(
        strategy.stop_loss_percent, np.maximum(strategy.atr_stop_min_percent, strategy.atr_multiple * atr_percent)
    )


def _ticks_for(prices: np.ndarray) -> np.ndarray:
    """`tick_size_for` on an array: each band includes its upper bound."""
    conditions = [prices < _TICK_BANDS[0]] + [prices <= band for band in _TICK_BANDS[1:]]
    return np.select(conditions, _TICK_VALUES[:-1], default=_TICK_VALUES[-1])


def _grid(values: np.ndarray, ticks: np.ndarray, rounding: str) -> np.ndarray:
    steps = values / ticks
    if rounding == "half_up":
        steps = np.floor(steps + 0.5 + _GRID_TOLERANCE)
    elif rounding == "floor":
        steps = np.floor(steps + _GRID_TOLERANCE)
    else:
        steps = np.ceil(steps - _GRID_TOLERANCE)
    return np.round(steps * ticks, 2)
