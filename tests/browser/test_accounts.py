"""End to end with sign-in required: sign in, analyse, see the job as yours, sign out; and a page on
another origin cannot start a job with the signed-in user's browser."""

import re

import pytest
from playwright.sync_api import expect

from jobs.models import AnalysisJob

pytestmark = pytest.mark.browser

JOB_ID = re.compile(r"Job ID: ([0-9a-f-]{36})")
EVIL = "http://evil.test/"


@pytest.fixture
def signed_in_required(demo_live_server, settings, django_user_model):
    settings.THETOOL_OPEN_ACCESS = False
    django_user_model.objects.create_user("alice", password="correct horse battery staple")
    return demo_live_server


def sign_in(page, server):
    page.goto(server.url + "/")
    expect(page).to_have_url(re.compile(r"/accounts/login/\?next=/$"))
    page.fill("#id_username", "alice")
    page.fill("#id_password", "correct horse battery staple")
    page.click("button:has-text('Sign in')")
    expect(page).to_have_url(server.url + "/")


def test_sign_in_analyse_see_the_job_as_mine_and_sign_out(signed_in_required, page, page_errors):
    server = signed_in_required
    sign_in(page, server)
    expect(page.locator(".open-access-banner")).to_have_count(0)
    expect(page.locator(".account-nav")).to_contain_text("alice")
    page.check('#stock-table input[name="symbols"][value="RELIANCE.NS"]')
    page.click("#analyze-selected")
    expect(page.locator("#analysis-status")).to_contain_text("Analysis started. Job ID: ")
    job_id = JOB_ID.search(page.inner_text("#analysis-status")).group(1)

    page.goto(server.url + "/jobs/?mine=true")
    row = page.locator(f'tr[data-job-id="{job_id}"]')
    expect(row).to_contain_text("alice")
    expect(row.locator(".badge.mine")).to_have_text("you")
    assert AnalysisJob.objects.get(pk=job_id).requested_by_user.username == "alice"

    page.click("button:has-text('Sign out')")
    page.goto(server.url + "/jobs/")
    expect(page).to_have_url(re.compile(r"/accounts/login/"))
    assert page_errors == []


def test_a_page_on_another_origin_cannot_start_a_job(signed_in_required, page):
    server = signed_in_required
    sign_in(page, server)
    before = AnalysisJob.objects.count()
    api = server.url + "/api/stocks/analyze-all-stocks"
    page.route(
        EVIL + "**",
        lambda route: route.fulfill(
            content_type="text/html",
            body=f'<form id="f" method="post" action="{api}"><input name="symbols" value="RELIANCE.NS"></form>',
        ),
    )
    page.goto(EVIL)
    outcome = page.evaluate(
        """async (url) => {
            try {
                const r = await fetch(url, {method: "POST", credentials: "include",
                    headers: {"Content-Type": "application/json"}, body: JSON.stringify({symbols: ["TCS.NS"]})});
                return "status " + r.status;
            } catch (e) { return "refused: " + e; }
        }""",
        api,
    )
    assert outcome.startswith("refused"), outcome  # no CORS: the browser never lets the request through
    with page.expect_navigation():
        page.evaluate("document.getElementById('f').submit()")
    assert '"error"' in page.content()  # answered with the error shape, not a job
    assert AnalysisJob.objects.count() == before
