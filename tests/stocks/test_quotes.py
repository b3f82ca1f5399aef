"""The screener's price line from daily bars (pure) and its refresh from the price cache or the source."""

from dataclasses import replace
from datetime import date, timedelta
from unittest import mock

import numpy as np
import pandas as pd
import pytest
from django.utils import timezone

from stocks.market_data import demo_history
from stocks.market_data.cache import bars_to_json
from stocks.models import PriceCache, StockQuote
from stocks.quotes import compute_quote
from stocks.services import refresh_quotes
from tests.factories import clear_universe, make_history, make_stock


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


@pytest.mark.django_db
def test_a_session_refetched_once_its_bar_settled_refreshes_the_quote():
    """The settled refetch replaces the session's row (same fetched_on, a later fetched_at)."""
    from stocks.market_data.cache import write_cache

    provisional = make_history("TCS.NS", bars=300)
    write_cache({"TCS.NS": provisional}, day=date(2025, 11, 28))
    assert refresh_quotes() == 1
    settled = replace(provisional, close=provisional.close.copy())
    settled.close[-1] = settled.open[-1]
    settled = replace(settled, high=np.maximum(settled.high, settled.close), low=np.minimum(settled.low, settled.close))
    write_cache({"TCS.NS": settled}, day=date(2025, 11, 28))
    assert PriceCache.objects.filter(symbol="TCS.NS").count() == 1
    assert refresh_quotes() == 1
    assert StockQuote.objects.get(symbol="TCS.NS").last_close == pytest.approx(float(settled.close[-1]), abs=0.01)


# --- sources that keep no price cache (demo, csv:DIR) -------------------------------------------


@pytest.mark.django_db
def test_with_the_demo_source_every_active_stock_gets_a_quote_once_a_day(settings):
    settings.THETOOL_DATA_SOURCE = "demo"
    clear_universe()
    make_stock("TCS")
    make_stock("INFY")
    make_stock("GONE", is_active=False)

    assert refresh_quotes() == 2
    quote = StockQuote.objects.get(symbol="TCS.NS")
    expected = compute_quote(demo_history("TCS.NS"))
    assert quote.source == "demo" and quote.as_of == expected.as_of
    assert quote.last_close == pytest.approx(expected.last_close)
    assert quote.change_percent == pytest.approx(expected.change_percent)
    assert not StockQuote.objects.filter(symbol="GONE.NS").exists()
    assert refresh_quotes() == 0  # refreshed today: nothing recomputed

    # Yesterday's quote (the demo's bars move with the UTC day) is recomputed; so is one from another source.
    StockQuote.objects.filter(symbol="TCS.NS").update(updated_at=timezone.now() - timedelta(days=1))
    StockQuote.objects.filter(symbol="INFY.NS").update(source="yfinance")
    assert refresh_quotes() == 2
    assert set(StockQuote.objects.values_list("source", flat=True)) == {"demo"}


@pytest.mark.django_db
def test_with_yfinance_quotes_come_only_from_cached_bars(settings):
    settings.THETOOL_DATA_SOURCE = "yfinance"
    clear_universe()
    make_stock("TCS")
    with mock.patch("stocks.market_data.fetch_histories") as fetch:
        assert refresh_quotes() == 0  # no cached bars; Yahoo is never asked for a price line
    fetch.assert_not_called()
    assert not StockQuote.objects.exists()


@pytest.mark.django_db
def test_with_a_csv_source_a_stock_without_a_file_gets_no_quote_and_the_others_do(settings, tmp_path):
    h = make_history("TCS.NS", bars=30)
    frame = pd.DataFrame(
        {"Date": [str(d) for d in h.dates], "Open": h.open, "High": h.high, "Low": h.low, "Close": h.close,
         "Volume": h.volume}
    )  # fmt: skip
    frame.to_csv(tmp_path / "TCS.NS.csv", index=False)
    settings.THETOOL_DATA_SOURCE = f"csv:{tmp_path}"
    clear_universe()
    make_stock("TCS")
    make_stock("INFY")  # no INFY.NS.csv

    assert refresh_quotes() == 1
    quote = StockQuote.objects.get()
    assert (quote.symbol, quote.source, quote.as_of) == ("TCS.NS", "csv", h.dates[-1].item())
    assert quote.last_close == pytest.approx(float(h.close[-1]), abs=0.01)
