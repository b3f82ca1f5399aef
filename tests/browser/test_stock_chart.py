"""The stock page's price header and chart in Chromium: panes, range buttons, OHLC readout, toggles, levels."""

import re
from decimal import Decimal

import pytest
from playwright.sync_api import expect

from tests.factories import make_result

pytestmark = pytest.mark.browser


@pytest.fixture
def stock_page(demo_live_server, page):
    # Levels near the demo prices are not needed: the axis shows them wherever they are.
    make_result("M&M.NS", entry=Decimal("100.00"), stop_loss=Decimal("98.00"), target=Decimal("104.00"))
    page.goto(demo_live_server.url + "/stocks/M%26M/")
    page.wait_for_selector("#price-chart canvas")
    return page


def wait_for_visible_bars(page, low: float, high: float) -> None:
    """Until the chart shows between `low` and `high` bars (it applies a new range on its next frame)."""
    page.wait_for_function(
        "([low, high]) => { const r = document.getElementById('price-chart').chart.timeScale()"
        ".getVisibleLogicalRange(); return r && r.to - r.from >= low && r.to - r.from <= high; }",
        arg=[low, high],
        timeout=5_000,
    )


def test_the_price_header_shows_close_change_ranges_and_as_of(stock_page, page_errors):
    header = stock_page.locator("#price-header")
    for label in ("Last close", "Change", "Day range", "52-week range", "Data as of"):
        expect(header).to_contain_text(label)
    expect(stock_page.locator("#last-close")).to_have_text(re.compile(r"^₹[\d,]+\.\d\d$"))
    expect(stock_page.locator("#price-change")).to_contain_text("%")
    assert page_errors == []


def test_the_chart_has_price_rsi_and_macd_panes_and_range_buttons_zoom(stock_page, page_errors):
    assert stock_page.evaluate("() => document.getElementById('price-chart').chart.panes().length") == 3
    total = stock_page.evaluate("() => JSON.parse(document.getElementById('chart-data').textContent).time.length")
    assert total > 300  # every analysed bar, not the last 250
    stock_page.click("button[data-range='63']")
    wait_for_visible_bars(stock_page, 60, 80)
    stock_page.click("button[data-range='all']")
    wait_for_visible_bars(stock_page, total, total + 20)
    expect(stock_page.locator("button[data-range='all']")).to_have_attribute("aria-pressed", "true")
    assert page_errors == []


def test_pointing_at_a_bar_shows_its_ohlc_and_volume(stock_page, page_errors):
    box = stock_page.locator("#price-chart").bounding_box()
    stock_page.mouse.move(box["x"] + box["width"] * 0.3, box["y"] + box["height"] * 0.3)
    readout = stock_page.locator("#ohlc-readout")
    expect(readout).to_contain_text(" O ")
    expect(readout).to_contain_text("Vol ")
    first = readout.inner_text()
    stock_page.mouse.move(box["x"] + box["width"] * 0.6, box["y"] + box["height"] * 0.3)
    expect(readout).not_to_have_text(first)
    assert page_errors == []


def test_overlay_toggles_hide_a_series_and_the_levels(stock_page, page_errors):
    stock_page.uncheck("input[data-overlay='ema50']")
    stock_page.uncheck("input[data-overlay='levels']")
    hidden = stock_page.evaluate(
        """() => {
            const chart = document.getElementById('price-chart').chart;
            const series = chart.panes()[0].getSeries();
            const candles = series[0];
            return {
                ema50: series[2].options().visible,
                levels: candles.priceLines().map(line => line.options().axisLabelVisible),
            };
        }"""
    )
    assert hidden == {"ema50": False, "levels": [False, False, False]}
    assert page_errors == []


def test_indicator_values_read_in_their_units_with_a_plain_rule(stock_page):
    rows = stock_page.locator("table.indicators tbody tr")
    expect(rows).to_have_count(1)  # the factory's single RSI reading
    expect(rows.first.locator(".ind-value")).to_have_text("28")
    expect(rows.first.locator(".plain")).to_contain_text("oversold")


def test_level_titles_that_would_touch_are_reduced_to_one(demo_live_server, page, page_errors):
    # Entry and stop 0.01 apart: their titles would overlap, so only the entry keeps its title.
    make_result("M&M.NS", entry=Decimal("100.00"), stop_loss=Decimal("99.99"), target=Decimal("150.00"))
    page.goto(demo_live_server.url + "/stocks/M%26M/")
    page.wait_for_selector("#price-chart canvas")
    page.wait_for_timeout(200)  # the declutter runs on the next animation frame
    titles = page.evaluate(
        "() => document.getElementById('price-chart').chart.panes()[0].getSeries()[0]"
        ".priceLines().map(line => line.options().title)"
    )
    assert titles[:2] == ["Entry", ""]
    assert page_errors == []
