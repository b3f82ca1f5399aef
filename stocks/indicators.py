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
# Votes: last values -> (vote, confidence)
# ---------------------------------------------------------------------------------------------


def band_vote(value: float, *, buy_below: float, sell_above: float, full_at: float) -> Vote:
    """The band rule shared by the oscillators and Bollinger %B (see the module docstring).

    Strictly below `buy_below` buys, strictly above `sell_above` sells; `full_at` is how far
    beyond a threshold the confidence reaches 1.
    """
    if value < buy_below:
        return 1, 0.5 + 0.5 * min(1.0, (buy_below - value) / full_at)
    if value > sell_above:
        return -1, 0.5 + 0.5 * min(1.0, (value - sell_above) / full_at)
    half_band = (sell_above - buy_below) / 2
    nearer = min(value - buy_below, sell_above - value)
    return 0, 0.5 * min(1.0, nearer / half_band)


def _sign(value: float) -> int:
    return (value > 0) - (value < 0)


def vote_rsi(value: float) -> Vote:
    return band_vote(value, buy_below=30.0, sell_above=70.0, full_at=20.0)


def vote_stochastic(percent_k: float) -> Vote:
    return band_vote(percent_k, buy_below=20.0, sell_above=80.0, full_at=20.0)


def vote_cci(value: float) -> Vote:
    return band_vote(value, buy_below=-100.0, sell_above=100.0, full_at=100.0)


def vote_williams(percent_r: float) -> Vote:
    return band_vote(percent_r, buy_below=-80.0, sell_above=-20.0, full_at=20.0)


def vote_bollinger(percent_b: float) -> Vote:
    """%B < 0 is a close below the lower band, %B > 1 above the upper band."""
    return band_vote(percent_b, buy_below=0.0, sell_above=1.0, full_at=0.25)


def vote_macd(hist: float, atr_value: float) -> Vote:
    """The histogram's sign votes; its size in ATRs is the confidence (half an ATR is full)."""
    return _sign(hist), _ratio(abs(hist), 0.5 * atr_value)


def vote_adx(adx_value: float, di_plus: float, di_minus: float) -> Vote:
    """DI+ vs DI- votes; ADX says whether there is a trend at all: <= 10 none (0), >= 40 strong (1)."""
    return _sign(di_plus - di_minus), min(1.0, max(0.0, (adx_value - 10.0) / 30.0))


def vote_ema(ema_fast: float, ema_slow: float) -> Vote:
    """EMA50 above EMA200 buys; a 10% gap between them is full confidence."""
    gap_percent = (ema_fast - ema_slow) / ema_slow * 100.0
    return _sign(gap_percent), min(1.0, abs(gap_percent) / 10.0)


def vote_psar(close: float, sar: float, atr_value: float) -> Vote:
    """Close above the SAR buys; three ATRs of distance from the SAR is full confidence."""
    return _sign(close - sar), _ratio(abs(close - sar), 3.0 * atr_value)


def vote_atr(atr_percent: float) -> Vote:
    """ATR never votes. Its confidence grows with volatility (4% of price is full), so in the score's
    denominator a volatile stock's other votes count for less: ATR damps conviction."""
    return 0, min(1.0, atr_percent / 4.0)


def vote_obv(obv_change: float, price_change: float, window_volume: float) -> Vote:
    """OBV confirming price: both up buys, both down sells, disagreement (or no change) is neutral.

    Confidence is the share of the window's volume that moved OBV one way: |OBV change| can never
    exceed the volume traded, so it lies in 0..1 without a tuning constant.
    """
    direction = _sign(obv_change)
    vote = direction if direction == _sign(price_change) else 0
    return vote, _ratio(abs(obv_change), window_volume)


def vote_cmf(value: float) -> Vote:
    """CMF's sign votes (buying vs selling pressure); 0.25 is full confidence."""
    return _sign(value), min(1.0, abs(value) / 0.25)


def _ratio(numerator: float, denominator: float) -> float:
    """min(1, numerator / denominator), 0 when the denominator is 0 (nothing moved)."""
    return min(1.0, numerator / denominator) if denominator > 0 else 0.0


# ---------------------------------------------------------------------------------------------
# Readings
# ---------------------------------------------------------------------------------------------

_VERBS = {1: "buy", 0: "no vote", -1: "sell"}


def compute_readings(history: PriceHistory) -> list[dict]:
    """One reading per indicator, in `INDICATOR_NAMES` order, from the last bar of `history`.

    Raises MarketDataError(permanent=True) with fewer than MIN_BARS bars, or when an indicator's
    last value is not a finite number (never analysed silently).
    """
    require_bars(history)
    high, low, close, volume = history.high, history.low, history.close, history.volume
    atr_series = atr(high, low, close)
    atr_value = _last(atr_series, "atr", history)
    last_close = float(close[-1])
    readings = [
        _macd_reading(close, atr_value, history),
        _adx_reading(high, low, close, history),
        _ema_reading(close, history),
        _psar_reading(high, low, last_close, atr_value, history),
        _rsi_reading(close, history),
        _stochastic_reading(high, low, close, history),
        _cci_reading(high, low, close, history),
        _williams_reading(high, low, close, history),
        _bollinger_reading(close, history),
        _atr_reading(atr_value, last_close),
        _obv_reading(close, volume, history),
        _cmf_reading(high, low, close, volume, history),
    ]
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
        "confidence": round(vote[1], 4),
        "rule": f"{rule} -> {_VERBS[vote[0]]}",
        "details": details,
    }


def _round(value: float) -> float:
    return round(float(value), 4)


def _macd_reading(close, atr_value, history) -> dict:
    line, signal, hist = (_last(series, "macd", history) for series in macd(close))
    rule = f"buy when the MACD histogram > 0, sell when < 0; histogram {hist:.4f}"
    details = {"macd": _round(line), "signal": _round(signal), "hist": _round(hist)}
    return _reading("macd", hist, vote_macd(hist, atr_value), rule, details)


def _adx_reading(high, low, close, history) -> dict:
    adx_value, di_plus, di_minus = (_last(series, "adx", history) for series in adx(high, low, close))
    rule = (
        f"buy when DI+ > DI-, sell when DI- > DI+, confidence from ADX strength; "
        f"DI+ {di_plus:.2f}, DI- {di_minus:.2f}, ADX {adx_value:.2f}"
    )
    details = {"adx": _round(adx_value), "di_plus": _round(di_plus), "di_minus": _round(di_minus)}
    return _reading("adx", adx_value, vote_adx(adx_value, di_plus, di_minus), rule, details)


def _ema_reading(close, history) -> dict:
    fast_series, slow_series = ema(close, EMA_FAST), ema(close, EMA_SLOW)
    fast, slow = _last(fast_series, "ema50", history), _last(slow_series, "ema200", history)
    gap_percent = (fast - slow) / slow * 100.0
    rule = f"buy when EMA50 > EMA200, sell when below; EMA50 {fast:.2f}, EMA200 {slow:.2f} ({gap_percent:+.2f}%)"
    details = {
        "ema50": _round(fast),
        "ema200": _round(slow),
        "bars_since_cross": _bars_since_cross(fast_series - slow_series),
    }
    return _reading("ema", gap_percent, vote_ema(fast, slow), rule, details)


def _bars_since_cross(gap: np.ndarray) -> int | None:
    """Bars since EMA50 - EMA200 last changed sign, None if it never did while both were defined."""
    signs = np.sign(gap[~np.isnan(gap)])
    changes = np.flatnonzero(signs[1:] != signs[:-1])
    return int(len(signs) - 1 - (changes[-1] + 1)) if len(changes) else None


def _psar_reading(high, low, last_close, atr_value, history) -> dict:
    sar = _last(psar(high, low), "psar", history)
    rule = f"buy when close > SAR, sell when close < SAR; close {last_close:.2f}, SAR {sar:.2f}"
    details = {"sar": _round(sar), "close": _round(last_close)}
    return _reading("psar", sar, vote_psar(last_close, sar, atr_value), rule, details)


def _rsi_reading(close, history) -> dict:
    # TA-Lib answers 0 when nothing ever moved; textbook RSI is undefined there, so read it as neutral.
    value = 50.0 if close.min() == close.max() else _last(rsi(close), "rsi", history)
    rule = f"buy when RSI(14) < 30, sell when > 70; RSI {value:.2f}"
    return _reading("rsi", value, vote_rsi(value), rule, {"rsi": _round(value)})


def _stochastic_reading(high, low, close, history) -> dict:
    slow_k, slow_d = stochastic(high, low, close)
    # The last %K reads the raw %K of the last 3 windows of 14 bars; TA-Lib says 0 when they had no range.
    lookback = STOCH_K + STOCH_SLOW_K - 1
    if _no_range(high, low, lookback):
        k, d = 50.0, 50.0
    else:
        k, d = _last(slow_k, "stochastic", history), _last(slow_d, "stochastic", history)
    rule = f"buy when %K(14,3,3) < 20, sell when > 80; %K {k:.2f}, %D {d:.2f}"
    return _reading("stochastic", k, vote_stochastic(k), rule, {"k": _round(k), "d": _round(d)})


def _cci_reading(high, low, close, history) -> dict:
    value = _last(cci(high, low, close), "cci", history)
    rule = f"buy when CCI(20) < -100, sell when > 100; CCI {value:.2f}"
    return _reading("cci", value, vote_cci(value), rule, {"cci": _round(value)})


def _williams_reading(high, low, close, history) -> dict:
    if _no_range(high, low, WILLIAMS_PERIOD):
        value = -50.0  # TA-Lib says 0 (overbought) when the window had no range: neutral instead
    else:
        value = _last(williams_r(high, low, close), "williams", history)
    rule = f"buy when Williams %R(14) < -80, sell when > -20; %R {value:.2f}"
    return _reading("williams", value, vote_williams(value), rule, {"williams_r": _round(value)})


def _no_range(high: np.ndarray, low: np.ndarray, bars: int) -> bool:
    return bool(high[-bars:].max() == low[-bars:].min())


def _bollinger_reading(close, history) -> dict:
    upper, middle, lower = (_last(series, "bollinger", history) for series in bollinger(close))
    last_close = float(close[-1])
    width = upper - lower
    percent_b = (last_close - lower) / width if width > 0 else 0.5
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
    return _reading("bollinger", percent_b, vote_bollinger(percent_b), rule, details)


def _atr_reading(atr_value: float, last_close: float) -> dict:
    atr_percent = atr_value / last_close * 100.0
    rule = f"ATR(14) never votes; it sets stops and damps conviction when volatile; ATR {atr_percent:.2f}% of close"
    details = {"atr": _round(atr_value), "atr_percent": _round(atr_percent)}
    return _reading("atr", atr_value, vote_atr(atr_percent), rule, details)


def _obv_reading(close, volume, history) -> dict:
    obv_series = obv(close, volume)
    last = _last(obv_series, "obv", history)
    obv_change = last - float(obv_series[-1 - OBV_WINDOW])
    price_change = float(close[-1] - close[-1 - OBV_WINDOW])
    window_volume = float(volume[-OBV_WINDOW:].sum())
    rule = (
        f"buy when OBV and close both rose over {OBV_WINDOW} bars, sell when both fell, else no vote; "
        f"OBV change {obv_change:+.0f}, close change {price_change:+.2f}"
    )
    details = {"obv": _round(last), "obv_change": _round(obv_change), "price_change": _round(price_change)}
    return _reading("obv", last, vote_obv(obv_change, price_change, window_volume), rule, details)


def _cmf_reading(high, low, close, volume, history) -> dict:
    value = _last(cmf(high, low, close, volume), "cmf", history)
    rule = f"buy when CMF(20) > 0, sell when < 0; CMF {value:.4f}"
    return _reading("cmf", value, vote_cmf(value), rule, {"cmf": _round(value)})
