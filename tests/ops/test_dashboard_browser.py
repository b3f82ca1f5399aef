"""The dashboard's charts draw in a real browser (Debian's Chromium through Playwright)."""

import pytest
from django.contrib.auth.models import User

from jobs.models import JobStatus
from tests.browser.conftest import SCREENSHOTS, browser, page, page_errors  # noqa: F401 (fixtures)
from tests.ops.conftest import make_job

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_the_dashboard_draws_both_charts_without_errors(live_server, page, page_errors):  # noqa: F811
    User.objects.create_user("ops", password="pw-for-tests-only", is_staff=True)
    for hours in range(0, 48, 3):
        make_job(status=JobStatus.COMPLETED, age_seconds=hours * 3600, duplicate_count=hours % 4)

    page.goto(f"{live_server.url}/admin/login/?next=/admin/dashboard/%3Frange%3D7d")
    page.fill("#id_username", "ops")
    page.fill("#id_password", "pw-for-tests-only")
    page.click("input[type=submit]")
    page.wait_for_url("**/admin/dashboard/?range=7d")
    page_errors.clear()  # Django's own login page asks for /favicon.ico, which is not ours to judge here
    page.reload()

    for chart in ("#chart-requests", "#chart-outcomes"):
        page.wait_for_selector(f"{chart} canvas")
    assert page.locator('[data-metric="created"]').inner_text() == "16"
    SCREENSHOTS.mkdir(exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / "ops-dashboard.png"), full_page=True)
    assert page_errors == []
