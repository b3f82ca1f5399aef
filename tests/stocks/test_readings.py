"""Indicator values in their units and rules in plain words (pure: no database)."""

import pytest

from stocks.readings import abbreviate, describe_reading


@pytest.mark.parametrize(
    ("value", "text"), [(12_345_678, "12.3M"), (-4_500, "-4.5K"), (950, "950"), (2.5e9, "2.5B"), (float("nan"), "—")]
)
def test_large_numbers_are_abbreviated(value, text):
    assert abbreviate(value) == text


def test_the_ema_spread_reads_as_a_signed_percentage_with_its_meaning():
    described = describe_reading({"name": "ema", "value": 3.2468, "vote": 1, "details": {}})
    assert described["value_text"] == "+3.25%"
    assert described["plain"].startswith("EMA 50 above EMA 200") and described["plain"].endswith("points to buying.")


def test_obv_reads_abbreviated_with_its_change():
    described = describe_reading(
        {"name": "obv", "value": 98_765_432.0, "vote": 0, "details": {"obv_change": -1_200_000}}
    )
    assert described["value_text"] == "98.8M (-1.2M)"
    assert described["plain"].endswith("gives no signal.")


def test_atr_reads_in_rupees_and_percent_of_price():
    described = describe_reading({"name": "atr", "value": 12.3456, "vote": 0, "details": {"atr_percent": 1.52}})
    assert described["value_text"] == "₹12.35 (1.5% of price)"


def test_a_missing_value_reads_as_a_dash():
    assert describe_reading({"name": "rsi", "value": None, "vote": 0}) == {"value_text": "—", "plain": ""}
