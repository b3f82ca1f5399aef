"""Every API URL answers a browser (Accept: text/html) with a page, never a 500.

The routes are read from the URL conf, so a new endpoint is covered without editing this file; a
route with a parameter this file cannot fill fails the test instead of being skipped.
"""

import uuid

import pytest
from django.urls import URLPattern, URLResolver, get_resolver, reverse

from tests.factories import clear_universe, make_job, make_result, make_stock

pytestmark = pytest.mark.django_db


def api_routes(patterns=None, prefix: str = "") -> list[tuple[str, list[str]]]:
    """(URL name, parameter names) of every named route under /api/."""
    routes = []
    for entry in get_resolver().url_patterns if patterns is None else patterns:
        if isinstance(entry, URLResolver):
            routes += api_routes(entry.url_patterns, prefix + str(entry.pattern))
        elif isinstance(entry, URLPattern) and (prefix + str(entry.pattern)).lstrip("^").startswith("api/"):
            routes.append((entry.name, list(entry.pattern.regex.groupindex)))
    return routes


@pytest.fixture
def world():
    clear_universe()
    make_stock("RELIANCE")
    job = make_job(["RELIANCE.NS", "TCS.NS"], status="completed", completed=2, successful=1)
    make_result("RELIANCE.NS", job=job)
    make_result("TCS.NS", job=job, error="no data returned")
    found = {"job_id": job.pk, "pk": job.pk, "symbol": "RELIANCE.NS", "strategy_id": 1, "watchlist_id": 1}
    missing = {
        "job_id": uuid.uuid4(),
        "pk": "not-a-uuid",
        "symbol": "NOSUCH.NS",
        "strategy_id": 99,
        "watchlist_id": 999999,
    }
    return found, missing


def urls_for(values: dict) -> list[str]:
    urls = []
    for name, parameters in api_routes():
        unknown = set(parameters) - set(values)
        assert not unknown, f"route {name} has parameters this test cannot fill: {unknown}"
        urls.append(reverse(name, kwargs={key: values[key] for key in parameters}))
    return urls


def test_the_walk_finds_every_api_route():
    names = {name for name, _ in api_routes()}
    assert {"api-stock-list", "api-stock-history", "api-job-list", "api-job-results", "api-docs"} <= names


@pytest.mark.parametrize("which", ["existing", "missing"])
def test_every_api_url_answers_a_browser_with_a_page_never_a_500(client, world, which):
    values = world[0] if which == "existing" else world[1]
    for url in urls_for(values):
        response = client.get(url, HTTP_ACCEPT="text/html")
        assert response.status_code < 500, f"{url}: {response.status_code}"
        if url != reverse("api-schema"):  # the schema is a document, offered as JSON or YAML only
            assert response["Content-Type"].startswith("text/html"), f"{url}: {response['Content-Type']}"


def test_the_stock_list_and_history_render_their_rows_in_the_browsable_api(client, world):
    listing = client.get("/api/stocks/", HTTP_ACCEPT="text/html")
    history = client.get("/api/stocks/RELIANCE.NS/history/", HTTP_ACCEPT="text/html")
    assert listing.status_code == 200 and "RELIANCE.NS" in listing.text
    assert history.status_code == 200 and "RELIANCE.NS" in history.text


def test_the_api_root_links_every_resource_list_and_each_link_answers(client, world, django_user_model):
    client.force_login(django_user_model.objects.create_user("alice"))  # watchlists and alerts need an account
    root = client.get("/api/", HTTP_ACCEPT="application/json")
    assert root.status_code == 200
    links = root.json()
    assert links["analyze"] == "http://testserver/api/analysis/analyze" and links["docs"].endswith("/api/docs/")
    listed = {url.removeprefix("http://testserver") for url in links.values()}
    assert {"/api/stocks/", "/api/jobs/", "/api/backtests/", "/api/watchlists/", "/api/alerts/"} <= listed
    for url in listed:  # every link leads somewhere real (a POST-only one answers GET with 405)
        assert client.get(url).status_code in (200, 405), url
    assert "<h1>TheTool API</h1>" in client.get("/api/", HTTP_ACCEPT="text/html").text  # the browsable page
