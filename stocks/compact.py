"""Compact, lossless storage of a result's indicator readings and provenance.

Pure: no Django. A reading as the engine writes it (`stocks.indicators`) is ~130 bytes of JSON,
most of it the rule sentence, which is a template filled with the reading's own numbers. So a
reading is stored as its indicator's number (1 byte) and its numbers (vote, confidence, value,
details in a fixed order), each a variable-length integer of the number x 10^4 (the engine rounds
to 4 places); the rule is written again from them on reading. 12 readings take ~200 bytes
instead of ~1.6 KB.

Lossless by construction: `pack_readings` keeps the compact form of a reading only when unpacking
it gives back exactly the same JSON; anything else (a rule worded by an older engine, a rounding
edge where the template's 2 places differ from the stored 4, a hand-made reading) is stored
verbatim as JSON inside the same blob. Provenance is compact JSON: an array in a fixed key order
when it has exactly those keys, the object itself otherwise.
"""

from __future__ import annotations

import json
import math
from datetime import date

# Indicator code -> (name, category, detail keys in stored order). Append only: codes are stored.
LAYOUTS: tuple[tuple[str, str, tuple[str, ...]], ...] = (
    ("macd", "trend", ("macd", "signal", "hist")),
    ("adx", "trend", ("adx", "di_plus", "di_minus")),
    ("ema", "trend", ("ema50", "ema200", "bars_since_cross")),
    ("psar", "trend", ("sar", "close")),
    ("rsi", "momentum", ("rsi",)),
    ("stochastic", "momentum", ("k", "d")),
    ("cci", "momentum", ("cci",)),
    ("williams", "momentum", ("williams_r",)),
    ("bollinger", "volatility", ("upper", "middle", "lower", "percent_b", "bandwidth")),
    ("atr", "volatility", ("atr", "atr_percent")),
    ("obv", "volume", ("obv", "obv_change", "price_change")),
    ("cmf", "volume", ("cmf",)),
)
CODES = {name: code for code, (name, _, _) in enumerate(LAYOUTS)}
VERBATIM = 0xFF
READING_KEYS = ["name", "category", "value", "vote", "confidence", "rule", "details"]  # the engine's order
_VERBS = {1: "buy", 0: "no vote", -1: "sell"}
SCALE = 10_000  # the engine rounds every number to 4 places

PROVENANCE_KEYS = (
    "source", "bars", "first_bar", "last_bar", "strategy_id", "strategy_name", "capital",
    "risk_percent", "max_position_percent", "stop_loss_percent", "target_percent", "tick_size",
)  # fmt: skip


# --- rules: the engine's sentences (stocks.indicators), written again from the stored numbers ------


def _rule_text(name: str, value: float, details: dict, close: float | None) -> str:
    d = details
    if name == "macd":
        return f"buy when the MACD histogram > 0, sell when < 0; histogram {d['hist']:.4f}"
    if name == "adx":
        return (
            f"buy when DI+ > DI-, sell when DI- > DI+, confidence from ADX strength; "
            f"DI+ {d['di_plus']:.2f}, DI- {d['di_minus']:.2f}, ADX {d['adx']:.2f}"
        )
    if name == "ema":
        return (
            f"buy when EMA50 > EMA200, sell when below; EMA50 {d['ema50']:.2f}, EMA200 {d['ema200']:.2f} "
            f"({value:+.2f}%)"
        )
    if name == "psar":
        return f"buy when close > SAR, sell when close < SAR; close {d['close']:.2f}, SAR {d['sar']:.2f}"
    if name == "rsi":
        return f"buy when RSI(14) < 30, sell when > 70; RSI {value:.2f}"
    if name == "stochastic":
        return f"buy when %K(14,3,3) < 20, sell when > 80; %K {d['k']:.2f}, %D {d['d']:.2f}"
    if name == "cci":
        return f"buy when CCI(20) < -100, sell when > 100; CCI {value:.2f}"
    if name == "williams":
        return f"buy when Williams %R(14) < -80, sell when > -20; %R {value:.2f}"
    if name == "bollinger":
        return (
            f"buy when close < lower band, sell when close > upper band (20, 2); "
            f"close {close:.2f}, bands {d['lower']:.2f}..{d['upper']:.2f}, %B {d['percent_b']:.2f}"
        )
    if name == "atr":
        return (
            f"ATR(14) never votes; it sets stops and damps conviction when volatile; "
            f"ATR {d['atr_percent']:.2f}% of close"
        )
    if name == "obv":
        return (
            "buy when OBV and close both rose over 20 bars, sell when both fell, else no vote; "
            f"OBV change {d['obv_change']:+.0f}, close change {d['price_change']:+.2f}"
        )
    return f"buy when CMF(20) > 0, sell when < 0; CMF {value:.4f}"


def _rule(name: str, value: float, vote: int, details: dict, close: float | None) -> str:
    return f"{_rule_text(name, value, details, close)} -> {_VERBS[vote]}"


# --- numbers: zig-zag varints, tagged so ints, 4-place floats and None come back as they went ------


def _varint(n: int, out: bytearray) -> None:
    while True:
        byte = n & 0x7F
        n >>= 7
        if n:
            out.append(byte | 0x80)
        else:
            out.append(byte)
            return


def _read_varint(data: bytes, pos: int) -> tuple[int, int]:
    shift = result = 0
    while True:
        byte = data[pos]
        pos += 1
        result |= (byte & 0x7F) << shift
        shift += 7
        if not byte & 0x80:
            return result, pos


def _zigzag(n: int) -> int:
    return n * 2 if n >= 0 else -n * 2 - 1


def _unzigzag(n: int) -> int:
    return n // 2 if n % 2 == 0 else -(n + 1) // 2


def _encode_number(value, out: bytearray) -> None:
    """float -> tag 0 (x 10^4), int -> tag 01, None -> 3. Raises ValueError for anything else."""
    if value is None:
        _varint(3, out)
    elif isinstance(value, bool):
        raise ValueError("bool")
    elif isinstance(value, int):
        _varint(_zigzag(value) << 2 | 1, out)
    elif isinstance(value, float) and math.isfinite(value):
        scaled = round(value * SCALE)
        # Only numbers that come back bit for bit (and not -0.0, which JSON writes apart from 0.0).
        if scaled / SCALE != value or (scaled == 0 and math.copysign(1.0, value) < 0):
            raise ValueError(repr(value))
        _varint(_zigzag(scaled) << 1, out)
    else:
        raise ValueError(repr(value))


def _decode_number(data: bytes, pos: int):
    raw, pos = _read_varint(data, pos)
    if raw == 3:
        return None, pos
    if raw & 1:
        return _unzigzag(raw >> 2), pos
    return _unzigzag(raw >> 1) / SCALE, pos


# --- readings ------------------------------------------------------------------------------------


def _close_of(readings: list[dict]) -> float | None:
    """The last close, which the Bollinger rule quotes: PSAR's details carry it."""
    for reading in readings:
        if reading.get("name") == "psar" and isinstance(reading.get("details"), dict):
            return reading["details"].get("close")
    return None


def _encode_compact(reading: dict, close: float | None) -> bytes:
    """The reading's code, then each number as `_encode_number` writes it (inlined: ~60 numbers a result)."""
    code = CODES[reading["name"]]
    details = reading["details"]
    out = bytearray((code,))
    append = out.append
    for value in (reading["vote"], reading["confidence"], reading["value"], *[details[k] for k in LAYOUTS[code][2]]):
        kind = type(value)
        if kind is float or (kind is not bool and isinstance(value, float)):
            if not math.isfinite(value):
                raise ValueError(repr(value))
            scaled = round(value * SCALE)
            if scaled / SCALE != value or (scaled == 0 and math.copysign(1.0, value) < 0):
                raise ValueError(repr(value))
            n = (scaled << 1 if scaled >= 0 else (-scaled << 1) - 1) << 1
        elif kind is int:
            n = (value << 1 if value >= 0 else (-value << 1) - 1) << 2 | 1
        elif value is None:
            n = 3
        else:
            raise ValueError(repr(value))
        while n > 0x7F:
            append((n & 0x7F) | 0x80)
            n >>= 7
        append(n)
    return bytes(out)


def _compact_or_none(reading: dict, close: float | None) -> bytes | None:
    """The compact bytes of `reading`, or None when unpacking them would not give back its exact JSON.

    Checked without decoding: the keys in the engine's order, a known layout, exact 4-place numbers
    (`_encode_number` refuses others) and the rule sentence equal to the one rebuilt from them.
    """
    try:
        name = reading["name"]
        _, category, keys = LAYOUTS[CODES[name]]
        details = reading["details"]
        if list(reading) != READING_KEYS or reading["category"] != category or list(details) != list(keys):
            return None
        if (
            type(reading["vote"]) is not int
            or _rule(name, reading["value"], reading["vote"], details, close) != reading["rule"]
        ):
            return None
        return _encode_compact(reading, close)
    except (ValueError, KeyError, TypeError, IndexError, AttributeError):
        return None


def pack_readings(readings: list[dict]) -> bytes:
    """The readings as bytes: compact where that round-trips exactly, verbatim JSON otherwise."""
    close = _close_of(readings)
    out = bytearray()
    for reading in readings:
        compact = _compact_or_none(reading, close)
        if compact is not None:
            out += compact
            continue
        text = json.dumps(reading, separators=(",", ":")).encode()
        out.append(VERBATIM)
        _varint(len(text), out)
        out += text
    return bytes(out)


def _decode_compact(data: bytes, pos: int, close: float | None) -> tuple[dict, int]:
    name, category, keys = LAYOUTS[data[pos]]
    pos += 1
    numbers = []
    for _ in range(3 + len(keys)):
        number, pos = _decode_number(data, pos)
        numbers.append(number)
    vote, confidence, value, *detail_values = numbers
    details = dict(zip(keys, detail_values, strict=True))
    reading = {
        "name": name,
        "category": category,
        "value": value,
        "vote": vote,
        "confidence": confidence,
        "rule": _rule(name, value, vote, details, close),
        "details": details,
    }
    return reading, pos


def unpack_readings(data: bytes | memoryview | None) -> list[dict]:
    """The readings `pack_readings` stored, exactly as they were given."""
    data = bytes(data or b"")
    # Bollinger's rule quotes the close that PSAR's details carry: read PSAR first when it is compact.
    close = None
    readings: list[dict | int] = []
    pos = 0
    while pos < len(data):
        if data[pos] == VERBATIM:
            length, start = _read_varint(data, pos + 1)
            readings.append(json.loads(data[start : start + length]))
            pos = start + length
        else:
            readings.append(pos)  # decoded below, once the close is known
            pos = _skip_compact(data, pos)
    for item in readings:
        if isinstance(item, int) and data[item] == CODES["psar"]:
            close = _decode_compact(data, item, None)[0]["details"]["close"]
        elif isinstance(item, dict) and item.get("name") == "psar":
            close = (item.get("details") or {}).get("close")
    return [_decode_compact(data, item, close)[0] if isinstance(item, int) else item for item in readings]


def _skip_compact(data: bytes, pos: int) -> int:
    keys = LAYOUTS[data[pos]][2]
    pos += 1
    for _ in range(3 + len(keys)):
        _, pos = _read_varint(data, pos)
    return pos


# --- provenance ----------------------------------------------------------------------------------


def pack_provenance(provenance: dict) -> str:
    """Compact JSON: the values in PROVENANCE_KEYS order when it has exactly those keys."""
    if provenance and tuple(provenance) == PROVENANCE_KEYS:
        return json.dumps([provenance[key] for key in PROVENANCE_KEYS], separators=(",", ":"))
    return json.dumps(provenance or {}, separators=(",", ":"))


def unpack_provenance(text: str | None) -> dict:
    if not text:
        return {}
    value = json.loads(text)
    return dict(zip(PROVENANCE_KEYS, value, strict=True)) if isinstance(value, list) else value


# --- typed columns ------------------------------------------------------------------------------


def date_or_none(text) -> date | None:
    try:
        return date.fromisoformat(text) if isinstance(text, str) else None
    except ValueError:
        return None


SCREENER_FIELDS = ("close", "rsi", "adx", "macd_hist", "ema_trend", "ema50", "ema200", "bollinger_b", "cmf")


def screener_columns(readings: list[dict]) -> dict:
    """The typed columns a result keeps from its readings (None where a reading is missing)."""
    by_name = {reading.get("name"): reading for reading in readings if isinstance(reading, dict)}

    def pick(name, key=None):
        reading = by_name.get(name)
        if reading is None:
            return None
        value = reading.get("value") if key is None else (reading.get("details") or {}).get(key)
        return float(value) if isinstance(value, int | float) and not isinstance(value, bool) else None

    gap = pick("ema")
    return {
        "close": pick("psar", "close"),
        "rsi": pick("rsi"),
        "adx": pick("adx"),
        "macd_hist": pick("macd", "hist"),
        "ema_trend": None if gap is None else (gap > 0) - (gap < 0),
        "ema50": pick("ema", "ema50"),
        "ema200": pick("ema", "ema200"),
        "bollinger_b": pick("bollinger", "percent_b"),
        "cmf": pick("cmf"),
    }
