"""Jumps that look like unadjusted splits or data errors answer an error instead of a verdict.

Hand-made close series; no database, no Django.
"""

import numpy as np
import pytest

from stocks.analysis import TradeParams, analyze
from stocks.bars import MarketDataError, PriceHistory
from stocks.quality import SuspectPrices, check_price_jumps, find_price_jumps
from stocks.strategies import get_strategy

DAYS = np.datetime64("2025-03-10") + np.arange(6)  # 2025-03-10 .. 2025-03-15


def jumps_of(closes: list[float]) -> list[str]:
    return [jump.describe() for jump in find_price_jumps(dates=DAYS[: len(closes)], close=np.array(closes, float))]


def test_a_halved_close_looks_like_a_one_for_two_split():
    assert jumps_of([1000, 1010, 1000, 500, 505]) == [
        "price jump of -50% on 2025-03-13 (close 1000.00 -> 500.00) looks like "
        "an unadjusted split or bonus (1:2) or a data error"
    ]


@pytest.mark.parametrize(
    ("after", "cause"),
    [
        (100 / 3, "an unadjusted split or bonus (1:3) or a data error"),
        (20.4, "an unadjusted split or bonus (1:5) or a data error"),
        (10, "an unadjusted split or bonus (1:10) or a data error"),
        (1, "a 100x unit error in the data"),
        (10_000, "a 100x unit error in the data"),
        (500, "an unadjusted split or bonus (5:1 consolidation) or a data error"),
        (40, "an unadjusted split or a data error"),
    ],
)
def test_the_likely_cause_is_named_from_the_ratio(after, cause):
    (jump,) = find_price_jumps(dates=DAYS[:2], close=np.array([100.0, after]))
    assert jump.describe().endswith(f"looks like {cause}")


@pytest.mark.parametrize(
    ("closes", "flagged"),
    [
        ([100, 55.01], False),  # -44.99%: within the limit
        ([100, 55.0], True),  # -45%: the limit itself is flagged
        ([100, 179.99], False),
        ([100, 180.0], True),
        ([100, 90, 81, 72.9, 65.6, 59.05], False),  # a steep fall over days is a trend, not a jump
    ],
)
def test_thresholds_are_minus_45_and_plus_80_percent_in_one_session(closes, flagged):
    assert bool(jumps_of(closes)) is flagged


def test_thresholds_are_parameters():
    closes = np.array([100.0, 70.0])
    assert find_price_jumps(dates=DAYS[:2], close=closes) == []
    assert len(find_price_jumps(dates=DAYS[:2], close=closes, max_drop=0.25)) == 1


def history_with_last_close_halved(seed: int = 0, bars: int = 500, factor: float = 0.5) -> PriceHistory:
    """A quiet random walk whose last close is half the one before: a 1:2 split left unadjusted."""
    rng = np.random.default_rng(seed)
    close = 1000 * np.exp(np.cumsum(rng.normal(0.0, 0.012, bars)))
    close[-1] = close[-2] * factor
    open_ = np.concatenate(([1000.0], close[:-1])) * np.exp(rng.normal(0, 0.003, bars))
    open_[-1] = close[-1] * 1.01
    high, low = np.maximum(open_, close) * 1.005, np.minimum(open_, close) * 0.995
    volume = np.round(rng.lognormal(13, 0.4, bars))
    dates = np.datetime64("2023-01-02") + np.arange(bars)
    return PriceHistory("SPLIT.NS", "csv", dates, open_, high, low, close, volume)


def test_a_fifty_percent_one_day_drop_is_an_error_not_a_strong_buy_under_mean_reversion():
    history = history_with_last_close_halved()
    with pytest.raises(SuspectPrices) as caught:
        analyze(history, get_strategy(3), TradeParams(capital=100_000))
    assert caught.value.message.startswith("SPLIT.NS: price jump of -50% on 2024-05-15 ")
    assert "looks like an unadjusted split or bonus (1:2)" in caught.value.message
    assert isinstance(caught.value, MarketDataError) and caught.value.permanent


def test_the_same_history_with_a_plausible_last_day_gets_a_verdict():
    assert analyze(history_with_last_close_halved(factor=0.97), get_strategy(3), TradeParams(capital=100_000)).verdict


def test_the_latest_jump_is_named_and_earlier_ones_counted():
    close = np.array([100.0, 50.0, 51.0, 102.0, 101.0])
    history = PriceHistory("X.NS", "csv", DAYS[:5], close, close, close, close, np.ones(5))
    with pytest.raises(SuspectPrices, match=r"on 2025-03-13 .* \(1 earlier jump\(s\) too\)$"):
        check_price_jumps(history)


# --- Flags shown with every result ------------------------------------------------------------


def test_longest_zero_volume_run_counts_consecutive_zero_bars():
    from stocks.quality import longest_zero_volume_run

    assert longest_zero_volume_run(np.array([5.0, 0, 0, 7, 0, 0, 0, 1])) == 3
    assert longest_zero_volume_run(np.array([5.0, 6.0])) == 0
    assert longest_zero_volume_run(np.array([0.0, 0.0])) == 2


def _history(volume: list[float]) -> PriceHistory:
    days = len(volume)
    close = np.linspace(100.0, 110.0, days)
    return PriceHistory(
        symbol="TEST.NS",
        dates=np.datetime64("2025-01-01") + np.arange(days),
        open=close,
        high=close + 1,
        low=close - 1,
        close=close,
        volume=np.array(volume, dtype=float),
        source="yfinance",
    )


def test_describe_quality_raises_each_flag_only_when_it_applies():
    from stocks.quality import describe_quality

    clean = describe_quality(_history([10.0] * 5), sessions_behind=0)
    assert clean == {"data_as_of": "2025-01-05", "sessions_behind": 0, "zero_volume_run": 0, "flags": []}
    assert describe_quality(_history([10.0] * 5), sessions_behind=None)["flags"] == []
    flagged = describe_quality(_history([10.0, 0, 0, 0, 10.0]), sessions_behind=2, settling=True)
    assert flagged["flags"] == ["stale", "zero_volume_run", "settling"]
    assert flagged["zero_volume_run"] == 3 and flagged["sessions_behind"] == 2


def test_quality_notes_label_each_flag_for_people():
    from stocks.quality import quality_notes

    stored = {
        "data_as_of": "2025-11-27",
        "sessions_behind": 1,
        "zero_volume_run": 4,
        "flags": ["stale", "zero_volume_run", "settling", "from_the_future"],
    }
    notes = quality_notes(stored)
    assert [(n.flag, n.label) for n in notes] == [
        ("stale", "1 session behind"),
        ("zero_volume_run", "no trades 4 sessions"),
        ("settling", "close not final"),
        ("from_the_future", "from the future"),
    ]
    assert "last bar is from 2025-11-27; 1 NSE session closed since" in notes[0].detail
    assert quality_notes({**stored, "sessions_behind": 3, "flags": ["stale"]})[0].label == "3 sessions behind"
    assert quality_notes(None) == [] and quality_notes({"flags": []}) == []
