"""Playwright (Python) driving Debian's Chromium against pytest-django's live server.

One browser per module (starting Chromium costs ~0.5 s); one fresh context per test. Each test
collects console errors and uncaught page errors, so a broken script fails the test that saw it.
"""

import os
from pathlib import Path

import pytest
from django.conf import settings

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-quic",
]
DESKTOP = {"width": 1366, "height": 900}
PHONE = {"width": 390, "height": 844}
SCREENSHOTS = Path(settings.BASE_DIR) / "screenshots"

# Playwright's sync API keeps an asyncio loop in this thread; Django then refuses ORM calls from
# the test body unless told that this (test-only) use is safe.
os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")


@pytest.fixture(scope="module")
def browser():
    if not Path(CHROMIUM).exists():
        message = f"{CHROMIUM} is not installed (apt-get install -y chromium)"
        if os.environ.get("CI") == "true":
            pytest.fail(f"{message}, and CI=true requires the browser tests")
        pytest.skip(message)
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
        yield chromium
        chromium.close()


class PageErrors(list):
    """Console errors and uncaught exceptions seen by one page."""


@pytest.fixture
def page_errors():
    return PageErrors()


@pytest.fixture
def page(browser, page_errors):
    context = browser.new_context(viewport=DESKTOP)
    context.set_default_timeout(15_000)
    tab = context.new_page()
    tab.on("console", lambda message: page_errors.append(message.text) if message.type == "error" else None)
    tab.on("pageerror", lambda error: page_errors.append(str(error)))
    yield tab
    context.close()


@pytest.fixture
def demo_live_server(live_server, settings, transactional_db):
    """The live server analysing demo prices, with a small known universe (and nothing else)."""
    from stocks.models import Stock
    from tests.factories import make_stock

    settings.THETOOL_DATA_SOURCE = "demo"
    Stock.objects.all().delete()  # migration 0002 seeded NIFTY 50 into the fresh database
    for symbol in ("RELIANCE", "TCS", "INFY", "M&M", "BAJAJ-AUTO"):
        make_stock(symbol)
    return live_server
