"""axe-core on every page, at desktop (1366 px) and phone (390 px) widths: no critical or serious violation.

axe-core is vendored under tests/browser/vendor/ (version and licence in VERSIONS.md) and injected into
each page by the test; TheTool never serves it. The admin's own pages are Django's and are not walked.
"""

from decimal import Decimal
from pathlib import Path

import pytest
from playwright.sync_api import expect

from alerts import services as alert_services
from jobs.models import AnalysisJob, JobStatus
from tests.browser.conftest import DESKTOP, PHONE
from tests.factories import make_result

pytestmark = pytest.mark.browser

AXE = Path(__file__).parent / "vendor" / "axe-4.14.1.min.js"
PASSWORD = "correct horse battery staple"
RUN_AXE = """async () => {
    const result = await axe.run(document, {resultTypes: ["violations"]});
    return result.violations
        .filter(v => v.impact === "critical" || v.impact === "serious")
        .map(v => `${v.id} (${v.impact}): ${v.nodes.slice(0, 3).map(n => n.target.join(" ")).join(", ")}`);
}"""


@pytest.fixture
def world(demo_live_server, settings, django_user_model):
    settings.THETOOL_OPEN_ACCESS = False
    user = django_user_model.objects.create_user("alice", email="alice@example.com", password=PASSWORD)
    job = AnalysisJob.objects.create(
        analysis_key="x" * 64,
        status=JobStatus.COMPLETED,
        symbols=["M&M.NS"],
        total=1,
        completed=1,
        successful=1,
        capital=Decimal("100000"),
        risk_percent=Decimal("2"),
        max_position_percent=Decimal("10"),
        data_source="demo",
    )
    make_result("M&M.NS", job=job)
    alert_services.save_subscription(user=user, data={"target_kind": "all", "trigger": "verdict", "channel": "email"})
    return {"server": demo_live_server, "job": job}


def pages(job) -> dict[str, str]:
    return {
        "stocks": "/",
        "stock": "/stocks/M%26M/",
        "strategies": "/strategies/",
        "jobs": "/jobs/",
        "job": f"/jobs/{job.pk}/",
        "alerts": "/alerts/",
        "account": "/accounts/",
        "password": "/accounts/password/",
        "not-found": "/stocks/NOPE/",
        "api-jobs": "/api/jobs/",
        "api-alerts": "/api/alerts/",
        "api-stock": "/api/stocks/M%26M.NS/",
    }


def sign_in(tab, server):
    tab.goto(server.url + "/accounts/login/")
    assert_no_serious_violations(tab, "login")
    tab.fill("#id_username", "alice")
    tab.fill("#id_password", PASSWORD)
    tab.click("button:has-text('Sign in')")
    expect(tab).to_have_url(server.url + "/")


def axe_violations(tab) -> list[str]:
    tab.add_script_tag(path=str(AXE))
    return tab.evaluate(RUN_AXE)


def assert_no_serious_violations(tab, name):
    violations = axe_violations(tab)
    assert violations == [], f"{name}: {violations}"


@pytest.mark.parametrize("viewport", [DESKTOP, PHONE], ids=["1366px", "390px"])
def test_every_page_has_no_critical_or_serious_axe_violation(world, browser, viewport):
    context = browser.new_context(viewport=viewport)
    tab = context.new_page()
    found = {}
    try:
        sign_in(tab, world["server"])
        for name, path in pages(world["job"]).items():
            tab.goto(world["server"].url + path)
            if name == "stock":
                tab.wait_for_selector("#price-chart canvas")
            violations = axe_violations(tab)
            if violations:
                found[name] = violations
    finally:
        context.close()
    if found:
        pytest.fail("\n".join(f"{name}: {violation}" for name, items in found.items() for violation in items))
