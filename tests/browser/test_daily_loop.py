"""The trader's daily loop in a browser: make a watchlist from the basket, schedule a scan, run it
(the due-scan runner and the job, called directly), and read what changed."""

import re
from datetime import timedelta

import pytest
from django.utils import timezone
from playwright.sync_api import expect

from jobs.tasks import run_analysis_job
from tests.factories import make_result
from watchlists.models import ScheduledScan, Watchlist
from watchlists.services import run_due_scans

pytestmark = pytest.mark.browser
PASSWORD = "correct horse battery staple"


@pytest.fixture
def alice_server(demo_live_server, django_user_model):
    django_user_model.objects.create_user("alice", password=PASSWORD)
    return demo_live_server


def test_watchlist_scan_and_what_changed(alice_server, page, page_errors):
    server = alice_server
    page.goto(server.url + "/accounts/login/?next=/")
    page.fill("#id_username", "alice")
    page.fill("#id_password", PASSWORD)
    page.click("button:has-text('Sign in')")
    expect(page).to_have_url(server.url + "/")

    # Tick two stocks (the basket) and add them to a new watchlist.
    page.check('#stock-table input[name="symbols"][value="TCS.NS"]')
    page.check('#stock-table input[name="symbols"][value="INFY.NS"]')
    page.fill('#watchlist-add-form input[name="name"]', "IT")
    page.click("#watchlist-add")
    expect(page.locator(".messages")).to_contain_text("Added 2 stocks to watchlist IT.")
    watchlist = Watchlist.objects.get(name="IT")
    assert sorted(watchlist.items.values_list("stock__symbol", flat=True)) == ["INFY", "TCS"]
    expect(page.locator(".messages a")).to_have_attribute("href", f"/watchlists/{watchlist.pk}/")

    # Schedule an end-of-day scan of it, from the menu's Watchlists.
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Watchlists").click()
    expect(page).to_have_url(server.url + "/watchlists/")
    page.select_option('select[name="target"]', f"watchlist:{watchlist.pk}")
    page.fill('form[action="/scans/"] input[name="name"]', "IT after the close")
    page.click("button:has-text('Schedule scan')")
    expect(page.locator(".messages")).to_contain_text("Scan 'IT after the close' scheduled; next run")
    scan = ScheduledScan.objects.get()

    # Yesterday's verdict, then the scan fires at its due time and its job runs (demo prices).
    make_result("TCS.NS", verdict="Strong Sell", score=-0.9, created_at=timezone.now() - timedelta(days=2))
    (run,) = run_due_scans(now=scan.next_run_at + timedelta(minutes=1))
    assert run_analysis_job(str(run.job_id)) == "completed"

    page.goto(server.url + f"/changes/?watchlist={watchlist.pk}")
    row = page.locator('tr[data-symbol="TCS.NS"]')
    expect(row).to_contain_text("Strong Sell")  # the verdict before the scan
    expect(row.locator("svg.sparkline")).to_have_count(1)
    expect(page.locator('tr[data-symbol="INFY.NS"]')).to_contain_text(re.compile("New"))
    assert not page_errors, page_errors
