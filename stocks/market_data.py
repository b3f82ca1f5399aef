"""The only module that talks to a market data source (yfinance, demo, csv:DIR).

Callers get `PriceHistory` objects (validated daily bars as numpy arrays) or a
`MarketDataError` per symbol; `SourceUnavailable` means the whole source is unreachable.
"""

from dataclasses import dataclass

import numpy as np


class MarketDataError(Exception):
    """Fetching or validating one symbol's data failed.

    `permanent=True`: retrying will not help (bad data, unknown ticker); `False`: it might.
    """

    def __init__(self, message: str, *, permanent: bool):
        super().__init__(message)
        self.message = message
        self.permanent = permanent


class SourceUnavailable(MarketDataError):
    """The source as a whole cannot be reached: stop the job instead of timing out per symbol."""

    def __init__(self, message: str):
        super().__init__(message, permanent=False)


@dataclass(frozen=True, eq=False)
class PriceHistory:
    """Validated daily OHLCV bars of one symbol, oldest first."""

    symbol: str
    source: str  # "yfinance" | "demo" | "csv"
    dates: np.ndarray  # datetime64[D]
    open: np.ndarray  # float64
    high: np.ndarray
    low: np.ndarray
    close: np.ndarray
    volume: np.ndarray

    def __len__(self) -> int:
        return len(self.close)
