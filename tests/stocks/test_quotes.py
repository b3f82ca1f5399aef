"""The screener's price line from daily bars (pure) and its refresh from the price cache."""

from dataclasses import replace
from datetime import date

import numpy as np
import pytest

from stocks.market_data.cache import bars_to_json
from stocks.models import PriceCache, StockQuote
from stocks.quotes import compute_quote
from stocks.services import refresh_quotes
from tests.factories import make_history


def history(closes, volumes=None):
    close = np.array(closes, dtype=np.float64)
    volume = np.array(volumes if volumes is not None else [1000.0] * len(closes), dtype=np.float64)
    base = make_history("TCS.NS", bars=len(closes))
    return replace(base, open=close, close=close, high=close + 1, low=close - 1, volume=volume)


def test_change_volume_ratio_and_52_week_distances():
    closes = [100.0] * 299 + [110.0]
    volumes = [1000.0] * 299 + [3000.0]
    quote = compute_quote(history(closes, volumes))
    assert quote.last_close == 110.0 and quote.change_percent == 10.0
    assert quote.volume_ratio == 3.0
    assert quote.high_52w == 111.0 and quote.low_52w == 99.0
    assert quote.from_high_percent == pytest.approx(-0.9, abs=0.01)
    assert quote.from_low_percent == pytest.approx(11.11, abs=0.01)


def test_the_52_week_range_ignores_bars_older_than_a_year():
    closes = [500.0] + [100.0] * 299  # the 500 is 299 sessions back: outside 252
    quote = compute_quote(history(closes))
    assert quote.high_52w == 101.0


@pytest.mark.django_db
def test_refresh_writes_a_quote_per_cached_symbol_and_only_when_bars_are_newer():
    h = make_history("TCS.NS", bars=300)
    PriceCache.objects.create(
        symbol="TCS.NS", source="demo", fetched_on=date(2025, 11, 27), bars=bars_to_json(h),
        bar_count=300, first_bar=date(2024, 1, 1), last_bar=date(2025, 11, 27),
    )  # fmt: skip
    assert refresh_quotes() == 1
    quote = StockQuote.objects.get(symbol="TCS.NS")
    assert quote.last_close == pytest.approx(float(h.close[-1]), abs=0.01)
    assert refresh_quotes() == 0  # nothing newer: nothing recomputed
