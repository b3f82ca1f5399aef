"""Indicator values against independent references and published worked values; vote rules at their edges.

References here are deliberately naive (pandas rolling windows, explicit loops) so that they share
no code with TA-Lib. Real data: the 80-bar RELIANCE.NS sample; longer series: seeded random walks.
"""

import json
import math

import numpy as np
import pandas as pd
import pytest

from stocks import indicators as ind
from stocks.market_data import MarketDataError, PriceHistory

# Wilder's RSI worked example as published by StockCharts ("RSI", ChartSchool): 33 closes, RSI(14) from the 15th.
WILDER_CLOSES = [
    44.3389, 44.0902, 44.1497, 43.6124, 44.3278, 44.8264, 45.0955, 45.4245, 45.8433, 46.0826, 45.8931,
    46.0328, 45.6140, 46.2820, 46.2820, 46.0028, 46.0328, 46.4116, 46.2222, 45.6439, 46.2122, 46.2521,
    45.7137, 46.4515, 45.7835, 45.3548, 44.0288, 44.1783, 44.2181, 44.5672, 43.4205, 42.6628, 43.1314,
]  # fmt: skip
WILDER_RSI = [
    70.53, 66.32, 66.55, 69.41, 66.36, 57.97, 62.93, 63.26, 56.06, 62.38,
    54.71, 50.42, 39.99, 41.46, 41.87, 45.46, 37.30, 33.08, 37.77,
]  # fmt: skip
# StockCharts' EMA worked example ("Moving Averages - Simple and Exponential"): 10-day EMA seeded with the SMA.
EMA_CLOSES = [
    22.27, 22.19, 22.08, 22.17, 22.18, 22.13, 22.23, 22.43, 22.24, 22.29, 22.15, 22.39, 22.38, 22.61,
    23.36, 24.05, 23.75, 23.83, 23.95, 23.63,
]  # fmt: skip
EMA10 = [22.22, 22.21, 22.24, 22.27, 22.33, 22.52, 22.80, 22.97, 23.13, 23.28, 23.34]


def synthetic_history(seed: int, bars: int = 500) -> PriceHistory:
    """A deterministic random walk with valid OHLCV (low <= open, close <= high, positive prices)."""
    rng = np.random.default_rng(seed)
    close = 100 * np.exp(np.cumsum(rng.normal(0.0003, 0.018, bars)))
    open_ = np.concatenate(([100.0], close[:-1])) * np.exp(rng.normal(0, 0.0045, bars))
    high = np.maximum(open_, close) * np.exp(np.abs(rng.normal(0, 0.009, bars)))
    low = np.minimum(open_, close) * np.exp(-np.abs(rng.normal(0, 0.009, bars)))
    volume = np.round(rng.lognormal(13, 0.5, bars))
    dates = np.datetime64("2023-01-02") + np.arange(bars)
    return PriceHistory(f"SYN{seed}.NS", "demo", dates, open_, high, low, close, volume)


@pytest.fixture
def reliance(shared_data) -> PriceHistory:
    frame = pd.read_csv(shared_data / "RELIANCE.NS_sample.csv")
    columns = {name: frame[name].to_numpy(dtype=float) for name in ("Open", "High", "Low", "Close", "Volume")}
    dates = np.array([day[:10] for day in frame["Date"]], dtype="datetime64[D]")
    return PriceHistory(
        "RELIANCE.NS", "csv", dates,
        columns["Open"], columns["High"], columns["Low"], columns["Close"], columns["Volume"],
    )  # fmt: skip


@pytest.fixture(params=["reliance", "synthetic"])
def bars(request) -> PriceHistory:
    """Each reference check runs on the real 80-bar NSE sample and on a 500-bar random walk."""
    if request.param == "reliance":
        return request.getfixturevalue("reliance")
    return synthetic_history(7)


# --- references ------------------------------------------------------------------------------


def sma_seeded_ema(values: np.ndarray, period: int, start: int = 0) -> np.ndarray:
    """Textbook EMA: the SMA of the first `period` values from `start`, then alpha = 2 / (period + 1)."""
    series = pd.Series(values[start:], dtype=float)
    seeded = series.copy()
    seeded.iloc[: period - 1] = np.nan
    seeded.iloc[period - 1] = series.iloc[:period].mean()
    smoothed = seeded.iloc[period - 1 :].ewm(span=period, adjust=False).mean()
    out = np.full(len(values), np.nan)
    out[start + period - 1 :] = smoothed.to_numpy()
    return out


def wilder_rsi(close: np.ndarray, period: int = 14) -> np.ndarray:
    """Wilder's RSI: averages seeded with the SMA of the first `period` changes, then ewm(alpha=1/period)."""
    change = pd.Series(close).diff().iloc[1:]

    def wilder_average(values: pd.Series) -> pd.Series:
        seeded = pd.concat([pd.Series([values.iloc[:period].mean()]), values.iloc[period:]], ignore_index=True)
        return seeded.ewm(alpha=1 / period, adjust=False).mean()

    gains, losses = wilder_average(change.clip(lower=0)), wilder_average(-change.clip(upper=0))
    out = np.full(len(close), np.nan)
    out[period:] = (100 - 100 / (1 + gains / losses)).to_numpy()
    return out


def true_range(high, low, close) -> np.ndarray:
    previous = close[:-1]
    return np.maximum(high[1:] - low[1:], np.maximum(abs(high[1:] - previous), abs(low[1:] - previous)))


def wilder_atr(high, low, close, period: int = 14) -> np.ndarray:
    ranges = true_range(high, low, close)
    out = np.full(len(close), np.nan)
    out[period] = ranges[:period].mean()
    for i in range(period + 1, len(close)):
        out[i] = (out[i - 1] * (period - 1) + ranges[i - 1]) / period
    return out


def wilder_adx(high, low, close, period: int = 14):
    """Wilder's ADX as StockCharts lays it out: smoothed sums (first = plain sum), DX, ADX = Wilder average."""
    up, down = high[1:] - high[:-1], low[:-1] - low[1:]
    plus_dm = np.where((up > down) & (up > 0), up, 0.0)
    minus_dm = np.where((down > up) & (down > 0), down, 0.0)
    ranges = true_range(high, low, close)

    def smoothed_sum(values):
        out = np.full(len(values), np.nan)
        out[period - 1] = values[:period].sum()
        for i in range(period, len(values)):
            out[i] = out[i - 1] - out[i - 1] / period + values[i]
        return out

    tr_sum = smoothed_sum(ranges)
    di_plus, di_minus = 100 * smoothed_sum(plus_dm) / tr_sum, 100 * smoothed_sum(minus_dm) / tr_sum
    dx = 100 * abs(di_plus - di_minus) / (di_plus + di_minus)
    adx = np.full(len(dx), np.nan)
    first = 2 * period - 2
    adx[first] = dx[period - 1 : first + 1].mean()
    for i in range(first + 1, len(dx)):
        adx[i] = (adx[i - 1] * (period - 1) + dx[i]) / period
    pad = np.array([np.nan])
    return np.concatenate((pad, adx)), np.concatenate((pad, di_plus)), np.concatenate((pad, di_minus))


def wilder_psar(high, low, step=0.02, maximum=0.2) -> np.ndarray:
    """Wilder's Parabolic SAR, bar by bar. The first trend is short if bar 1 made a down move
    (a positive -DM), long otherwise, as TA-Lib decides it."""
    up, down = high[1] - high[0], low[0] - low[1]
    is_long = not (down > up and down > 0)
    extreme, sar = (high[1], low[0]) if is_long else (low[1], high[0])
    factor = step
    out = np.full(len(high), np.nan)
    for i in range(1, len(high)):
        prev_high, prev_low = high[i - 1], low[i - 1]
        if is_long and low[i] <= sar or not is_long and high[i] >= sar:
            is_long = not is_long
            sar = extreme  # the old extreme becomes the new SAR, kept outside today's and yesterday's range
            sar = max(sar, prev_high, high[i]) if not is_long else min(sar, prev_low, low[i])
            out[i] = sar
            factor, extreme = step, (low[i] if not is_long else high[i])
        else:
            out[i] = sar
            if is_long and high[i] > extreme or not is_long and low[i] < extreme:
                extreme, factor = (high[i] if is_long else low[i]), min(maximum, factor + step)
        sar = sar + factor * (extreme - sar)
        sar = min(sar, prev_low, low[i]) if is_long else max(sar, prev_high, high[i])
    return out


def rolling(values, period):
    return pd.Series(values).rolling(period)


def stochastic_ref(high, low, close):
    highest, lowest = rolling(high, 14).max(), rolling(low, 14).min()
    raw_k = 100 * (pd.Series(close) - lowest) / (highest - lowest)
    slow_k = raw_k.rolling(3).mean()
    return slow_k.to_numpy(), slow_k.rolling(3).mean().to_numpy()


def williams_ref(high, low, close):
    highest, lowest = rolling(high, 14).max(), rolling(low, 14).min()
    return (-100 * (highest - pd.Series(close)) / (highest - lowest)).to_numpy()


def cci_ref(high, low, close):
    typical = pd.Series((high + low + close) / 3)
    mean_deviation = typical.rolling(20).apply(lambda window: np.abs(window - window.mean()).mean(), raw=True)
    return ((typical - typical.rolling(20).mean()) / (0.015 * mean_deviation)).to_numpy()


def bollinger_ref(close):
    middle, deviation = rolling(close, 20).mean(), rolling(close, 20).std(ddof=0)
    return (middle + 2 * deviation).to_numpy(), middle.to_numpy(), (middle - 2 * deviation).to_numpy()


def obv_ref(close, volume):
    return np.concatenate(([0.0], np.cumsum(np.sign(np.diff(close)) * volume[1:])))


def cmf_ref(high, low, close, volume):
    with np.errstate(invalid="ignore"):  # 0 / 0 on bars with high == low, which count as MFM 0
        multiplier = ((close - low) - (high - close)) / (high - low)
    flow = pd.Series(np.nan_to_num(multiplier) * volume)
    return (flow.rolling(20).sum() / rolling(volume, 20).sum()).to_numpy()


def assert_tail_close(actual, expected, *, bars=20, rel=1e-9):
    np.testing.assert_allclose(actual[-bars:], expected[-bars:], rtol=rel, atol=1e-9)


# --- published worked values -----------------------------------------------------------------


def test_rsi_matches_wilders_published_worked_example():
    values = ind.rsi(np.array(WILDER_CLOSES))
    assert np.isnan(values[:14]).all()
    assert [round(value, 2) for value in values[14:]] == WILDER_RSI


def test_ema_matches_stockcharts_worked_example():
    values = ind.ema(np.array(EMA_CLOSES), 10)
    assert np.isnan(values[:9]).all()
    np.testing.assert_allclose(values[9:], EMA10, atol=0.006)


def test_cmf_matches_a_hand_computed_window():
    # MFMs: bar 1 (C at the high) +1, bar 2 (C at the low) -1, bar 3 (C at mid) 0, bar 4 (H == L) 0.
    high, low = np.array([10.0, 12.0, 12.0, 11.0]), np.array([8.0, 10.0, 10.0, 11.0])
    close, volume = np.array([10.0, 10.0, 11.0, 11.0]), np.array([100.0, 300.0, 50.0, 70.0])
    values = ind.cmf(high, low, close, volume, period=3)
    assert np.isnan(values[:2]).all()
    assert values[2] == pytest.approx((100 - 300 + 0) / 450)
    assert values[3] == pytest.approx((-300 + 0 + 0) / 420)


def test_cmf_is_zero_over_a_window_without_volume():
    high, low, close = np.full(25, 11.0), np.full(25, 9.0), np.full(25, 10.5)
    volume = np.concatenate((np.full(5, 1000.0), np.zeros(20)))
    assert ind.cmf(high, low, close, volume)[-1] == 0.0


# --- independent references on real and synthetic bars -----------------------------------------


def test_rsi_matches_a_pandas_wilder_reference(bars):
    assert_tail_close(ind.rsi(bars.close), wilder_rsi(bars.close))


def test_macd_matches_ema_references(bars):
    line, signal, hist = ind.macd(bars.close)
    # TA-Lib starts both EMAs on bar 26: the 12-bar EMA is seeded with the SMA of closes 15..26.
    ref_line = sma_seeded_ema(bars.close, 12, start=14) - sma_seeded_ema(bars.close, 26)
    ref_signal = sma_seeded_ema(ref_line, 9, start=25)
    assert_tail_close(line, ref_line)
    assert_tail_close(signal, ref_signal)
    assert_tail_close(hist, ref_line - ref_signal)


def test_macd_converges_to_the_textbook_ewm_on_long_histories():
    bars = synthetic_history(11)
    close = pd.Series(bars.close)
    line = close.ewm(span=12, adjust=False).mean() - close.ewm(span=26, adjust=False).mean()
    hist = line - line.ewm(span=9, adjust=False).mean()
    assert ind.macd(bars.close)[2][-1] == pytest.approx(hist.iloc[-1], rel=1e-6)


def test_adx_and_directional_indicators_match_wilder(bars):
    actual = ind.adx(bars.high, bars.low, bars.close)
    expected = wilder_adx(bars.high, bars.low, bars.close)
    # TA-Lib seeds Wilder's sums with 13 bars instead of 14; the seed fades as (13/14)^n.
    rel = 1e-3 if len(bars) < 100 else 1e-9
    for got, want in zip(actual, expected, strict=True):
        assert_tail_close(got, want, bars=5, rel=rel)


def test_psar_matches_a_bar_by_bar_wilder_reference(bars):
    expected = wilder_psar(bars.high, bars.low)
    np.testing.assert_allclose(ind.psar(bars.high, bars.low)[1:], expected[1:], rtol=1e-12)


def test_ema_50_and_200_match_sma_seeded_references():
    bars = synthetic_history(3)
    for period in (50, 200):
        assert_tail_close(ind.ema(bars.close, period), sma_seeded_ema(bars.close, period), bars=300)


def test_stochastic_matches_rolling_window_reference(bars):
    k, d = ind.stochastic(bars.high, bars.low, bars.close)
    ref_k, ref_d = stochastic_ref(bars.high, bars.low, bars.close)
    assert_tail_close(k, ref_k, bars=50)
    assert_tail_close(d, ref_d, bars=50)


def test_cci_matches_mean_deviation_reference(bars):
    assert_tail_close(ind.cci(bars.high, bars.low, bars.close), cci_ref(bars.high, bars.low, bars.close), bars=50)


def test_williams_r_matches_rolling_window_reference(bars):
    actual = ind.williams_r(bars.high, bars.low, bars.close)
    assert_tail_close(actual, williams_ref(bars.high, bars.low, bars.close), bars=50)


def test_atr_matches_wilder_reference(bars):
    assert_tail_close(ind.atr(bars.high, bars.low, bars.close), wilder_atr(bars.high, bars.low, bars.close), bars=50)


def test_bollinger_bands_match_population_deviation_reference(bars):
    for got, want in zip(ind.bollinger(bars.close), bollinger_ref(bars.close), strict=True):
        assert_tail_close(got, want, bars=50)


def test_obv_changes_match_signed_volume_reference(bars):
    # TA-Lib starts OBV at the first bar's volume, others at 0: compare what votes use, the changes.
    actual = ind.obv(bars.close, bars.volume)
    expected = obv_ref(bars.close, bars.volume)
    np.testing.assert_allclose(actual - actual[0], expected, rtol=0, atol=1e-6)


def test_cmf_matches_rolling_sum_reference(bars):
    actual = ind.cmf(bars.high, bars.low, bars.close, bars.volume)
    assert_tail_close(actual, cmf_ref(bars.high, bars.low, bars.close, bars.volume), bars=50, rel=1e-9)
    assert np.isnan(actual[:19]).all() and not np.isnan(actual[19:]).any()


# --- vote rules at their boundaries -----------------------------------------------------------


@pytest.mark.parametrize(
    "vote_function, value, expected_vote",
    [
        (ind.vote_rsi, 29.9, 1),
        (ind.vote_rsi, 30.0, 0),
        (ind.vote_rsi, 70.0, 0),
        (ind.vote_rsi, 70.1, -1),
        (ind.vote_stochastic, 19.9, 1),
        (ind.vote_stochastic, 20.0, 0),
        (ind.vote_stochastic, 80.0, 0),
        (ind.vote_stochastic, 80.1, -1),
        (ind.vote_cci, -100.1, 1),
        (ind.vote_cci, -100.0, 0),
        (ind.vote_cci, 100.0, 0),
        (ind.vote_cci, 100.1, -1),
        (ind.vote_williams, -80.1, 1),
        (ind.vote_williams, -80.0, 0),
        (ind.vote_williams, -20.0, 0),
        (ind.vote_williams, -19.9, -1),
        (ind.vote_bollinger, -0.01, 1),
        (ind.vote_bollinger, 0.0, 0),
        (ind.vote_bollinger, 1.0, 0),
        (ind.vote_bollinger, 1.01, -1),
        (ind.vote_cmf, 0.001, 1),
        (ind.vote_cmf, 0.0, 0),
        (ind.vote_cmf, -0.001, -1),
    ],
)
def test_threshold_votes_switch_strictly_beyond_the_threshold(vote_function, value, expected_vote):
    assert vote_function(value)[0] == expected_vote


@pytest.mark.parametrize(
    "value, expected",
    [
        (50.0, (0, 0.5)),  # middle of the band: clearly neutral
        (40.0, (0, 0.25)),
        (30.0, (0, 0.0)),  # on the threshold: neutral, no weight either way
        (20.0, (1, 0.75)),  # 10 of the 20 points to full confidence
        (10.0, (1, 1.0)),
        (2.0, (1, 1.0)),  # capped
        (80.0, (-1, 0.75)),
    ],
)
def test_rsi_confidence_follows_the_band_rule(value, expected):
    vote, confidence = ind.vote_rsi(value)
    assert (vote, confidence) == (expected[0], pytest.approx(expected[1]))


def test_cci_confidence_reaches_full_at_two_hundred():
    assert ind.vote_cci(-150.0) == (1, pytest.approx(0.75))
    assert ind.vote_cci(250.0) == (-1, 1.0)
    assert ind.vote_cci(0.0) == (0, 0.5)


def test_macd_votes_by_histogram_sign_with_confidence_in_half_atrs():
    assert ind.vote_macd(0.25, 1.0) == (1, 0.5)
    assert ind.vote_macd(-2.0, 1.0) == (-1, 1.0)
    assert ind.vote_macd(0.0, 1.0) == (0, 0.0)
    assert ind.vote_macd(0.0, 0.0) == (0, 0.0)  # flat prices: no ATR, no division by zero


def test_adx_votes_by_directional_indicators_and_scales_confidence_by_adx():
    assert ind.vote_adx(25.0, 30.0, 20.0) == (1, pytest.approx(0.5))
    assert ind.vote_adx(45.0, 10.0, 20.0) == (-1, 1.0)
    assert ind.vote_adx(8.0, 20.0, 10.0) == (1, 0.0)  # no trend: the vote carries no weight
    assert ind.vote_adx(30.0, 15.0, 15.0)[0] == 0


def test_ema_votes_by_the_sign_of_the_gap_with_ten_percent_full():
    assert ind.vote_ema(105.0, 100.0) == (1, pytest.approx(0.5))
    assert ind.vote_ema(80.0, 100.0) == (-1, 1.0)
    assert ind.vote_ema(100.0, 100.0) == (0, 0.0)


def test_psar_votes_by_price_against_sar_with_three_atrs_full():
    assert ind.vote_psar(103.0, 100.0, 2.0) == (1, pytest.approx(0.5))
    assert ind.vote_psar(90.0, 100.0, 2.0) == (-1, 1.0)


def test_atr_never_votes_and_its_confidence_grows_with_volatility():
    assert ind.vote_atr(1.0) == (0, 0.25)
    assert ind.vote_atr(6.0) == (0, 1.0)


@pytest.mark.parametrize(
    "obv_change, price_change, expected_vote",
    [(500.0, 2.0, 1), (-500.0, -2.0, -1), (500.0, -2.0, 0), (-500.0, 2.0, 0), (0.0, 2.0, 0)],
)
def test_obv_votes_only_when_it_confirms_price(obv_change, price_change, expected_vote):
    vote, confidence = ind.vote_obv(obv_change, price_change, window_volume=2000.0)
    assert vote == expected_vote
    assert confidence == pytest.approx(abs(obv_change) / 2000.0)


# --- readings -----------------------------------------------------------------------------------


def test_readings_cover_the_twelve_indicators_in_order_with_their_categories():
    readings = ind.compute_readings(synthetic_history(1))
    assert [reading["name"] for reading in readings] == list(ind.INDICATOR_NAMES)
    assert [reading["category"] for reading in readings] == [
        "trend", "trend", "trend", "trend", "momentum", "momentum", "momentum", "momentum",
        "volatility", "volatility", "volume", "volume",
    ]  # fmt: skip
    for reading in readings:
        assert set(reading) == {"name", "category", "value", "vote", "confidence", "rule", "details"}
        assert reading["vote"] in (-1, 0, 1)
        assert 0.0 <= reading["confidence"] <= 1.0
        assert reading["rule"].endswith({1: "buy", 0: "no vote", -1: "sell"}[reading["vote"]])


def test_readings_are_plain_json_without_numpy_types_or_nan():
    readings = ind.compute_readings(synthetic_history(2))
    json.dumps(readings, allow_nan=False)

    def plain(value):
        if isinstance(value, dict):
            return all(plain(item) for item in value.values())
        return value is None or type(value) in (str, int, float)

    assert all(plain(reading) for reading in readings)


def test_readings_report_the_last_values_of_the_series():
    bars = synthetic_history(4)
    by_name = {reading["name"]: reading for reading in ind.compute_readings(bars)}
    assert by_name["rsi"]["value"] == round(float(ind.rsi(bars.close)[-1]), 4)
    assert by_name["macd"]["details"]["hist"] == round(float(ind.macd(bars.close)[2][-1]), 4)
    assert by_name["ema"]["details"]["ema200"] == round(float(ind.ema(bars.close, 200)[-1]), 4)
    upper, _, lower = ind.bollinger(bars.close)
    assert by_name["bollinger"]["details"]["upper"] == round(float(upper[-1]), 4)
    expected_b = (bars.close[-1] - lower[-1]) / (upper[-1] - lower[-1])
    assert by_name["bollinger"]["value"] == round(float(expected_b), 4)
    assert by_name["atr"]["vote"] == 0


def test_ema_reading_counts_bars_since_the_last_crossover():
    # 300 bars falling then 100 rising: EMA50 crosses above EMA200 once, somewhere in the rise.
    close = np.concatenate((np.linspace(200, 100, 300), np.linspace(100, 180, 100)))
    bars = PriceHistory("X.NS", "demo", np.datetime64("2024-01-01") + np.arange(400),
                        close, close * 1.01, close * 0.99, close, np.full(400, 1e5))  # fmt: skip
    ema_reading = ind.compute_readings(bars)[2]
    gap = ind.ema(close, 50) - ind.ema(close, 200)
    first_above = int(np.flatnonzero(gap > 0)[0])
    assert ema_reading["vote"] == 1
    assert ema_reading["details"]["bars_since_cross"] == 399 - first_above


def test_too_few_bars_raise_a_permanent_market_data_error(reliance):
    with pytest.raises(MarketDataError, match="needs at least 250 daily bars, got 80") as error:
        ind.compute_readings(reliance)
    assert error.value.permanent is True


def test_an_undefined_last_value_raises_instead_of_being_analysed():
    bars = synthetic_history(5, bars=300)
    bars.close[-1] = np.nan  # what a corrupt source could hand over; PriceHistory itself does not check
    with pytest.raises(MarketDataError, match="undefined at the last bar") as error:
        ind.compute_readings(bars)
    assert error.value.permanent is True


def test_flat_prices_read_as_neutral_rather_than_talibs_zeros():
    close = np.full(300, 50.0)
    bars = PriceHistory("FLAT.NS", "demo", np.datetime64("2024-01-01") + np.arange(300),
                        close, close, close, close, np.zeros(300))  # fmt: skip
    by_name = {reading["name"]: reading for reading in ind.compute_readings(bars)}
    assert by_name["rsi"]["value"] == 50.0
    assert by_name["stochastic"]["value"] == 50.0
    assert by_name["williams"]["value"] == -50.0
    assert by_name["bollinger"]["value"] == 0.5
    assert by_name["cmf"]["value"] == 0.0
    assert all(reading["vote"] == 0 for reading in by_name.values())
    assert all(math.isfinite(reading["confidence"]) for reading in by_name.values())
