"""A stock's price line for the screener, from its daily bars (pure: numpy only, no Django).

Last close, 1-day % change, volume against its 20-day average, and the 52-week range with the
close's distance from each end, computed once when bars are stored so the screener filters and
sorts them in SQL.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

import numpy as np

from stocks.bars import PriceHistory

VOLUME_AVERAGE_BARS = 20
YEAR_BARS = 252  # NSE sessions in a year, about


@dataclass(frozen=True)
class Quote:
    as_of: date
    last_close: float
    change_percent: float | None
    volume_ratio: float | None  # last volume / average of the 20 sessions before it
    high_52w: float
    low_52w: float

    @property
    def from_high_percent(self) -> float:
        """How far the close is below the 52-week high (0 at the high, negative below it)."""
        return round((self.last_close - self.high_52w) / self.high_52w * 100.0, 2) if self.high_52w else 0.0

    @property
    def from_low_percent(self) -> float:
        """How far the close is above the 52-week low (0 at the low)."""
        return round((self.last_close - self.low_52w) / self.low_52w * 100.0, 2) if self.low_52w else 0.0


def compute_quote(history: PriceHistory) -> Quote | None:
    """The quote of the last bar; None for a history with no bars."""
    if not len(history):
        return None
    close, volume = history.close, history.volume
    previous = close[-2] if len(close) > 1 else None
    change = round((close[-1] - previous) / previous * 100.0, 2) if previous else None
    window = volume[-VOLUME_AVERAGE_BARS - 1 : -1]
    average = float(np.mean(window)) if len(window) else 0.0
    ratio = round(float(volume[-1]) / average, 2) if average > 0 else None
    year_high, year_low = history.high[-YEAR_BARS:], history.low[-YEAR_BARS:]
    return Quote(
        as_of=date.fromisoformat(str(history.dates[-1])[:10]),
        last_close=round(float(close[-1]), 2),
        change_percent=change,
        volume_ratio=ratio,
        high_52w=round(float(np.max(year_high)), 2),
        low_52w=round(float(np.min(year_low)), 2),
    )
