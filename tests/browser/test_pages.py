"""End to end: Chromium on the live server, a real django-q2 cluster, demo prices.

What a trader does: tick stocks, Analyze Selected, watch the progress reach 100% and the verdicts
appear; press again and get the running job back; Analyze All; cancel; read a stock's chart.
Screenshots of every page at desktop and phone widths go to screenshots/ (git-ignored).
"""

import re
from decimal import Decimal

import pytest
from playwright.sync_api import expect

from jobs.models import AnalysisJob, JobStatus
from tests.browser.conftest import DESKTOP, PHONE, SCREENSHOTS
from tests.cluster import running_cluster, wait_for

pytestmark = [pytest.mark.browser, pytest.mark.cluster]

JOB_ID = re.compile(r"Job ID: ([0-9a-f-]{36})")
FINISH_TIMEOUT = 30_000  # ms; a demo job of five symbols takes about a second once picked up


def tick(page, *symbols):
    for symbol in symbols:
        page.check(f'#stock-table input[name="symbols"][value="{symbol}"]')


def job_id_in(page) -> str:
    return JOB_ID.search(page.inner_text("#analysis-status")).group(1)


def wait_until_finished(page):
    expect(page.locator("#job-progress")).to_have_attribute("data-status", "completed", timeout=FINISH_TIMEOUT)
    expect(page.locator("#job-progress .progress-percent")).to_have_text("100%")


def test_analyze_selected_shows_started_message_live_progress_and_verdicts(demo_live_server, page, page_errors):
    with running_cluster("browser-selected"):
        page.goto(demo_live_server.url + "/")
        tick(page, "RELIANCE.NS", "TCS.NS")
        expect(page.locator("#analyze-selected")).to_contain_text("(2)")
        page.click("#analyze-selected")
        expect(page.locator("#analysis-status")).to_contain_text("Analysis started. Job ID: ")
        job_id = job_id_in(page)
        assert page.url == demo_live_server.url + "/"  # htmx: no page load, no redirect
        wait_until_finished(page)
        # The finished poll fires job-finished; the table fragment reloads with the new verdicts.
        for symbol in ("RELIANCE.NS", "TCS.NS"):
            expect(page.locator(f'tr[data-symbol="{symbol}"] .verdict-badge')).to_be_visible()
            expect(page.locator(f'tr[data-symbol="{symbol}"] .badge.demo')).to_have_text("DEMO")
        expect(page.locator('tr[data-symbol="INFY.NS"] .verdict-badge')).to_have_count(0)
    job = AnalysisJob.objects.get(pk=job_id)
    assert job.status == JobStatus.COMPLETED and job.symbols == ["RELIANCE.NS", "TCS.NS"]
    assert page_errors == []


def test_second_click_while_running_shows_the_same_job_and_it_can_be_cancelled(demo_live_server, page, page_errors):
    # No cluster: the job stays queued, i.e. still running as far as deduplication is concerned.
    page.goto(demo_live_server.url + "/")
    tick(page, "INFY.NS", "M&M.NS")
    page.click("#analyze-selected")
    expect(page.locator("#analysis-status")).to_contain_text("Analysis started. Job ID: ")
    job_id = job_id_in(page)
    expect(page.locator("#job-progress")).to_have_attribute("data-status", "queued")

    # Starting a job empties the selection basket; ticking the same stocks again asks again.
    expect(page.locator('#stock-table input[name="symbols"]:checked')).to_have_count(0)
    tick(page, "INFY.NS", "M&M.NS")
    page.click("#analyze-selected")
    expect(page.locator("#analysis-status")).to_contain_text(
        f"Analysis already running for these stocks. Job ID: {job_id} (Progress: 0/2)"
    )
    expect(page.locator("#analysis-status .message.error")).to_have_count(0)
    assert AnalysisJob.objects.count() == 1

    page.goto(f"{demo_live_server.url}/jobs/{job_id}/")
    page.click("#job-progress button:has-text('Cancel')")
    expect(page.locator(".messages")).to_contain_text(f"Job {job_id} cancelled.")
    expect(page.locator("#job-status")).to_have_text("Cancelled")
    expect(page.locator("#job-progress button")).to_have_count(0)
    assert AnalysisJob.objects.get(pk=job_id).status == JobStatus.CANCELLED
    assert page_errors == []


def test_analyze_all_covers_the_whole_universe(demo_live_server, page, page_errors):
    with running_cluster("browser-all"):
        page.goto(demo_live_server.url + "/")
        page.click("#analyze-all")
        expect(page.locator("#analysis-status")).to_contain_text("Analysis started. Job ID: ")
        wait_until_finished(page)
        expect(page.locator("#job-progress .progress-count")).to_contain_text("5/5")
        expect(page.locator("#stock-table tbody .verdict-badge")).to_have_count(5)
    assert AnalysisJob.objects.get().is_all_stocks
    assert page_errors == []


def test_analyze_now_on_a_stock_page_draws_the_chart_with_levels(demo_live_server, page, page_errors):
    with running_cluster("browser-stock"):
        page.goto(demo_live_server.url + "/stocks/M%26M/")
        expect(page.locator(".verdict-panel")).to_contain_text("Not analysed yet")
        page.click("button:has-text('Analyze now')")
        wait_until_finished(page)
        expect(page.locator("#latest-verdict")).to_be_visible()
    expect(page.locator("table.indicators tbody tr")).to_have_count(12)
    expect(page.locator(".overlay-toggles .key.levels")).to_be_visible()
    assert painted_pixels(page) > 2_000
    assert page_errors == []


def painted_pixels(page) -> int:
    """Non-white pixels over the chart's canvases (lightweight-charts draws panes and axes on several)."""
    page.wait_for_selector("#price-chart canvas")
    return page.evaluate(
        """() => {
            let painted = 0;
            for (const canvas of document.querySelectorAll('#price-chart canvas')) {
                if (!canvas.width || !canvas.height) continue;
                const data = canvas.getContext('2d').getImageData(0, 0, canvas.width, canvas.height).data;
                for (let i = 0; i < data.length; i += 4) {
                    const alpha = data[i + 3], white = data[i] > 245 && data[i + 1] > 245 && data[i + 2] > 245;
                    if (alpha > 0 && !white) painted++;
                }
            }
            return painted;
        }"""
    )


def test_every_page_fits_desktop_and_phone_without_overflow(demo_live_server, browser):
    """Screenshots for a human eye, plus the check a machine can make: no sideways scrolling."""
    from jobs.services import request_analysis_job

    with running_cluster("browser-screens"):
        job, _ = request_analysis_job(symbols=None, requested_by="test")
        wait_for(lambda: AnalysisJob.objects.get(pk=job.pk).status == JobStatus.COMPLETED, message="job completes")
    request_analysis_job(symbols=["INFY.NS", "TCS.NS"], requested_by="test")  # stays queued: an active row
    pages = {
        "stocks": "/",
        "stock": "/stocks/M%26M/",
        "jobs": "/jobs/",
        "job": f"/jobs/{job.pk}/",
        "strategies": "/strategies/",
        "not-found": "/stocks/NOPE/",
    }
    SCREENSHOTS.mkdir(exist_ok=True)
    overflowing = []
    for width_name, viewport in (("desktop", DESKTOP), ("phone", PHONE)):
        context = browser.new_context(viewport=viewport)
        errors = []
        tab = context.new_page()
        tab.on(
            "console", lambda message, errors=errors: errors.append(message.text) if message.type == "error" else None
        )
        for name, path in pages.items():
            tab.goto(demo_live_server.url + path)
            if name == "stock":
                tab.wait_for_selector("#price-chart canvas")
            tab.screenshot(path=str(SCREENSHOTS / f"{name}-{width_name}.png"), full_page=True)
            if tab.evaluate("document.documentElement.scrollWidth > window.innerWidth"):
                overflowing.append(f"{name} at {width_name}")
        context.close()
        # The 404 page logs its own "Failed to load resource: 404", which is the point of it.
        assert [e for e in errors if "404" not in e] == []
    assert overflowing == []


# --- Pages a trader can trust -----------------------------------------------------------------------


def test_any_positive_rupee_capital_submits_and_cancel_from_the_stocks_page_says_so(
    demo_live_server, page, page_errors
):
    from tests.factories import make_result

    make_result("RELIANCE.NS", capital=Decimal("123456"))
    page.goto(demo_live_server.url + "/stocks/RELIANCE/")
    expect(page.locator('#analyze-form input[name="capital"]')).to_have_value("123456")
    page.click("button:has-text('Analyze now')")
    expect(page.locator("#analysis-status")).to_contain_text("Analysis started. Job ID: ")

    page.goto(demo_live_server.url + "/")
    page.fill('#analyze-form input[name="capital"]', "250500")
    page.click("#analyze-all")
    expect(page.locator("#analysis-status")).to_contain_text("Analysis started. Job ID: ")
    all_stocks = AnalysisJob.objects.get(pk=job_id_in(page))
    assert sorted(job.capital for job in AnalysisJob.objects.all()) == [Decimal("123456"), Decimal("250500")]

    page.click("#job-progress button:has-text('Cancel')")
    expect(page.locator(".messages")).to_contain_text(f"Job {all_stocks.pk} cancelled.")
    assert page.url == demo_live_server.url + "/"  # back where Cancel was pressed
    all_stocks.refresh_from_db()
    assert all_stocks.status_reason.startswith("Cancelled from the All stocks page")
    assert page_errors == []


def basket_count(page):
    return page.locator("#basket-count")


def test_ticked_stocks_survive_search_page_change_and_reload_until_analysed(
    demo_live_server, page, page_errors, monkeypatch
):
    from stocks import pages

    monkeypatch.setattr(pages, "PAGE_SIZE", 2)  # BAJAJ-AUTO, INFY | M&M, RELIANCE | TCS
    page.goto(demo_live_server.url + "/")
    expect(page.locator("#basket")).to_be_hidden()
    tick(page, "INFY.NS")
    page.click("#stock-table a[rel=next]")
    expect(page.locator('#stock-table tr[data-symbol="M&M.NS"]')).to_be_visible()
    tick(page, "M&M.NS")
    expect(basket_count(page)).to_contain_text("2 stocks selected")
    page.fill("#q", "tcs")
    expect(page.locator("#stock-table tbody tr")).to_have_count(1)
    tick(page, "TCS.NS")
    expect(basket_count(page)).to_contain_text("3 stocks selected")
    expect(page.locator("#analyze-selected")).to_contain_text("(3)")

    page.reload()
    expect(basket_count(page)).to_contain_text("3 stocks selected")
    expect(page.locator('#stock-table input[value="TCS.NS"]')).to_be_checked()
    page.goto(demo_live_server.url + "/")
    expect(page.locator('#stock-table input[value="INFY.NS"]')).to_be_checked()
    expect(page.locator('#stock-table input[value="BAJAJ-AUTO.NS"]')).not_to_be_checked()

    page.click("#analyze-selected")
    expect(page.locator("#analysis-status")).to_contain_text("Analysis started. Job ID: ")
    assert AnalysisJob.objects.get(pk=job_id_in(page)).symbols == ["INFY.NS", "M&M.NS", "TCS.NS"]
    expect(page.locator("#basket")).to_be_hidden()
    expect(page.locator('#stock-table input[value="INFY.NS"]')).not_to_be_checked()
    assert page_errors == []


def test_clear_selection_empties_the_basket(demo_live_server, page, page_errors):
    page.goto(demo_live_server.url + "/")
    tick(page, "INFY.NS", "TCS.NS")
    expect(basket_count(page)).to_contain_text("2 stocks selected")
    page.click("#basket-clear")
    expect(page.locator("#basket")).to_be_hidden()
    page.reload()
    expect(page.locator('#stock-table input[name="symbols"]:checked')).to_have_count(0)
    expect(page.locator("#analyze-selected .selected-count")).to_have_text("")
    assert page_errors == []


def test_choosing_a_strategy_shows_its_verdicts_in_the_table(demo_live_server, page, page_errors):
    from tests.factories import make_result

    make_result("TCS.NS", verdict="Sell", score=-0.4)
    make_result("TCS.NS", strategy_id=3, verdict="Strong Buy", score=0.8)
    page.goto(demo_live_server.url + "/")
    expect(page.locator("#table-strategy")).to_have_text("Balanced")
    expect(page.locator('tr[data-symbol="TCS.NS"] .verdict-badge')).to_have_text("Sell")
    page.select_option("#strategy-select", "3")
    expect(page.locator("#table-strategy")).to_have_text("Mean Reversion")
    expect(page.locator('tr[data-symbol="TCS.NS"] .verdict-badge')).to_have_text("Strong Buy")
    expect(page.locator("#stock-table .shown-strategy")).to_contain_text("oversold")
    assert "strategy=3" in page.url
    page.click("#stock-table .strategy-tabs a:has-text('Balanced')")
    expect(page.locator("#strategy-select")).to_have_value("1")
    expect(page.locator('tr[data-symbol="TCS.NS"] .verdict-badge')).to_have_text("Sell")
    assert page_errors == []


def test_production_error_pages_are_theirs_and_fit_a_phone(demo_live_server, browser, monkeypatch):
    from stocks import selectors

    def crashing(symbol):
        raise RuntimeError("boom")

    monkeypatch.setattr(selectors, "get_stock", crashing)
    SCREENSHOTS.mkdir(exist_ok=True)
    context = browser.new_context(viewport=PHONE)
    tab = context.new_page()
    for name, path, status, text in (
        ("not-found", "/no/such/page/", 404, "Not found"),
        ("server-error", "/stocks/RELIANCE/", 500, "Something went wrong"),
    ):
        response = tab.goto(demo_live_server.url + path)
        assert response.status == status
        expect(tab.locator("h1")).to_have_text(text)
        expect(tab.locator(".site-header .brand")).to_have_text("TheTool")
        tab.screenshot(path=str(SCREENSHOTS / f"{name}-phone.png"), full_page=True)
        assert not tab.evaluate("document.documentElement.scrollWidth > window.innerWidth"), name
    context.close()


def test_without_javascript_the_strategy_is_kept_and_cancel_says_where_it_came_from(demo_live_server, browser):
    context = browser.new_context(viewport=DESKTOP, java_script_enabled=False)
    tab = context.new_page()
    tab.goto(demo_live_server.url + "/")
    tab.select_option("#strategy-select", "3")
    tab.fill('#analyze-form input[name="capital"]', "250500")
    tab.click("#analyze-all")
    expect(tab.locator(".messages")).to_contain_text("Analysis started. Job ID: ")
    expect(tab.locator("#strategy-select")).to_have_value("3")
    expect(tab.locator('#analyze-form input[name="capital"]')).to_have_value("250500")
    expect(tab.locator("#table-strategy")).to_have_text("Mean Reversion")
    job = AnalysisJob.objects.get()
    assert job.strategy_id == 3 and job.capital == Decimal("250500")

    tab.click("#job-progress button:has-text('Cancel')")
    expect(tab.locator(".messages")).to_contain_text(f"Job {job.pk} cancelled.")
    expect(tab.locator("#table-strategy")).to_have_text("Mean Reversion")
    job.refresh_from_db()
    assert job.status_reason.startswith("Cancelled from the All stocks page")
    context.close()
