"""Price jumps that look like unadjusted splits or data errors. Pure: numpy only, no Django.

A one-session close-to-close move of -45% or worse, or +80% or more, is flagged. NSE's price bands
(2-20% a day for most stocks, a widened dynamic band for F&O stocks) make such moves all but
impossible in real trading, while a split, bonus or face-value change in unadjusted data, or a
price quoted in the wrong unit, produces exactly them. Volume is not consulted: an unadjusted split
also multiplies the share volume, so volume cannot tell a split from a crash. A flagged history gets
an error naming the jump instead of a verdict, because every indicator over it would be distorted
(a 1:2 split reads as a 50% crash: "oversold", Strong Buy under mean reversion).
"""

from dataclasses import dataclass

import numpy as np

from stocks.bars import MarketDataError, PriceHistory

MAX_ONE_DAY_DROP = 0.45  # a close at or below 55% of the previous one
MAX_ONE_DAY_RISE = 0.80  # a close at or above 180% of the previous one
SPLIT_RATIOS = (2, 3, 4, 5, 10)  # common splits, bonuses and face-value changes on NSE
UNIT_RATIOS = (100,)  # paise quoted as rupees, or the reverse
RATIO_TOLERANCE = 0.04  # how close to an exact ratio a jump must be to be named after it


class SuspectPrices(MarketDataError):
    """The bars are valid one by one, but a jump between two of them makes any verdict misleading."""

    def __init__(self, message: str):
        super().__init__(message, permanent=True)


@dataclass(frozen=True)
class PriceJump:
    day: str  # ISO date of the bar that jumped
    previous_close: float
    close: float

    @property
    def ratio(self) -> float:
        return self.close / self.previous_close

    @property
    def change_percent(self) -> float:
        return (self.ratio - 1.0) * 100.0

    def describe(self) -> str:
        """E.g. "price jump of -50% on 2025-03-14 (close 1000.00 -> 500.00) looks like an unadjusted split ..."."""
        return (
            f"price jump of {self.change_percent:+.0f}% on {self.day} "
            f"(close {self.previous_close:.2f} -> {self.close:.2f}) looks like {self._likely_cause()}"
        )

    def _likely_cause(self) -> str:
        factor = max(self.ratio, 1.0 / self.ratio)
        if any(abs(factor / ratio - 1.0) <= RATIO_TOLERANCE for ratio in UNIT_RATIOS):
            return f"a {round(factor)}x unit error in the data"
        for ratio in SPLIT_RATIOS:
            if abs(factor / ratio - 1.0) <= RATIO_TOLERANCE:
                shape = f"1:{ratio}" if self.ratio < 1 else f"{ratio}:1 consolidation"
                return f"an unadjusted split or bonus ({shape}) or a data error"
        return "an unadjusted split or a data error"


def find_price_jumps(
    *, dates: np.ndarray, close: np.ndarray, max_drop: float = MAX_ONE_DAY_DROP, max_rise: float = MAX_ONE_DAY_RISE
) -> list[PriceJump]:
    """Every session whose close is <= (1 - max_drop) or >= (1 + max_rise) times the previous close, oldest first."""
    ratios = close[1:] / close[:-1]
    flagged = np.flatnonzero((ratios <= 1.0 - max_drop) | (ratios >= 1.0 + max_rise)) + 1
    return [
        PriceJump(
            day=str(np.datetime64(dates[index], "D")),
            previous_close=float(close[index - 1]),
            close=float(close[index]),
        )
        for index in flagged
    ]


def check_price_jumps(
    history: PriceHistory, *, max_drop: float = MAX_ONE_DAY_DROP, max_rise: float = MAX_ONE_DAY_RISE
) -> None:
    """Raise SuspectPrices naming the latest suspicious jump (and how many more there are), if any."""
    jumps = find_price_jumps(dates=history.dates, close=history.close, max_drop=max_drop, max_rise=max_rise)
    if not jumps:
        return
    more = f" ({len(jumps) - 1} earlier jump(s) too)" if len(jumps) > 1 else ""
    raise SuspectPrices(f"{history.symbol}: {jumps[-1].describe()}{more}")


# --- Flags shown with every result ------------------------------------------------------------

ZERO_VOLUME_RUN_FLAG = 3  # this many sessions in a row without a trade: suspended, illiquid or bad data


def longest_zero_volume_run(volume: np.ndarray) -> int:
    """The most consecutive bars with zero volume."""
    zero = np.concatenate([[False], volume == 0, [False]]).astype(np.int8)
    edges = np.flatnonzero(np.diff(zero))
    return int((edges[1::2] - edges[::2]).max()) if len(edges) else 0


def describe_quality(history: PriceHistory, *, sessions_behind: int | None, settling: bool = False) -> dict:
    """The data-quality flags stored with a result (provenance["quality"]).

    `sessions_behind`: NSE sessions completed after the last bar (None when the source is not live,
    so staleness does not apply). `settling`: the last bar is the session that closed minutes ago,
    whose close Yahoo may still revise. Jumps refuse the analysis (check_price_jumps); these only warn.
    """
    run = longest_zero_volume_run(history.volume)
    flags = []
    if sessions_behind:
        flags.append("stale")
    if run >= ZERO_VOLUME_RUN_FLAG:
        flags.append("zero_volume_run")
    if settling:
        flags.append("settling")
    return {
        "data_as_of": str(np.datetime64(history.dates[-1], "D")),
        "sessions_behind": sessions_behind,
        "zero_volume_run": run,
        "flags": flags,
    }


@dataclass(frozen=True)
class QualityNote:
    """One flag as a person reads it: a short label for a badge and a sentence for its tooltip."""

    flag: str
    label: str
    detail: str


def _plural(count: int, word: str) -> str:
    return f"{count} {word}" if count == 1 else f"{count} {word}s"


def quality_notes(quality: dict | None) -> list[QualityNote]:
    """The flags of a stored provenance["quality"], in the order they were raised, as labels and details.

    An unknown flag (stored by a newer release) is shown by its name rather than hidden.
    """
    quality = quality or {}
    as_of = quality.get("data_as_of") or "unknown"
    notes = []
    for flag in quality.get("flags") or ():
        if flag == "stale":
            behind = int(quality.get("sessions_behind") or 0)
            notes.append(
                QualityNote(
                    flag,
                    f"{_plural(behind, 'session')} behind",
                    f"The last bar is from {as_of}; {_plural(behind, 'NSE session')} closed since "
                    "without a bar from Yahoo.",
                )
            )
        elif flag == "zero_volume_run":
            run = int(quality.get("zero_volume_run") or 0)
            notes.append(
                QualityNote(
                    flag,
                    f"no trades {_plural(run, 'session')}",
                    f"{_plural(run, 'session')} in a row with zero volume: suspended, illiquid or bad data.",
                )
            )
        elif flag == "settling":
            notes.append(
                QualityNote(
                    flag,
                    "close not final",
                    f"The bar of {as_of} was fetched before its close settled at Yahoo, which may still "
                    "revise it. A run after it settles fetches the final bar.",
                )
            )
        else:
            notes.append(QualityNote(flag, flag.replace("_", " "), flag))
    return notes
