"""The five analysis strategies: how much each indicator and category counts, and the trade levels.

A strategy never changes an indicator's vote; it weighs it. The score is
sum(vote x confidence x indicator weight x category weight) / sum(confidence x both weights)
(see `stocks.analysis.score_readings`).

Stops: a strategy with `atr_stop=False` places its stop `stop_loss_percent` from the entry. With
`atr_stop=True` (Weekly 4% Target) the stop distance is `atr_multiple` x ATR14 as a percent of the
entry, clamped to `atr_stop_min_percent`..`stop_loss_percent` (3%..4%), so `stop_loss_percent` is
the widest stop that strategy accepts.
"""

from dataclasses import dataclass, field
from types import MappingProxyType

from stocks.exceptions import UnknownStrategy
from stocks.indicators import CATEGORY_NAMES, INDICATOR_NAMES


@dataclass(frozen=True)
class Strategy:
    id: int
    name: str
    description: str
    indicator_weights: MappingProxyType  # name -> weight, for every name in INDICATOR_NAMES
    category_weights: MappingProxyType  # category -> weight, for every name in CATEGORY_NAMES
    stop_loss_percent: float
    target_percent: float
    max_position_percent: float
    atr_stop: bool = False
    atr_multiple: float = 1.5
    atr_stop_min_percent: float | None = field(default=None)

    def to_dict(self) -> dict:
        """Plain JSON-ready dict (weights as ordinary dicts, in indicator and category order)."""
        return {
            "id": self.id,
            "name": self.name,
            "description": self.description,
            "indicator_weights": dict(self.indicator_weights),
            "category_weights": dict(self.category_weights),
            "stop_loss_percent": self.stop_loss_percent,
            "target_percent": self.target_percent,
            "max_position_percent": self.max_position_percent,
            "atr_stop": self.atr_stop,
            "atr_multiple": self.atr_multiple if self.atr_stop else None,
            "atr_stop_min_percent": self.atr_stop_min_percent,
        }


def _weights(names: tuple[str, ...], values: tuple[float, ...]) -> MappingProxyType:
    """Read-only name -> weight map; the lengths must match so a missing weight fails at import."""
    if len(names) != len(values):
        raise ValueError(f"expected {len(names)} weights, got {len(values)}")
    return MappingProxyType(dict(zip(names, values, strict=True)))


def _strategy(id, name, description, indicator, category, **levels) -> Strategy:
    return Strategy(
        id=id,
        name=name,
        description=description,
        indicator_weights=_weights(INDICATOR_NAMES, indicator),
        category_weights=_weights(CATEGORY_NAMES, category),
        **levels,
    )


# Indicator weights in INDICATOR_NAMES order: macd, adx, ema, psar, rsi, stochastic, cci, williams,
# bollinger, atr, obv, cmf. Category weights: trend, momentum, volatility, volume.
STRATEGIES: dict[int, Strategy] = {
    strategy.id: strategy
    for strategy in (
        _strategy(
            1,
            "Balanced",
            "Every indicator and category counts the same; a general-purpose view.",
            (1.0,) * 12,
            (1.0, 1.0, 1.0, 1.0),
            stop_loss_percent=2.0,
            target_percent=4.0,
            max_position_percent=20.0,
        ),
        _strategy(
            2,
            "Trend Following",
            "Rides established trends: MACD, ADX, moving averages and SAR count most.",
            (2.5, 2.5, 2.0, 1.5, 0.5, 0.5, 0.5, 0.5, 0.5, 1.0, 1.0, 1.0),
            (1.5, 0.7, 0.8, 1.0),
            stop_loss_percent=2.5,
            target_percent=7.5,
            max_position_percent=25.0,
        ),
        _strategy(
            3,
            "Mean Reversion",
            "Buys oversold and sells overbought extremes: RSI, Stochastic and Bollinger Bands count most.",
            (0.5, 0.5, 0.5, 0.5, 2.5, 2.0, 1.5, 1.5, 2.5, 1.0, 1.0, 1.0),
            (0.6, 1.5, 1.3, 1.0),
            stop_loss_percent=1.5,
            target_percent=2.25,
            max_position_percent=15.0,
        ),
        _strategy(
            4,
            "Momentum Breakout",
            "Looks for moves backed by volume and volatility: OBV, CMF, ATR and RSI count most.",
            (1.5, 1.5, 1.0, 1.0, 2.0, 1.5, 1.5, 1.0, 1.5, 2.0, 2.5, 2.5),
            (1.0, 1.3, 1.2, 1.5),
            stop_loss_percent=3.0,
            target_percent=7.5,
            max_position_percent=20.0,
        ),
        _strategy(
            5,
            "Weekly 4% Target",
            "Short swing trades aiming for 4% within about a week, with a stop of 1.5 ATR (3-4%).",
            (1.5, 0.5, 0.6, 1.2, 2.0, 2.0, 1.8, 1.6, 1.3, 0.8, 1.2, 1.2),
            (0.5, 2.0, 1.0, 0.9),
            stop_loss_percent=4.0,
            target_percent=4.0,
            max_position_percent=35.0,
            atr_stop=True,
            atr_multiple=1.5,
            atr_stop_min_percent=3.0,
        ),
    )
}


def get_strategy(strategy_id: int) -> Strategy:
    """The strategy with this id; UnknownStrategy (naming the valid ids) otherwise."""
    # Only real ints: True (an int subclass), 1.0 or "1" must not quietly mean strategy 1.
    is_int = isinstance(strategy_id, int) and not isinstance(strategy_id, bool)
    strategy = STRATEGIES.get(strategy_id) if is_int else None
    if strategy is None:
        valid = ", ".join(str(key) for key in STRATEGIES)
        raise UnknownStrategy(
            f"Unknown strategy {strategy_id!r}; valid ids are {valid}",
            details={"field": "strategy", "valid": list(STRATEGIES)},
        )
    return strategy
