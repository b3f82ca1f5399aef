"""The five strategies carry exactly the weights and trade levels of the specification."""

import dataclasses
import json

import pytest

from stocks.exceptions import UnknownStrategy
from stocks.indicators import CATEGORY_NAMES, INDICATOR_NAMES
from stocks.strategies import STRATEGIES, get_strategy

# (indicator weights in macd, adx, ema, psar, rsi, stochastic, cci, williams, bollinger, atr, obv, cmf order),
# (trend, momentum, volatility, volume), stop %, target %, max position %
SPECIFICATION = {
    1: ("Balanced", (1.0,) * 12, (1.0, 1.0, 1.0, 1.0), 2.0, 4.0, 20.0),
    2: ("Trend Following", (2.5, 2.5, 2.0, 1.5, 0.5, 0.5, 0.5, 0.5, 0.5, 1.0, 1.0, 1.0), (1.5, 0.7, 0.8, 1.0),
        2.5, 7.5, 25.0),
    3: ("Mean Reversion", (0.5, 0.5, 0.5, 0.5, 2.5, 2.0, 1.5, 1.5, 2.5, 1.0, 1.0, 1.0), (0.6, 1.5, 1.3, 1.0),
        1.5, 2.25, 15.0),
    4: ("Momentum Breakout", (1.5, 1.5, 1.0, 1.0, 2.0, 1.5, 1.5, 1.0, 1.5, 2.0, 2.5, 2.5), (1.0, 1.3, 1.2, 1.5),
        3.0, 7.5, 20.0),
    5: ("Weekly 4% Target", (1.5, 0.5, 0.6, 1.2, 2.0, 2.0, 1.8, 1.6, 1.3, 0.8, 1.2, 1.2), (0.5, 2.0, 1.0, 0.9),
        4.0, 4.0, 35.0),
}  # fmt: skip


def test_there_are_exactly_five_strategies_keyed_by_id():
    assert list(STRATEGIES) == [1, 2, 3, 4, 5]
    assert all(strategy.id == key for key, strategy in STRATEGIES.items())


@pytest.mark.parametrize("strategy_id", sorted(SPECIFICATION))
def test_each_strategy_has_the_specified_weights_and_levels(strategy_id):
    name, indicator_weights, category_weights, stop, target, max_position = SPECIFICATION[strategy_id]
    strategy = get_strategy(strategy_id)
    assert strategy.name == name
    assert list(strategy.indicator_weights) == list(INDICATOR_NAMES)
    assert tuple(strategy.indicator_weights.values()) == indicator_weights
    assert list(strategy.category_weights) == list(CATEGORY_NAMES)
    assert tuple(strategy.category_weights.values()) == category_weights
    assert (strategy.stop_loss_percent, strategy.target_percent, strategy.max_position_percent) == (
        stop,
        target,
        max_position,
    )
    assert strategy.description and len(strategy.description) < 120


def test_only_weekly_target_places_its_stop_by_atr_between_three_and_four_percent():
    assert [strategy.atr_stop for strategy in STRATEGIES.values()] == [False, False, False, False, True]
    weekly = get_strategy(5)
    assert (weekly.atr_multiple, weekly.atr_stop_min_percent, weekly.stop_loss_percent) == (1.5, 3.0, 4.0)


@pytest.mark.parametrize("bad_id", [0, 6, -1, 99, True, 1.0, "1", None, [1]])
def test_unknown_strategy_ids_raise_and_name_the_valid_ones(bad_id):
    with pytest.raises(UnknownStrategy, match="valid ids are 1, 2, 3, 4, 5") as error:
        get_strategy(bad_id)
    assert error.value.details == {"field": "strategy", "valid": [1, 2, 3, 4, 5]}
    assert error.value.code == "unknown_strategy"


def test_strategies_are_immutable():
    strategy = get_strategy(1)
    with pytest.raises(dataclasses.FrozenInstanceError):
        strategy.stop_loss_percent = 10.0
    with pytest.raises(TypeError):
        strategy.indicator_weights["rsi"] = 100.0


def test_to_dict_is_plain_json_with_weights_in_order():
    data = get_strategy(2).to_dict()
    assert json.loads(json.dumps(data)) == data
    assert list(data["indicator_weights"]) == list(INDICATOR_NAMES)
    assert data["indicator_weights"]["macd"] == 2.5
    assert data["category_weights"] == {"trend": 1.5, "momentum": 0.7, "volatility": 0.8, "volume": 1.0}
    assert data["atr_multiple"] is None
    assert get_strategy(5).to_dict()["atr_multiple"] == 1.5
