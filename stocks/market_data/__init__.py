"""The only way TheTool reaches market data: Yahoo Finance (yfinance), demo bars, csv:DIR, NSE's list.

Callers get `PriceHistory` objects (validated daily bars as numpy arrays) or a `MarketDataError`
per symbol; `SourceUnavailable` means the whole source is unreachable. Callers use the names
below as attributes of this package (`market_data.fetch_histories(...)`), so tests patch them here.

- `sources`: which source answers, demo and csv:DIR;
- `yahoo`: yfinance (its only importer), download limits and retries;
- `cache`: the PriceCache rows of the day;
- `nse`: NSE's equity list;
- the bars themselves and their validation rules live in the pure `stocks.bars`, which the
  analysis engine imports without Django.
"""

from stocks.bars import PRICE_COLUMNS, MarketDataError, PriceHistory, SourceUnavailable, checked_history, validate_bars
from stocks.market_data.cache import YFINANCE, bars_to_json, final_session, history_from_json, nse_calendar
from stocks.market_data.nse import download_equity_list
from stocks.market_data.sources import DEMO_BARS, SOURCE_KINDS, csv_history, demo_history, fetch_histories, source_kind

__all__ = [
    "DEMO_BARS",
    "PRICE_COLUMNS",
    "SOURCE_KINDS",
    "YFINANCE",
    "MarketDataError",
    "PriceHistory",
    "SourceUnavailable",
    "bars_to_json",
    "checked_history",
    "csv_history",
    "demo_history",
    "download_equity_list",
    "fetch_histories",
    "final_session",
    "history_from_json",
    "nse_calendar",
    "source_kind",
    "validate_bars",
]
