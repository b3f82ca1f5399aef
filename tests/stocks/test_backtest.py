"""The backtest engine: live scoring on every day without look-ahead, trade walks with gaps, costs, statistics."""

import math
from datetime import date

import numpy as np
import pytest

from stocks import analysis, backtest
from stocks.analysis import TradeParams, analyze, plan_trade
from stocks.backtest import Costs, ScoredHistory
from stocks.bars import MarketDataError, PriceHistory
from stocks.market_data.sources import csv_history, demo_history
from stocks.strategies import STRATEGIES

PARAMS = TradeParams(capital=1_000_000)
ALL_STRATEGIES = list(STRATEGIES.values())
TODAY = date(2026, 11, 27)


def _random_walk(seed: int, bars: int, drift: float = 0.0) -> PriceHistory:
    """A real-looking history with prices on 0.05 steps (like NSE quotes), crossing tick bands."""
    rng = np.random.default_rng(seed)
    close = np.round(900 * np.exp(np.cumsum(rng.normal(drift, 0.02, bars))) / 0.05) * 0.05
    open_ = np.round(np.concatenate(([close[0]], close[:-1])) * np.exp(rng.normal(0, 0.006, bars)), 2)
    high = np.round(np.maximum(open_, close) * np.exp(np.abs(rng.normal(0, 0.01, bars))), 2)
    low = np.round(np.minimum(open_, close) * np.exp(-np.abs(rng.normal(0, 0.01, bars))), 2)
    dates = np.datetime64("2022-01-03") + np.arange(bars)
    return PriceHistory("WALK.NS", "demo", dates, open_, high, low, close, np.round(rng.lognormal(13, 0.5, bars)))


def _histories() -> list[PriceHistory]:
    return [
        demo_history("RELIANCE.NS", today=TODAY),
        demo_history("TCS.NS", today=TODAY, bars=900),
        demo_history("INFY.NS", today=TODAY, bars=300),
        _random_walk(7, 700, drift=0.001),
    ]


@pytest.mark.parametrize("history", _histories(), ids=lambda history: f"{history.symbol}-{len(history)}")
def test_backtest_last_day_equals_live_analysis_for_every_strategy(history):
    runs = backtest.backtest_symbol(history=history, strategies=ALL_STRATEGIES, params=PARAMS, costs=Costs())
    for strategy in ALL_STRATEGIES:
        live = analyze(history, strategy, PARAMS)
        trades = runs[strategy.id]
        assert trades.dates[-1] == history.dates[-1].astype("datetime64[D]")
        assert float(trades.scores[-1]) == live.score
        assert analysis.VERDICTS_BY_CODE[int(trades.verdict_codes[-1])] == live.verdict
        last = (trades.entry[-1], trades.stop_loss[-1], trades.target[-1], trades.position_size[-1])
        assert last == (live.entry, live.stop_loss, live.target, live.position_size)


def test_real_nse_bars_too_short_for_live_analysis_give_no_backtest_day(shared_data):
    """The real RELIANCE file has 80 bars: live analysis refuses it, so the backtest scores no day."""
    history = csv_history("RELIANCE.NS_sample", shared_data)
    with pytest.raises(MarketDataError):
        analyze(history, STRATEGIES[1], PARAMS)
    runs = backtest.backtest_symbol(history=history, strategies=ALL_STRATEGIES, params=PARAMS, costs=Costs())
    assert all(len(trades.dates) == 0 for trades in runs.values())


def test_every_sampled_day_equals_live_analysis_of_the_bars_up_to_that_day():
    """No look-ahead: day t is what live analysis of bars 0..t says, whatever came after."""
    history = demo_history("HDFCBANK.NS", today=TODAY)
    runs = backtest.backtest_symbol(history=history, strategies=ALL_STRATEGIES, params=PARAMS, costs=Costs())
    day_index = {day: index for index, day in enumerate(history.dates.astype("datetime64[D]"))}
    for strategy in ALL_STRATEGIES:
        trades = runs[strategy.id]
        for row in range(0, len(trades.dates), 37):
            end = day_index[trades.dates[row]] + 1
            prefix = PriceHistory(history.symbol, history.source, *(values[:end] for values in _arrays(history)))
            live = analyze(prefix, strategy, PARAMS)
            assert (float(trades.scores[row]), int(trades.position_size[row])) == (live.score, live.position_size)
            assert (trades.entry[row], trades.stop_loss[row], trades.target[row]) == (
                live.entry,
                live.stop_loss,
                live.target,
            )


def _arrays(history: PriceHistory):
    return history.dates, history.open, history.high, history.low, history.close, history.volume


def test_changing_future_bars_does_not_change_past_scores():
    history = demo_history("SBIN.NS", today=TODAY)
    cut = 400
    changed = PriceHistory(
        history.symbol,
        history.source,
        history.dates,
        history.open,
        np.concatenate((history.high[:cut], history.high[cut:] * 1.3)),
        history.low,
        np.concatenate((history.close[:cut], history.close[cut:] * 1.2)),
        history.volume,
    )
    before = backtest.backtest_symbol(history=history, strategies=ALL_STRATEGIES, params=PARAMS, costs=Costs())
    after = backtest.backtest_symbol(history=changed, strategies=ALL_STRATEGIES, params=PARAMS, costs=Costs())
    for strategy in ALL_STRATEGIES:
        old, new = before[strategy.id], after[strategy.id]
        past = old.dates < history.dates[cut].astype("datetime64[D]")
        assert past.sum() > 100
        assert np.array_equal(old.scores[past], new.scores[: past.sum()])
        assert not np.array_equal(old.scores[~past], new.scores[past.sum() :])


@pytest.mark.parametrize("strategy", ALL_STRATEGIES, ids=lambda strategy: strategy.name)
def test_plan_levels_equal_plan_trade_on_every_day(strategy):
    history = _random_walk(11, 800)
    series, votes, confidences, days = backtest.score_days(history)
    for direction, verdict in ((1, "Buy"), (-1, "Sell")):
        levels = analysis.plan_levels(
            entry_prices=history.close[days],
            atr_values=series["atr"][days],
            directions=np.full(len(days), direction),
            strategy=strategy,
            params=PARAMS,
        )
        for row, day in enumerate(days):
            plan = plan_trade(
                entry_price=float(history.close[day]),
                atr_value=float(series["atr"][day]),
                verdict=verdict,
                strategy=strategy,
                params=PARAMS,
            )
            got = (levels.entry[row], levels.stop_loss[row], levels.target[row], int(levels.position_size[row]))
            assert got == (plan.entry, plan.stop_loss, plan.target, plan.position_size), f"day {day}"


def test_a_price_jump_stops_scoring_from_that_day_on():
    history = demo_history("ITC.NS", today=TODAY)
    close = history.close.copy()
    close[450:] = close[450:] / 2  # an unadjusted 1:2 split
    split = PriceHistory(
        history.symbol,
        history.source,
        history.dates,
        np.minimum(history.open, close),
        np.maximum(history.high / np.where(np.arange(len(close)) >= 450, 2, 1), close),
        np.minimum(history.low / np.where(np.arange(len(close)) >= 450, 2, 1), close),
        close,
        history.volume,
    )
    trades = backtest.backtest_symbol(history=split, strategies=[STRATEGIES[1]], params=PARAMS, costs=Costs())[1]
    assert trades.dates[-1] == split.dates[449].astype("datetime64[D]")


# --- the trade walk on hand-made bars ----------------------------------------------------------
# Balanced (strategy 1): stop 2%, target 4%, max position 20%. Entry at a close of 100.00 (tick
# 0.01): long stop 98.00, target 104.00; short stop 102.00, target 96.00. Capital 100,000 with
# 2% risk: 2,000 / 2.00 = 1,000 shares by risk, 20,000 / 100 = 200 by max position: 200 shares.

SMALL = TradeParams(capital=100_000)
NO_COSTS = Costs(
    brokerage_percent=0, stt_percent=0, exchange_percent=0, sebi_per_crore=0, stamp_duty_percent=0, gst_percent=0
)


def _walk(
    bars: list[tuple[float, float, float, float]], *, verdict_code: int = 1, max_holding: int = 5, costs=NO_COSTS
):
    """Day 0 is the signal (close 100); `bars` are the sessions after it as (open, high, low, close)."""
    rows = [(100.0, 100.0, 100.0, 100.0)] + bars
    open_, high, low, close = (np.array(column, dtype=float) for column in zip(*rows, strict=True))
    dates = np.datetime64("2025-01-01") + np.arange(len(rows))
    history = PriceHistory("HAND.NS", "demo", dates, open_, high, low, close, np.full(len(rows), 1000.0))
    scored = ScoredHistory(days=np.array([0]), scores=np.array([0.3]), verdict_codes=np.array([verdict_code]))
    return backtest.simulate_trades(
        history=history,
        scored=scored,
        atr_values=np.full(len(rows), 1.0),
        strategy=STRATEGIES[1],
        params=SMALL,
        costs=costs,
        max_holding=max_holding,
    )


def _outcome(trades) -> tuple:
    reason = ("stop", "target", "time", "open")[int(trades.exit_reason[0])]
    return reason, float(trades.exit_price[0]), str(trades.exit_dates[0])


def test_the_plan_of_the_walk_is_the_documented_one():
    trades = _walk([(100, 101, 99, 100)] * 5)
    assert (trades.entry[0], trades.stop_loss[0], trades.target[0], trades.position_size[0]) == (100, 98, 104, 200)


def test_target_reached_inside_a_session_fills_at_the_target():
    trades = _walk([(100, 103, 99, 102), (102, 104.5, 101, 104)])
    assert _outcome(trades) == ("target", 104.0, "2025-01-03")
    assert trades.net_pnl[0] == pytest.approx(200 * 4.0)
    assert trades.net_return[0] == pytest.approx(4.0)


def test_a_gap_through_the_stop_fills_at_the_open_not_at_the_stop():
    trades = _walk([(100, 101, 99, 100), (96.5, 97, 95, 96)])
    assert _outcome(trades) == ("stop", 96.5, "2025-01-03")
    assert trades.net_pnl[0] == pytest.approx(200 * -3.5)


def test_a_gap_through_the_target_fills_at_the_open():
    trades = _walk([(106, 107, 105, 106)])
    assert _outcome(trades) == ("target", 106.0, "2025-01-02")


def test_a_session_touching_both_levels_counts_the_stop_first():
    trades = _walk([(100, 105, 97.5, 104)])
    assert _outcome(trades) == ("stop", 98.0, "2025-01-02")


def test_no_level_reached_exits_at_the_close_after_max_holding_sessions():
    trades = _walk([(100, 101, 99, 100.5)] * 2 + [(100, 103, 99, 101.25)] + [(101, 103, 99, 90)], max_holding=3)
    assert _outcome(trades) == ("time", 101.25, "2025-01-04")


def test_a_trade_the_history_ends_before_is_open_and_not_counted():
    trades = _walk([(100, 101, 99, 100)] * 2, max_holding=5)
    assert _outcome(trades)[0] == "open"
    assert not trades.completed[0]
    stats = backtest.summarise(trades=[trades], capital=SMALL.capital, min_signals=1)
    assert stats[1].signals == 1 and stats[1].trades == 0


def test_a_sell_verdict_walks_a_short_trade_with_mirrored_gaps():
    gap_up = _walk([(103, 104, 102.5, 103.5)], verdict_code=3)
    assert (gap_up.stop_loss[0], gap_up.target[0]) == (102, 96)
    assert _outcome(gap_up) == ("stop", 103.0, "2025-01-02")
    assert gap_up.net_pnl[0] == pytest.approx(-200 * 3.0)
    falls = _walk([(99, 99.5, 97, 97.5), (97, 97.2, 95.5, 96)], verdict_code=4)
    assert _outcome(falls) == ("target", 96.0, "2025-01-03")
    assert falls.net_pnl[0] == pytest.approx(200 * 4.0)


def test_forward_returns_read_the_close_5_10_and_20_sessions_later():
    close = np.arange(100.0, 130.0)
    forward = backtest.forward_returns(close=close, days=np.array([0, 15]))
    assert forward[0].tolist() == pytest.approx([5.0, 10.0, 20.0])
    assert forward[1, 0] == pytest.approx((120 / 115 - 1) * 100)
    assert math.isnan(forward[1, 2])


# --- costs ---------------------------------------------------------------------------------------


def test_delivery_costs_of_a_round_trip_add_up_as_documented():
    # Buy 200 x 100 = 20,000, sell 200 x 104 = 20,800.
    brokerage = 20_000 * 0.0003 + 20_800 * 0.0003  # 6.00 + 6.24, both under the INR 20 cap
    exchange = 40_800 * 0.0000297
    sebi = 40_800 * 10 / 10_000_000
    stt = 40_800 * 0.001
    stamp = 20_000 * 0.00015
    gst = 0.18 * (brokerage + exchange + sebi)
    expected = brokerage + exchange + sebi + stt + stamp + gst
    assert backtest.trade_costs(buy_value=20_000, sell_value=20_800, costs=Costs()) == pytest.approx(expected)
    trades = _walk([(100, 103, 99, 102), (102, 104.5, 101, 104)], costs=Costs())
    assert trades.costs[0] == pytest.approx(expected)
    assert trades.net_pnl[0] == pytest.approx(800 - expected)
    assert trades.net_return[0] == pytest.approx((800 - expected) / 20_000 * 100)


def test_brokerage_is_capped_per_order():
    # 0.03% of 1,000,000 is 300: capped at 20 on each side.
    costs = Costs(stt_percent=0, exchange_percent=0, sebi_per_crore=0, stamp_duty_percent=0, gst_percent=0)
    assert backtest.trade_costs(buy_value=1_000_000, sell_value=1_000_000, costs=costs) == pytest.approx(40.0)


# --- statistics ----------------------------------------------------------------------------------


def _trades(rows: list[tuple[int, float, float, str]]) -> backtest.Trades:
    """rows of (verdict code, net return %, forward 5-session %, exit date); entry value 10,000 each."""
    count = len(rows)
    codes = np.array([row[0] for row in rows])
    returns = np.array([row[1] for row in rows])
    forward = np.full((count, 3), np.nan)
    forward[:, 0] = [row[2] for row in rows]
    return backtest.Trades(
        symbol="HAND.NS",
        dates=np.array([row[3] for row in rows], dtype="datetime64[D]"),
        scores=np.zeros(count),
        verdict_codes=codes,
        entry=np.full(count, 100.0),
        stop_loss=np.full(count, 98.0),
        target=np.full(count, 104.0),
        position_size=np.full(count, 100),
        forward_returns=forward,
        exit_dates=np.array([row[3] for row in rows], dtype="datetime64[D]"),
        exit_price=np.full(count, 100.0),
        exit_reason=np.where(returns > 0, 1, 0),
        net_pnl=returns / 100 * 10_000,
        net_return=returns,
        costs=np.full(count, 10.0),
    )


def test_bucket_statistics_on_a_hand_made_set():
    # Buy: +4, -2, +4, -2, -2 (% net) in exit order; equity on 100,000: 100,400, 100,200, 100,600,
    # 100,400, 100,200; worst fall from a peak: 100,600 -> 100,200 = 400 / 100,600.
    rows = [
        (1, 4.0, 3.0, "2025-01-02"),
        (1, -2.0, -1.0, "2025-01-03"),
        (1, 4.0, 5.0, "2025-01-06"),
        (1, -2.0, 1.0, "2025-01-07"),
        (1, -2.0, -2.0, "2025-01-08"),
        (3, 1.0, -4.0, "2025-01-02"),
    ]
    stats = {
        bucket.verdict: bucket for bucket in backtest.summarise(trades=[_trades(rows)], capital=100_000, min_signals=5)
    }
    buy = stats["Buy"]
    assert (buy.signals, buy.trades, buy.too_few_signals) == (5, 5, False)
    assert buy.hit_rate == pytest.approx(40.0)
    assert buy.expectancy_percent == pytest.approx(0.4)  # (4 - 2 + 4 - 2 - 2) / 5
    assert buy.expectancy_inr == pytest.approx(40.0)
    assert buy.median_return_percent == pytest.approx(-2.0)
    assert buy.forward_mean["5"] == pytest.approx(1.2)  # (3 - 1 + 5 + 1 - 2) / 5
    assert buy.forward_median["5"] == pytest.approx(1.0)
    assert buy.forward_mean["20"] is None
    assert buy.max_drawdown_percent == pytest.approx(400 / 100_600 * 100, abs=1e-4)
    assert buy.total_costs_inr == pytest.approx(50.0)
    assert buy.equity_curve[-1] == ["2025-01-08", 100_200.0]
    low, high = buy.hit_rate_ci
    assert low < 40.0 < high
    sell = stats["Sell"]
    assert (sell.trades, sell.too_few_signals, sell.hit_rate) == (1, True, 100.0)
    assert sell.expectancy_ci is None  # one trade has no interval
    assert stats["Hold"].trades == 0 and stats["Hold"].hit_rate is None


def test_wilson_interval_matches_the_textbook_value():
    # 8 of 10 at 95%: 0.4902 .. 0.9433 (Wilson 1927; Newcombe 1998, table I).
    low, high = backtest.wilson_interval(wins=8, total=10)
    assert (round(low, 2), round(high, 2)) == (49.02, 94.33)


def test_bootstrap_interval_is_repeatable_and_brackets_the_mean():
    values = np.array([4.0, -2.0, 4.0, -2.0, -2.0, 1.0, 3.0])
    first = backtest.bootstrap_mean_interval(values, seed=3)
    assert first == backtest.bootstrap_mean_interval(values, seed=3)
    assert first[0] < values.mean() < first[1]


def test_buy_and_hold_reads_the_first_and_last_scored_day_of_each_stock():
    history = demo_history("LT.NS", today=TODAY)
    trades = backtest.backtest_symbol(history=history, strategies=[STRATEGIES[1]], params=PARAMS, costs=Costs())[1]
    first = int(np.searchsorted(history.dates.astype("datetime64[D]"), trades.dates[0]))
    expected = (history.close[-1] / history.close[first] - 1) * 100
    assert backtest.buy_and_hold_percent(histories=[history], trades=[trades]) == pytest.approx(expected, abs=1e-4)


def test_return_histogram_counts_one_percent_bins_with_open_ends():
    counts = backtest.return_histogram(np.array([-40.0, -15.0, -0.5, 0.0, 0.2, 14.9, 15.0, 99.0]))
    assert len(counts) == len(backtest.HISTOGRAM_EDGES) + 1 and sum(counts) == 8
    assert counts[0] == 1  # below -15%
    assert counts[1] == 1  # -15% .. -14%
    assert counts[15] == 1 and counts[16] == 2  # -1..0 holds -0.5; 0..1 holds 0.0 and 0.2
    assert counts[30] == 1 and counts[31] == 2  # 14..15 holds 14.9; 15 and beyond


def test_a_large_count_uses_the_normal_interval_of_the_mean():
    values = np.tile([1.0, -1.0], 500)  # mean 0, sd ~1.0005, n 1000
    low, high = backtest.mean_interval(values)
    half = 1.96 * values.std(ddof=1) / math.sqrt(1000)
    assert (low, high) == pytest.approx((-half, half))


@pytest.fixture(scope="module")
def real_csv_dir(tmp_path_factory):
    """Real daily bars (IBM and GOOG to 2013-03-01, Quandl WIKI via bokeh_sampledata), written as csv:DIR files.

    Not NSE data (no package ships Indian OHLCV and the one real NSE file has 80 bars, too few to score):
    it proves one scoring code path on real prices, not anything about Indian stocks.
    """
    from bokeh_sampledata import stocks  # pinned in requirements.txt: a missing package fails, never skips

    directory = tmp_path_factory.mktemp("real_csv")
    for ticker in REAL_TICKERS:
        frame = stocks.data[stocks.data["ticker"] == ticker]
        frame = frame.rename(columns=str.title)[["Date", "Open", "High", "Low", "Close", "Volume"]]
        frame.assign(Date=frame["Date"].dt.strftime("%Y-%m-%d")).to_csv(directory / f"{ticker}.csv", index=False)
    return directory


REAL_TICKERS = ("IBM", "GOOG")


@pytest.mark.parametrize("ticker", REAL_TICKERS)
def test_on_real_bars_from_the_csv_source_backtest_days_equal_live_analysis_for_every_strategy(real_csv_dir, ticker):
    history = csv_history(ticker, real_csv_dir)
    assert history.source == "csv" and len(history) > 2000
    runs = backtest.backtest_symbol(history=history, strategies=ALL_STRATEGIES, params=PARAMS, costs=Costs())
    day_index = {day: index for index, day in enumerate(history.dates.astype("datetime64[D]"))}
    for strategy in ALL_STRATEGIES:
        trades = runs[strategy.id]
        assert len(trades.dates) > 1500, f"{ticker} {strategy.name}: only {len(trades.dates)} days scored"
        assert trades.dates[-1] == history.dates[-1].astype("datetime64[D]")
        # The last day, and earlier days spread over the history (each from the bars up to that day only).
        rows = sorted({len(trades.dates) - 1, 0, 1, *range(0, len(trades.dates), len(trades.dates) // 7)})
        for row in rows:
            end = day_index[trades.dates[row]] + 1
            prefix = PriceHistory(history.symbol, history.source, *(values[:end] for values in _arrays(history)))
            live = analyze(prefix, strategy, PARAMS)
            day = f"{ticker} {strategy.name} {trades.dates[row]}"
            assert float(trades.scores[row]) == live.score, day
            assert analysis.VERDICTS_BY_CODE[int(trades.verdict_codes[row])] == live.verdict, day
            backtested = (trades.entry[row], trades.stop_loss[row], trades.target[row], int(trades.position_size[row]))
            assert backtested == (live.entry, live.stop_loss, live.target, live.position_size), day
