"""All stocks on a 390 px phone: the list comes first, rows are easy to tick, the action bar stays in reach."""

import pytest
from playwright.sync_api import expect

from tests.browser.conftest import PHONE

pytestmark = pytest.mark.browser


@pytest.fixture
def phone(demo_live_server, browser):
    context = browser.new_context(viewport=PHONE)
    tab = context.new_page()
    tab.goto(demo_live_server.url + "/")
    yield tab
    context.close()


def test_on_a_phone_the_first_stock_is_in_the_first_screen_with_24px_checkboxes(phone):
    first_row = phone.locator("table.stocks tbody tr").first.bounding_box()
    print(f"first stock row top at 390 px: {first_row['y']:.0f} px")
    # Above the sticky action bar, in the first screen (it was 696 px down before).
    bar = phone.locator(".action-bar").bounding_box()
    assert first_row["y"] + first_row["height"] <= bar["y"]
    assert first_row["y"] < 520
    assert not phone.evaluate("document.documentElement.scrollWidth > window.innerWidth")
    for box in phone.locator("table.stocks tbody input[type=checkbox]").evaluate_all(
        "nodes => nodes.map(n => n.getBoundingClientRect()).map(r => [r.width, r.height])"
    ):
        assert min(box) >= 24, box


def test_the_action_bar_stays_on_screen_and_works_after_scrolling(phone):
    bar = phone.locator(".action-bar")
    phone.mouse.wheel(0, 2000)
    box = bar.bounding_box()
    assert box["y"] >= 0 and box["y"] + box["height"] <= PHONE["height"] + 1
    phone.check('#stock-table input[name="symbols"][value="TCS.NS"]')
    expect(phone.locator("#analyze-selected")).to_be_in_viewport()
