"""Twelve technical indicators over daily bars, each turned into a vote with a stated rule.

Pure functions over numpy arrays: no ORM, no settings. Values come from TA-Lib (textbook
definitions, Wilder smoothing where Wilder defined it); Chaikin Money Flow, which TA-Lib lacks,
is a few lines of numpy.

Three layers:

* series functions (`rsi(close)`, `macd(close)`, ...) return full numpy arrays with TheTool's
  parameters, NaN during each indicator's warm-up;
* vote functions (`vote_rsi(value)`, ...) turn last values into `(vote, confidence)`;
* `compute_readings(history)` returns one JSON-ready reading per indicator:
  `{name, category, value, vote, confidence, rule, details}`.

Votes are +1 (buy), 0 (no opinion), -1 (sell). Confidence (0..1) says how strongly the reading
supports its vote; a neutral reading's confidence says how clearly neutral it is, because the
score divides by the sum of confidences (see `stocks.analysis.score_readings`) and a clearly
neutral indicator should pull the score towards Hold.

Vote and confidence rules (the README carries the same rules as a table):

  name        value                      vote (+1 buy, -1 sell, else 0)      confidence
  macd        histogram 12/26/9          hist > 0 / hist < 0                 min(1, |hist| / (0.5 x ATR14))
  adx         ADX 14                     DI+ > DI- / DI- > DI+               clamp((ADX - 10) / 30, 0, 1)
  ema         EMA50 - EMA200, % of 200   EMA50 > EMA200 / EMA50 < EMA200     min(1, |gap %| / 10)
  psar        SAR 0.02/0.02/0.2          close > SAR / close < SAR           min(1, |close - SAR| / (3 x ATR14))
  rsi         RSI 14                     RSI < 30 / RSI > 70                 band rule, full 20 points beyond
  stochastic  slow %K 14/3/3             %K < 20 / %K > 80                   band rule, full 20 points beyond
  cci         CCI 20                     CCI < -100 / CCI > 100              band rule, full 100 points beyond
  williams    Williams %R 14             %R < -80 / %R > -20                 band rule, full 20 points beyond
  bollinger   %B of bands 20/2           close < lower / close > upper       band rule on %B, full 0.25 beyond
  atr         ATR 14                     never votes (it sizes stops)        min(1, ATR as % of close / 4)
  obv         OBV                        OBV and close both up / both down   |OBV change| / volume, 20 bars
                                         over 20 bars (else no confirmation)
  cmf         CMF 20                     CMF > 0 / CMF < 0                   min(1, |CMF| / 0.25)

Band rule (oscillators and Bollinger %B): beyond a threshold the vote is +/-1 with confidence
0.5 + 0.5 x min(1, depth beyond the threshold / full-confidence depth); inside the band the vote is
0 with confidence 0.5 x min(1, distance to the nearer threshold / half the band's width). A reading
exactly on a threshold is neutral with confidence 0; crossing it is the event, hence the jump to 0.5.

Degenerate inputs have fixed, documented readings instead of TA-Lib's zeros: a window with no
price range makes %K 50, %R -50 and %B 0.5 (neutral), a history whose close never moved makes
RSI 50, and 20 bars without volume make CMF 0.
"""

import math

import numpy as np
import talib

from stocks.bars import MarketDataError, PriceHistory

# EMA 200 needs its warm-up plus enough bars for its SMA seed to wash out (FIELD-NOTES: fetch ~500).
MIN_BARS = 250

INDICATOR_NAMES = (
    "macd", "adx", "ema", "psar", "rsi", "stochastic", "cci", "williams", "bollinger", "atr", "obv", "cmf",
)  # fmt: skip
CATEGORIES = {
    "macd": "trend",
    "adx": "trend",
    "ema": "trend",
    "psar": "trend",
    "rsi": "momentum",
    "stochastic": "momentum",
    "cci": "momentum",
    "williams": "momentum",
    "bollinger": "volatility",
    "atr": "volatility",
    "obv": "volume",
    "cmf": "volume",
}
CATEGORY_NAMES = ("trend", "momentum", "volatility", "volume")

RSI_PERIOD = 14
MACD_FAST, MACD_SLOW, MACD_SIGNAL = 12, 26, 9
ADX_PERIOD = 14
PSAR_ACCELERATION, PSAR_MAXIMUM = 0.02, 0.2  # start 0.02, step 0.02, cap 0.2 (Wilder)
EMA_FAST, EMA_SLOW = 50, 200
STOCH_K, STOCH_SLOW_K, STOCH_D = 14, 3, 3
CCI_PERIOD = 20
WILLIAMS_PERIOD = 14
ATR_PERIOD = 14
BB_PERIOD, BB_DEVIATIONS = 20, 2.0
CMF_PERIOD = 20
OBV_WINDOW = 20

Vote = tuple[int, float]  # (vote, confidence)


# ---------------------------------------------------------------------------------------------
# Series: full arrays, NaN during warm-up
# ---------------------------------------------------------------------------------------------


def rsi(close: np.ndarray, period: int = RSI_PERIOD) -> np.ndarray:
    """Wilder's RSI: SMA-seeded averages of gains and losses, then Wilder smoothing (alpha 1/period)."""
    return talib.RSI(close, timeperiod=period)


def macd(close: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """MACD 12/26/9: (EMA12 - EMA26, its EMA9 signal, histogram = macd - signal)."""
    return talib.MACD(close, fastperiod=MACD_FAST, slowperiod=MACD_SLOW, signalperiod=MACD_SIGNAL)


def adx(high: np.ndarray, low: np.ndarray, close: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Wilder's ADX 14 with its directional indicators: (adx, di_plus, di_minus)."""
    return (
        talib.ADX(high, low, close, timeperiod=ADX_PERIOD),
        talib.PLUS_DI(high, low, close, timeperiod=ADX_PERIOD),
        talib.MINUS_DI(high, low, close, timeperiod=ADX_PERIOD),
    )


def psar(high: np.ndarray, low: np.ndarray) -> np.ndarray:
    """Wilder's Parabolic SAR: acceleration starts at 0.02, grows by 0.02 per new extreme, capped at 0.2."""
    return talib.SAR(high, low, acceleration=PSAR_ACCELERATION, maximum=PSAR_MAXIMUM)


def ema(close: np.ndarray, period: int) -> np.ndarray:
    """Exponential moving average (alpha 2/(period+1)) seeded with the SMA of the first `period` closes."""
    return talib.EMA(close, timeperiod=period)


def stochastic(high: np.ndarray, low: np.ndarray, close: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Slow stochastic 14/3/3: (%K = SMA3 of the raw 14-bar %K, %D = SMA3 of %K)."""
    return talib.STOCH(
        high, low, close,
        fastk_period=STOCH_K, slowk_period=STOCH_SLOW_K, slowk_matype=0, slowd_period=STOCH_D, slowd_matype=0,
    )  # fmt: skip


def cci(high: np.ndarray, low: np.ndarray, close: np.ndarray) -> np.ndarray:
    """Lambert's CCI 20: (typical price - its SMA20) / (0.015 x mean absolute deviation)."""
    return talib.CCI(high, low, close, timeperiod=CCI_PERIOD)


def williams_r(high: np.ndarray, low: np.ndarray, close: np.ndarray) -> np.ndarray:
    """Williams %R 14: -100 x (highest high - close) / (highest high - lowest low), in -100..0."""
    return talib.WILLR(high, low, close, timeperiod=WILLIAMS_PERIOD)


def atr(high: np.ndarray, low: np.ndarray, close: np.ndarray) -> np.ndarray:
    """Wilder's Average True Range 14."""
    return talib.ATR(high, low, close, timeperiod=ATR_PERIOD)


def bollinger(close: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Bollinger Bands 20/2: (upper, middle = SMA20, lower), population standard deviation as Bollinger uses."""
    return talib.BBANDS(close, timeperiod=BB_PERIOD, nbdevup=BB_DEVIATIONS, nbdevdn=BB_DEVIATIONS, matype=0)


def obv(close: np.ndarray, volume: np.ndarray) -> np.ndarray:
    """On-Balance Volume: running sum of volume signed by the close's direction (TA-Lib starts at volume[0])."""
    return talib.OBV(close, volume)


def cmf(
    high: np.ndarray, low: np.ndarray, close: np.ndarray, volume: np.ndarray, period: int = CMF_PERIOD
) -> np.ndarray:
    """Chaikin Money Flow: sum(MFM x V, period) / sum(V, period), MFM = ((C-L) - (H-C)) / (H-L).

    MFM is 0 on a bar with H == L (no range, no pressure either way), and CMF is 0 over a window
    without volume (no money flowed), instead of dividing by zero. NaN before `period` bars.
    """
    price_range = high - low
    with np.errstate(divide="ignore", invalid="ignore"):
        multiplier = np.where(price_range > 0, ((close - low) - (high - close)) / price_range, 0.0)
    flow_sums = _rolling_sum(multiplier * volume, period)
    volume_sums = _rolling_sum(volume, period)
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(volume_sums > 0, flow_sums / volume_sums, np.where(np.isnan(volume_sums), np.nan, 0.0))


def _rolling_sum(values: np.ndarray, period: int) -> np.ndarray:
    """Sum of each trailing window of `period` values, NaN before the first full window."""
    out = np.full(len(values), np.nan)
    if len(values) >= period:
        cumulative = np.concatenate(([0.0], np.cumsum(values)))
        out[period - 1 :] = cumulative[period:] - cumulative[:-period]
    return out


# ---------------------------------------------------------------------------------------------
# Votes: values -> (vote, confidence), element-wise over whole arrays
# ---------------------------------------------------------------------------------------------
# Each `votes_*` function takes arrays (one value per day) and returns (votes, confidences) arrays;
# each `vote_*` function is the same rule on one value. Live analysis reads the last day of these
# arrays and the backtest (`stocks.backtest`) every day, so both run one code path.

Votes = tuple[np.ndarray, np.ndarray]  # (votes in -1/0/1, confidences in 0..1)


def band_votes(values: np.ndarray, *, buy_below: float, sell_above: float, full_at: float) -> Votes:
    """The band rule shared by the oscillators and Bollinger %B (see the module docstring).

    Strictly below `buy_below` buys, strictly above `sell_above` sells; `full_at` is how far
    beyond a threshold the confidence reaches 1.
    """
    values = np.asarray(values, dtype=float)
    half_band = (sell_above - buy_below) / 2
    nearer = np.minimum(values - buy_below, sell_above - values)
    votes = np.where(values < buy_below, 1, np.where(values > sell_above, -1, 0))
    confidences = np.where(
        values < buy_below,
        0.5 + 0.5 * np.minimum(1.0, (buy_below - values) / full_at),
        np.where(
            values > sell_above,
            0.5 + 0.5 * np.minimum(1.0, (values - sell_above) / full_at),
            0.5 * np.minimum(1.0, nearer / half_band),
        ),
    )
    return votes, confidences


def votes_rsi(values: np.ndarray) -> Votes:
    return band_votes(values, buy_below=30.0, sell_above=70.0, full_at=20.0)


def votes_stochastic(percent_k: np.ndarray) -> Votes:
    return band_votes(percent_k, buy_below=20.0, sell_above=80.0, full_at=20.0)


def votes_cci(values: np.ndarray) -> Votes:
    return band_votes(values, buy_below=-100.0, sell_above=100.0, full_at=100.0)


def votes_williams(percent_r: np.ndarray) -> Votes:
    return band_votes(percent_r, buy_below=-80.0, sell_above=-20.0, full_at=20.0)


def votes_bollinger(percent_b: np.ndarray) -> Votes:
    """%B < 0 is a close below the lower band, %B > 1 above the upper band."""
    return band_votes(percent_b, buy_below=0.0, sell_above=1.0, full_at=0.25)


def votes_macd(hist: np.ndarray, atr_values: np.ndarray) -> Votes:
    """The histogram's sign votes; its size in ATRs is the confidence (half an ATR is full)."""
    hist = np.asarray(hist, dtype=float)
    return np.sign(hist).astype(int), _ratios(np.abs(hist), 0.5 * np.asarray(atr_values, dtype=float))


def votes_adx(adx_values: np.ndarray, di_plus: np.ndarray, di_minus: np.ndarray) -> Votes:
    """DI+ vs DI- votes; ADX says whether there is a trend at all: <= 10 none (0), >= 40 strong (1)."""
    spread = np.asarray(di_plus, dtype=float) - np.asarray(di_minus, dtype=float)
    return np.sign(spread).astype(int), np.minimum(1.0, np.maximum(0.0, (np.asarray(adx_values) - 10.0) / 30.0))


def votes_ema(ema_fast: np.ndarray, ema_slow: np.ndarray) -> Votes:
    """EMA50 above EMA200 buys; a 10% gap between them is full confidence."""
    gap_percent = ema_gap_percent(ema_fast, ema_slow)
    return np.sign(gap_percent).astype(int), np.minimum(1.0, np.abs(gap_percent) / 10.0)


def ema_gap_percent(ema_fast, ema_slow):
    return (ema_fast - ema_slow) / ema_slow * 100.0


def votes_psar(close: np.ndarray, sar: np.ndarray, atr_values: np.ndarray) -> Votes:
    """Close above the SAR buys; three ATRs of distance from the SAR is full confidence."""
    distance = np.asarray(close, dtype=float) - np.asarray(sar, dtype=float)
    return np.sign(distance).astype(int), _ratios(np.abs(distance), 3.0 * np.asarray(atr_values, dtype=float))


def votes_atr(atr_percent: np.ndarray) -> Votes:
    """ATR never votes. Its confidence grows with volatility (4% of price is full), so in the score's
    denominator a volatile stock's other votes count for less: ATR damps conviction."""
    atr_percent = np.asarray(atr_percent, dtype=float)
    return np.zeros(atr_percent.shape, dtype=int), np.minimum(1.0, atr_percent / 4.0)


def votes_obv(obv_change: np.ndarray, price_change: np.ndarray, window_volume: np.ndarray) -> Votes:
    """OBV confirming price: both up buys, both down sells, disagreement (or no change) is neutral.

    Confidence is the share of the window's volume that moved OBV one way: |OBV change| can never
    exceed the volume traded, so it lies in 0..1 without a tuning constant.
    """
    direction = np.sign(np.asarray(obv_change, dtype=float)).astype(int)
    votes = np.where(direction == np.sign(np.asarray(price_change, dtype=float)), direction, 0)
    return votes, _ratios(np.abs(obv_change), np.asarray(window_volume, dtype=float))


def votes_cmf(values: np.ndarray) -> Votes:
    """CMF's sign votes (buying vs selling pressure); 0.25 is full confidence."""
    values = np.asarray(values, dtype=float)
    return np.sign(values).astype(int), np.minimum(1.0, np.abs(values) / 0.25)


def _ratios(numerators: np.ndarray, denominators: np.ndarray) -> np.ndarray:
    """min(1, numerator / denominator), 0 where the denominator is 0 (nothing moved)."""
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(denominators > 0, np.minimum(1.0, numerators / denominators), 0.0)


def _one(votes_function, *values: float) -> Vote:
    """A `votes_*` rule applied to single values: (int vote, float confidence)."""
    votes, confidences = votes_function(*(np.asarray([value], dtype=float) for value in values))
    return int(votes[0]), float(confidences[0])


def band_vote(value: float, *, buy_below: float, sell_above: float, full_at: float) -> Vote:
    return _one(lambda v: band_votes(v, buy_below=buy_below, sell_above=sell_above, full_at=full_at), value)


def vote_rsi(value: float) -> Vote:
    return _one(votes_rsi, value)


def vote_stochastic(percent_k: float) -> Vote:
    return _one(votes_stochastic, percent_k)


def vote_cci(value: float) -> Vote:
    return _one(votes_cci, value)


def vote_williams(percent_r: float) -> Vote:
    return _one(votes_williams, percent_r)


def vote_bollinger(percent_b: float) -> Vote:
    return _one(votes_bollinger, percent_b)


def vote_macd(hist: float, atr_value: float) -> Vote:
    return _one(votes_macd, hist, atr_value)


def vote_adx(adx_value: float, di_plus: float, di_minus: float) -> Vote:
    return _one(votes_adx, adx_value, di_plus, di_minus)


def vote_ema(ema_fast: float, ema_slow: float) -> Vote:
    return _one(votes_ema, ema_fast, ema_slow)


def vote_psar(close: float, sar: float, atr_value: float) -> Vote:
    return _one(votes_psar, close, sar, atr_value)


def vote_atr(atr_percent: float) -> Vote:
    return _one(votes_atr, atr_percent)


def vote_obv(obv_change: float, price_change: float, window_volume: float) -> Vote:
    return _one(votes_obv, obv_change, price_change, window_volume)


def vote_cmf(value: float) -> Vote:
    return _one(votes_cmf, value)


# ---------------------------------------------------------------------------------------------
# Readings
# ---------------------------------------------------------------------------------------------

_VERBS = {1: "buy", 0: "no vote", -1: "sell"}


def compute_series(history: PriceHistory) -> dict[str, np.ndarray]:
    """Every value the votes read, one array per name, one element per bar (NaN while undefined).

    Each element depends only on the bars up to its own day (TA-Lib's recursions run forwards, the
    windows trail), so element t is what live analysis of the first t + 1 bars would read. The
    degenerate cases of the module docstring are applied element-wise.
    """
    high, low, close, volume = history.high, history.low, history.close, history.volume
    series = {"close": close, "atr": atr(high, low, close)}
    series["macd"], series["macd_signal"], series["macd_hist"] = macd(close)
    series["adx"], series["di_plus"], series["di_minus"] = adx(high, low, close)
    series["ema50"], series["ema200"] = ema(close, EMA_FAST), ema(close, EMA_SLOW)
    series["sar"] = psar(high, low)
    # TA-Lib answers 0 when nothing ever moved; textbook RSI is undefined there, so read it as neutral.
    never_moved = np.minimum.accumulate(close) == np.maximum.accumulate(close)
    series["rsi"] = np.where(never_moved, 50.0, rsi(close))
    # A slow %K reads the raw %K of the last 3 windows of 14 bars; TA-Lib says 0 when they had no range.
    slow_k, slow_d = stochastic(high, low, close)
    flat_k = _no_range_series(high, low, STOCH_K + STOCH_SLOW_K - 1)
    series["stoch_k"], series["stoch_d"] = np.where(flat_k, 50.0, slow_k), np.where(flat_k, 50.0, slow_d)
    series["cci"] = cci(high, low, close)
    # TA-Lib says 0 (overbought) when the window had no range: neutral instead.
    series["williams_r"] = np.where(_no_range_series(high, low, WILLIAMS_PERIOD), -50.0, williams_r(high, low, close))
    upper, middle, lower = bollinger(close)
    width = upper - lower
    with np.errstate(divide="ignore", invalid="ignore"):
        series["percent_b"] = np.where(width > 0, (close - lower) / width, np.where(np.isnan(width), np.nan, 0.5))
    series["bb_upper"], series["bb_middle"], series["bb_lower"] = upper, middle, lower
    series["obv"] = obv(close, volume)
    series["obv_change"] = _change(series["obv"], OBV_WINDOW)
    series["price_change"] = _change(close, OBV_WINDOW)
    series["window_volume"] = _rolling_sum(volume, OBV_WINDOW)
    series["cmf"] = cmf(high, low, close, volume)
    return series


def _no_range_series(high: np.ndarray, low: np.ndarray, bars: int) -> np.ndarray:
    """True where the trailing `bars` bars (fewer at the start) had no price range at all."""
    highest = talib.MAX(high, timeperiod=bars)
    lowest = talib.MIN(low, timeperiod=bars)
    head = min(bars - 1, len(high))
    highest[:head] = np.maximum.accumulate(high[:head])
    lowest[:head] = np.minimum.accumulate(low[:head])
    return highest == lowest


def _change(values: np.ndarray, bars: int) -> np.ndarray:
    out = np.full(len(values), np.nan)
    out[bars:] = values[bars:] - values[:-bars]
    return out


# The values each indicator's reading must have defined on a day (else that day has no verdict).
REQUIRED_SERIES = {
    "macd": ("macd", "macd_signal", "macd_hist"),
    "adx": ("adx", "di_plus", "di_minus"),
    "ema": ("ema50", "ema200"),
    "psar": ("sar",),
    "rsi": ("rsi",),
    "stochastic": ("stoch_k", "stoch_d"),
    "cci": ("cci",),
    "williams": ("williams_r",),
    "bollinger": ("bb_upper", "bb_middle", "bb_lower"),
    "atr": ("atr",),
    "obv": ("obv",),
    "cmf": ("cmf",),
}


def compute_vote_table(series: dict[str, np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
    """(votes, confidences), each of shape (12 indicators in INDICATOR_NAMES order, days).

    Confidences are rounded to 4 places, the precision readings store and the score reads.
    """
    atr_values, close = series["atr"], series["close"]
    with np.errstate(divide="ignore", invalid="ignore"):
        pairs = (
            votes_macd(series["macd_hist"], atr_values),
            votes_adx(series["adx"], series["di_plus"], series["di_minus"]),
            votes_ema(series["ema50"], series["ema200"]),
            votes_psar(close, series["sar"], atr_values),
            votes_rsi(series["rsi"]),
            votes_stochastic(series["stoch_k"]),
            votes_cci(series["cci"]),
            votes_williams(series["williams_r"]),
            votes_bollinger(series["percent_b"]),
            votes_atr(atr_values / close * 100.0),
            votes_obv(series["obv_change"], series["price_change"], series["window_volume"]),
            votes_cmf(series["cmf"]),
        )
    votes = np.stack([pair[0] for pair in pairs])
    confidences = np.round(np.stack([pair[1] for pair in pairs]), 4)
    return votes, confidences


def defined_days(series: dict[str, np.ndarray]) -> np.ndarray:
    """True on each day where every value a reading needs is a finite number and MIN_BARS bars exist."""
    ok = np.ones(len(series["close"]), dtype=bool)
    for names in REQUIRED_SERIES.values():
        for name in names:
            ok &= np.isfinite(series[name])
    ok[: MIN_BARS - 1] = False
    return ok


def compute_readings(history: PriceHistory) -> list[dict]:
    """One reading per indicator, in `INDICATOR_NAMES` order, from the last bar of `history`.

    The votes and confidences are the last column of `compute_vote_table`, the one the backtest
    reads for every day. Raises MarketDataError(permanent=True) with fewer than MIN_BARS bars, or
    when an indicator's last value is not a finite number (never analysed silently).
    """
    require_bars(history)
    series = compute_series(history)
    for name, names in REQUIRED_SERIES.items():
        for series_name in names:
            _last(series[series_name], name, history)
    votes, confidences = compute_vote_table({key: values[-1:] for key, values in series.items()})
    last = {key: float(values[-1]) for key, values in series.items()}
    builders = (
        _macd_reading, _adx_reading, _ema_reading, _psar_reading, _rsi_reading, _stochastic_reading,
        _cci_reading, _williams_reading, _bollinger_reading, _atr_reading, _obv_reading, _cmf_reading,
    )  # fmt: skip
    readings = []
    for index, builder in enumerate(builders):
        vote = (int(votes[index, 0]), float(confidences[index, 0]))
        readings.append(builder(last, vote, series))
    return readings


def require_bars(history: PriceHistory) -> None:
    if len(history) < MIN_BARS:
        raise MarketDataError(
            f"{history.symbol}: needs at least {MIN_BARS} daily bars, got {len(history)}", permanent=True
        )


def _last(series: np.ndarray, name: str, history: PriceHistory) -> float:
    value = float(series[-1])
    if not math.isfinite(value):
        raise MarketDataError(
            f"{history.symbol}: {name} is undefined at the last bar ({history.dates[-1]})", permanent=True
        )
    return value


def _reading(name: str, value: float, vote: Vote, rule: str, details: dict) -> dict:
    return {
        "name": name,
        "category": CATEGORIES[name],
        "value": _round(value),
        "vote": vote[0],
        "confidence": vote[1],
        "rule": f"{rule} -> {_VERBS[vote[0]]}",
        "details": details,
    }


def _round(value: float) -> float:
    return round(float(value), 4)


def _macd_reading(last: dict, vote: Vote, series: dict) -> dict:
    line, signal, hist = last["macd"], last["macd_signal"], last["macd_hist"]
    rule = f"buy when the MACD histogram > 0, sell when < 0; histogram {hist:.4f}"
    details = {"macd": _round(line), "signal": _round(signal), "hist": _round(hist)}
    return _reading("macd", hist, vote, rule, details)


def _adx_reading(last: dict, vote: Vote, series: dict) -> dict:
    adx_value, di_plus, di_minus = last["adx"], last["di_plus"], last["di_minus"]
    rule = (
        f"buy when DI+ > DI-, sell when DI- > DI+, confidence from ADX strength; "
        f"DI+ {di_plus:.2f}, DI- {di_minus:.2f}, ADX {adx_value:.2f}"
    )
    details = {"adx": _round(adx_value), "di_plus": _round(di_plus), "di_minus": _round(di_minus)}
    return _reading("adx", adx_value, vote, rule, details)


def _ema_reading(last: dict, vote: Vote, series: dict) -> dict:
    fast, slow = last["ema50"], last["ema200"]
    gap_percent = ema_gap_percent(fast, slow)
    rule = f"buy when EMA50 > EMA200, sell when below; EMA50 {fast:.2f}, EMA200 {slow:.2f} ({gap_percent:+.2f}%)"
    details = {
        "ema50": _round(fast),
        "ema200": _round(slow),
        "bars_since_cross": _bars_since_cross(series["ema50"] - series["ema200"]),
    }
    return _reading("ema", gap_percent, vote, rule, details)


def _bars_since_cross(gap: np.ndarray) -> int | None:
    """Bars since EMA50 - EMA200 last changed sign, None if it never did while both were defined."""
    signs = np.sign(gap[~np.isnan(gap)])
    changes = np.flatnonzero(signs[1:] != signs[:-1])
    return int(len(signs) - 1 - (changes[-1] + 1)) if len(changes) else None


def _psar_reading(last: dict, vote: Vote, series: dict) -> dict:
    sar, last_close = last["sar"], last["close"]
    rule = f"buy when close > SAR, sell when close < SAR; close {last_close:.2f}, SAR {sar:.2f}"
    details = {"sar": _round(sar), "close": _round(last_close)}
    return _reading("psar", sar, vote, rule, details)


def _rsi_reading(last: dict, vote: Vote, series: dict) -> dict:
    value = last["rsi"]
    rule = f"buy when RSI(14) < 30, sell when > 70; RSI {value:.2f}"
    return _reading("rsi", value, vote, rule, {"rsi": _round(value)})


def _stochastic_reading(last: dict, vote: Vote, series: dict) -> dict:
    k, d = last["stoch_k"], last["stoch_d"]
    rule = f"buy when %K(14,3,3) < 20, sell when > 80; %K {k:.2f}, %D {d:.2f}"
    return _reading("stochastic", k, vote, rule, {"k": _round(k), "d": _round(d)})


def _cci_reading(last: dict, vote: Vote, series: dict) -> dict:
    value = last["cci"]
    rule = f"buy when CCI(20) < -100, sell when > 100; CCI {value:.2f}"
    return _reading("cci", value, vote, rule, {"cci": _round(value)})


def _williams_reading(last: dict, vote: Vote, series: dict) -> dict:
    value = last["williams_r"]
    rule = f"buy when Williams %R(14) < -80, sell when > -20; %R {value:.2f}"
    return _reading("williams", value, vote, rule, {"williams_r": _round(value)})


def _bollinger_reading(last: dict, vote: Vote, series: dict) -> dict:
    upper, middle, lower = last["bb_upper"], last["bb_middle"], last["bb_lower"]
    last_close, percent_b = last["close"], last["percent_b"]
    width = upper - lower
    rule = (
        f"buy when close < lower band, sell when close > upper band (20, 2); "
        f"close {last_close:.2f}, bands {lower:.2f}..{upper:.2f}, %B {percent_b:.2f}"
    )
    details = {
        "upper": _round(upper),
        "middle": _round(middle),
        "lower": _round(lower),
        "percent_b": _round(percent_b),
        "bandwidth": _round(width / middle) if middle else 0.0,
    }
    return _reading("bollinger", percent_b, vote, rule, details)


def _atr_reading(last: dict, vote: Vote, series: dict) -> dict:
    atr_value = last["atr"]
    atr_percent = atr_value / last["close"] * 100.0
    rule = f"ATR(14) never votes; it sets stops and damps conviction when volatile; ATR {atr_percent:.2f}% of close"
    details = {"atr": _round(atr_value), "atr_percent": _round(atr_percent)}
    return _reading("atr", atr_value, vote, rule, details)


def _obv_reading(last: dict, vote: Vote, series: dict) -> dict:
    obv_change, price_change = last["obv_change"], last["price_change"]
    rule = (
        f"buy when OBV and close both rose over {OBV_WINDOW} bars, sell when both fell, else no vote; "
        f"OBV change {obv_change:+.0f}, close change {price_change:+.2f}"
    )
    details = {"obv": _round(last["obv"]), "obv_change": _round(obv_change), "price_change": _round(price_change)}
    return _reading("obv", last["obv"], vote, rule, details)


def _cmf_reading(last: dict, vote: Vote, series: dict) -> dict:
    value = last["cmf"]
    rule = f"buy when CMF(20) > 0, sell when < 0; CMF {value:.4f}"
    return _reading("cmf", value, vote, rule, {"cmf": _round(value)})
