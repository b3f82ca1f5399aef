"""Bad input answers 4xx, never 500, and changes nothing.

Each case was a 500 before (measured in issue 7): a 10 MB JSON body, JSON nested 100,000 deep
(or 5,000 deep inside `symbols`), more than 1,000 form fields, `/?q=%00` on PostgreSQL. The API
answers in its one error shape; pages answer with a plain HTML 400 page. The module runs in both
passes of `make test` (SQLite and PostgreSQL).
"""

import json

import pytest
from django.core.exceptions import DisallowedHost, RequestDataTooBig, SuspiciousOperation, TooManyFieldsSent
from django.test import Client
from django.test.client import encode_multipart

from jobs.models import AnalysisJob
from tests.factories import clear_universe, make_stock
from thetool.api import exception_handler

pytestmark = pytest.mark.django_db

ANALYZE_ALL = "/api/stocks/analyze-all-stocks"
JOB_CREATING = [ANALYZE_ALL, "/api/analysis/analyze", "/api/jobs/"]


@pytest.fixture(autouse=True)
def universe(settings):
    """One active stock, so an empty request would start a real (universe) job if it got through."""
    settings.THETOOL_DATA_SOURCE = "demo"
    clear_universe()
    make_stock("RELIANCE")


@pytest.fixture
def client():
    return Client(raise_request_exception=False)


def assert_error(response, status: int, code: str | None = None) -> dict:
    assert response.status_code == status, response.content[:500]
    assert response["Content-Type"].startswith("application/json")
    body = response.json()
    assert set(body) == {"error"} and set(body["error"]) == {"code", "message", "details"}
    assert body["error"]["message"]
    if code:
        assert body["error"]["code"] == code
    return body["error"]


def assert_html_error(response, status: int) -> None:
    assert response.status_code == status, response.content[:500]
    assert response["Content-Type"].startswith("text/html")
    assert b"<!doctype html>" in response.content[:100]


def post_json(client, url: str, raw: str):
    return client.post(url, raw, content_type="application/json")


def nested(depth: int) -> str:
    return "[" * depth + "]" * depth


# --- Sizes and depths --------------------------------------------------------------------------------


def test_a_10_mb_json_body_is_413_and_creates_nothing(client):
    symbols = json.dumps(["RELIANCE.NS"] * 800_000)  # ~11 MB
    response = post_json(client, ANALYZE_ALL, f'{{"symbols": {symbols}}}')
    assert_error(response, 413, "request_too_large")
    assert not AnalysisJob.objects.exists()


def test_a_10_mb_page_form_is_an_html_413_and_creates_nothing(client):
    response = client.post("/analyze/", {"action": "all", "capital": "1" * 10_000_000, "strategy": "1"})
    assert_html_error(response, 413)
    assert not AnalysisJob.objects.exists()


def test_the_size_limit_is_a_setting(client, settings):
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 10_000
    body = json.dumps({"symbols": ["RELIANCE.NS"], "capital": "1" * 10_000})
    assert_error(post_json(client, ANALYZE_ALL, body), 413, "request_too_large")


@pytest.mark.parametrize(
    "raw",
    [nested(100_000), f'{{"symbols": {nested(5_000)}}}', f'{{"symbols": {nested(900)}}}'],
    ids=["100000-deep", "5000-deep-in-symbols", "900-deep-in-symbols"],
)
def test_deeply_nested_json_is_400_and_creates_nothing(client, raw):
    assert_error(post_json(client, ANALYZE_ALL, raw), 400)
    assert not AnalysisJob.objects.exists()


def test_more_than_1000_form_fields_on_a_page_is_an_html_400(client):
    fields = {f"symbols{i}": "RELIANCE" for i in range(1_001)} | {"action": "all", "capital": "100000"}
    assert_html_error(client.post("/analyze/", fields), 400)
    assert not AnalysisJob.objects.exists()


def test_more_than_1000_form_fields_to_the_api_is_415_not_500(client):
    """The API reads JSON only, so a form is refused for what it is before its fields are counted."""
    response = client.post(ANALYZE_ALL, {f"symbols{i}": "RELIANCE" for i in range(1_001)})
    assert_error(response, 415, "unsupported_media_type")
    assert not AnalysisJob.objects.exists()


def test_more_than_1000_query_fields_is_400_in_the_error_shape(client):
    query = "&".join(f"f{i}=1" for i in range(1_001))
    assert_error(client.get(f"/api/stocks/?{query}"), 400, "too_many_fields")
    assert_html_error(client.get(f"/?{query}"), 400)


# --- NUL characters ------------------------------------------------------------------------------------


@pytest.mark.parametrize("path", ["/?q=%00", "/jobs/?status=%00", "/?%00=1"])
def test_a_nul_byte_in_a_page_query_is_an_html_400(client, path):
    assert_html_error(client.get(path), 400)


@pytest.mark.parametrize("path", ["/api/stocks/?q=%00", "/api/jobs/?status=a%00b", "/api/stocks/RELI%00ANCE.NS/"])
def test_a_nul_byte_in_an_api_query_or_path_is_400_in_the_error_shape(client, path):
    assert_error(client.get(path), 400, "invalid")


@pytest.mark.parametrize(
    "body",
    [{"symbols": ["RELI\x00ANCE"]}, {"symbols": ["RELIANCE"], "capital": "10\x000"}, {"symbols\x00": ["RELIANCE"]}],
    ids=["in-a-symbol", "in-capital", "in-a-key"],
)
def test_a_nul_character_in_a_json_body_is_400_and_creates_nothing(client, body):
    assert_error(post_json(client, ANALYZE_ALL, json.dumps(body)), 400, "parse_error")
    assert not AnalysisJob.objects.exists()


def test_a_nul_byte_in_a_page_form_field_is_an_html_400(client):
    response = client.post("/analyze/", {"action": "selected", "symbols": "RELI\x00ANCE", "capital": "100000"})
    assert_html_error(response, 400)
    assert not AnalysisJob.objects.exists()


# --- Django's own 400s stay 400 inside the API ---------------------------------------------------------


@pytest.mark.parametrize(
    ("error", "status", "code"),
    [
        (RequestDataTooBig("too big"), 413, "request_too_large"),
        (TooManyFieldsSent("too many"), 400, "too_many_fields"),
        (SuspiciousOperation("odd"), 400, "bad_request"),
        (DisallowedHost("evil.example"), 400, "bad_request"),
    ],
)
def test_the_api_answers_djangos_own_refusals_as_4xx_not_500(error, status, code):
    response = exception_handler(error, {"view": None})
    assert response.status_code == status
    assert response.data["error"]["code"] == code


@pytest.mark.parametrize("debug", [False, True], ids=["production", "debug"])
def test_a_url_that_matches_no_api_route_is_a_json_404_with_debug_on_too(client, settings, debug):
    """`make run` runs with DEBUG on, where Django answered its technical HTML 404 page instead."""
    settings.DEBUG = debug
    error = assert_error(client.get("/api/no-such-endpoint/"), 404, "not_found")
    assert "/api/no-such-endpoint/" in error["message"]
    assert_error(client.get("/api/stocks/%F0%9F%92%A9/"), 404, "not_found")  # matches no symbol pattern


@pytest.mark.parametrize("debug", [False, True], ids=["production", "debug"])
def test_a_disallowed_host_on_the_api_is_400_in_the_error_shape_with_debug_on_too(client, settings, debug):
    settings.DEBUG = debug
    assert_error(client.get("/api/stocks/", HTTP_HOST="evil.example"), 400, "bad_request")


def test_with_debug_on_pages_and_the_browsable_api_keep_their_html(client, settings):
    settings.DEBUG = True
    page = client.get("/no-such-page/")
    assert page.status_code == 404 and page["Content-Type"].startswith("text/html")
    browsable = client.get("/api/jobs/00000000-0000-0000-0000-000000000000/", HTTP_ACCEPT="text/html")
    assert browsable.status_code == 404 and browsable["Content-Type"].startswith("text/html")
    assert b"job_not_found" in browsable.content or b"Not found" in browsable.content
    # An API route's own trailing-slash redirect still happens (CommonMiddleware runs inside).
    assert client.get("/api/jobs").status_code == 301


# --- JSON only where jobs are created -------------------------------------------------------------------


@pytest.mark.parametrize("url", JOB_CREATING)
@pytest.mark.parametrize(
    ("content_type", "body"),
    [
        ("application/x-www-form-urlencoded", "symbols=RELIANCE"),
        ("application/x-www-form-urlencoded", ""),
        ("multipart/form-data; boundary=BoUnDaRy", encode_multipart("BoUnDaRy", {"symbols": "RELIANCE"})),
        ("multipart/form-data; boundary=BoUnDaRy", ""),
        ("text/plain", '{"symbols": ["RELIANCE"]}'),
    ],
    ids=["form", "empty-form", "multipart", "empty-multipart", "text-plain"],
)
def test_job_creation_refuses_anything_but_json_with_415(client, url, content_type, body):
    assert_error(client.post(url, body, content_type=content_type), 415, "unsupported_media_type")
    assert not AnalysisJob.objects.exists()


@pytest.mark.parametrize("url", JOB_CREATING)
def test_job_creation_without_a_content_type_is_415(client, url):
    response = client.generic("POST", url)  # no body, no Content-Type: what a no-cors fetch can send
    assert_error(response, 415, "unsupported_media_type")
    assert not AnalysisJob.objects.exists()


def test_job_creation_still_accepts_json(client):
    assert post_json(client, ANALYZE_ALL, '{"symbols": ["RELIANCE"]}').status_code == 201


def test_the_browsable_api_offers_a_json_form_for_job_creation(client):
    response = client.get(ANALYZE_ALL, HTTP_ACCEPT="text/html")
    assert response.status_code == 405  # GET is not allowed; the page still renders the raw-data form
    html = response.content.decode()
    assert 'id="id__content_type"' in html
    assert '<option value="application/json"' in html
    assert "multipart/form-data" not in html and "application/x-www-form-urlencoded" not in html
