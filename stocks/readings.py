"""Indicator readings for people: the value in its natural unit and the rule in plain words.

Pure (no Django): the stock page calls `describe_reading` on each stored reading. The engine's own
`rule` text stays as the precise record; this is the sentence a trader reads.
"""

import math

from stocks.indicators import OBV_WINDOW

_VOTE_WORDS = {1: "points to buying", -1: "points to selling", 0: "gives no signal"}


def abbreviate(value: float) -> str:
    """12,345,678 -> '12.3M', -4,500 -> '-4.5K', 950 -> '950' (Indian lakh/crore would confuse OBV's units)."""
    if not math.isfinite(value):
        return "—"
    for size, suffix in ((1e12, "T"), (1e9, "B"), (1e6, "M"), (1e3, "K")):
        if abs(value) >= size:
            return f"{value / size:.1f}{suffix}"
    return f"{value:.0f}"


def _signed(value: float, digits: int = 2) -> str:
    return f"{value:+.{digits}f}"


def _text(name: str, value: float, details: dict) -> tuple[str, str]:
    """(value as shown, the rule in plain words) for one indicator."""
    if name == "ema":
        return f"{_signed(value)}%", "EMA 50 above EMA 200 (a positive spread) is an uptrend; below, a downtrend."
    if name == "obv":
        change = details.get("obv_change")
        shown = abbreviate(value) + (
            f" ({'+' if change >= 0 else ''}{abbreviate(change)})" if change is not None else ""
        )
        return (
            shown,
            f"Volume confirms the move when OBV and the price both rose (or both fell) over {OBV_WINDOW} days.",
        )
    if name == "rsi":
        return f"{value:.0f}", "Below 30 the stock is oversold (a buy); above 70 it is overbought (a sell)."
    if name == "stochastic":
        return f"{value:.0f}", "%K below 20 is oversold (a buy); above 80 overbought (a sell)."
    if name == "williams":
        return f"{value:.0f}", "Williams %R below -80 is oversold (a buy); above -20 overbought (a sell)."
    if name == "cci":
        return f"{value:.0f}", "CCI below -100 is unusually low (a buy); above +100 unusually high (a sell)."
    if name == "macd":
        return _signed(value, 2), "A positive MACD histogram is rising momentum (a buy); negative, falling (a sell)."
    if name == "adx":
        return (
            f"{value:.0f}",
            "Whichever of DI+ (up) and DI- (down) is larger sets the direction; ADX above 25 is a strong trend.",
        )
    if name == "psar":
        return (
            f"₹{value:,.2f}",
            "The price above the Parabolic SAR is an uptrend (a buy); below it, a downtrend (a sell).",
        )
    if name == "bollinger":
        return (
            f"{value * 100:.0f}% of band",
            "Below the lower band (0%) is stretched down (a buy); above the upper band (100%) stretched up (a sell).",
        )
    if name == "atr":
        percent = details.get("atr_percent")
        shown = f"₹{value:,.2f}" + (f" ({percent:.1f}% of price)" if percent is not None else "")
        return (
            shown,
            "The average daily range: it never votes, it sets the stop distance and lowers conviction when high.",
        )
    if name == "cmf":
        return _signed(
            value, 2
        ), "Chaikin Money Flow above 0 means buying pressure (a buy); below 0, selling pressure (a sell)."
    return f"{value:.2f}", ""


def describe_reading(reading: dict) -> dict:
    """{"value_text", "plain"}: e.g. EMA '+3.25%' and 'EMA 50 above EMA 200 ... Now it points to buying.'"""
    value = reading.get("value")
    if not isinstance(value, (int, float)) or not math.isfinite(value):
        return {"value_text": "—", "plain": ""}
    shown, plain = _text(reading.get("name", ""), float(value), reading.get("details") or {})
    verdict = _VOTE_WORDS.get(reading.get("vote"), "")
    return {"value_text": shown, "plain": f"{plain} Now it {verdict}." if plain and verdict else plain}
