"""Every page loads only from TheTool itself: no CDN, no third-party script, and it all works offline.

The browser records every request each page makes and refuses any to another origin (as a machine
without internet would); the test then asserts there were none, and that the API docs still render
their operations.
"""

from urllib.parse import urlsplit

import pytest
from drf_spectacular.generators import SchemaGenerator
from playwright.sync_api import expect

from tests.factories import make_job, make_result

pytestmark = pytest.mark.browser

HTTP_METHODS = {"get", "put", "post", "delete", "options", "head", "patch", "trace"}


def schema_operations() -> int:
    """Every operation of /api/schema/ (tests/test_schema_conformance.py walks them all)."""
    paths = SchemaGenerator().get_schema(request=None, public=True)["paths"]
    return sum(1 for operations in paths.values() for method in operations if method in HTTP_METHODS)


@pytest.fixture
def foreign_requests(page, demo_live_server):
    """Requests the page made to any origin but the live server's (each one refused)."""
    own = urlsplit(demo_live_server.url).netloc
    seen = []

    def record(request):
        url = urlsplit(request.url)
        if url.scheme in {"http", "https", "ws", "wss"} and url.netloc != own:
            seen.append(request.url)

    def refuse_foreign(route):
        url = urlsplit(route.request.url)
        if url.scheme in {"http", "https"} and url.netloc != own:
            route.abort("internetdisconnected")
        else:
            route.continue_()

    page.on("request", record)
    page.route("**/*", refuse_foreign)
    return seen


@pytest.fixture
def finished_job():
    job = make_job(["RELIANCE.NS", "TCS.NS"], status="completed", completed=2, successful=1)
    make_result("RELIANCE.NS", job=job)
    make_result("TCS.NS", job=job, error="no data returned")
    return job


def test_no_page_loads_anything_from_another_origin(demo_live_server, page, foreign_requests, finished_job):
    make_result("RELIANCE.NS")  # the stock page then shows a verdict, a trade plan and a chart
    paths = [
        "/",
        "/jobs/",
        f"/jobs/{finished_job.pk}/",
        "/stocks/RELIANCE.NS/",
        "/strategies/",
        "/api/docs/",
        "/api/stocks/",
        "/admin/login/",
    ]
    for path in paths:
        response = page.goto(demo_live_server.url + path, wait_until="networkidle")
        assert response.status == 200, f"{path}: {response.status}"
    assert foreign_requests == []


def test_the_api_docs_render_every_operation_offline(demo_live_server, page, page_errors, foreign_requests):
    page.goto(demo_live_server.url + "/api/docs/")
    operations = schema_operations()
    assert operations >= 31  # the API's operations as of this test, and more as it grows
    expect(page.locator(".opblock")).to_have_count(operations, timeout=15_000)
    expect(page.locator(".opblock-summary-path", has_text="/api/stocks/analyze-all-stocks")).to_be_visible()
    assert foreign_requests == []
    assert page_errors == []
