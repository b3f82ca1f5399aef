"""schemathesis over every operation of /api/schema/, against a live server: the schema is the code.

The schema is generated in-process at collection time (schemathesis needs the operations before
the live server exists; its lazy `from_fixture` loader does not run under pytest 9), and a test
checks that the live server serves exactly that document.

Each operation gets a bounded number of generated requests (valid and invalid ones); every answer
must be documented for that operation (status code, content type, body shape) and none may be a 5xx.
The server analyses demo prices and holds a small known universe. Bounded by example counts, not by
time: there are no timed assertions here.
"""

import json

import pytest
import requests
import schemathesis
from drf_spectacular.generators import SchemaGenerator
from hypothesis import HealthCheck, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from jobs import services
from jobs.models import AnalysisJob
from tests.factories import clear_universe, make_job, make_result, make_stock
from thetool.exceptions import ServiceUnavailable

CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance, response_schema_conformance]
# Enough to reach every documented answer of these small operations; ~15 operations x this stays
# within a couple of minutes on a 2-core machine.
MAX_EXAMPLES = 25


OPENAPI = SchemaGenerator().get_schema(request=None, public=True)
schema = schemathesis.openapi.from_dict(OPENAPI)


@pytest.fixture
def demo_server(live_server, settings, transactional_db):
    """The live server on demo prices, with a universe, a finished job and its results to find."""
    settings.THETOOL_DATA_SOURCE = "demo"
    clear_universe()
    for symbol in ("RELIANCE", "TCS", "M&M"):
        make_stock(symbol)
    job = make_job(["RELIANCE.NS", "TCS.NS"], status="completed", completed=2, successful=1)
    make_result("RELIANCE.NS", job=job)
    make_result("TCS.NS", job=job, error="no data returned")
    return live_server


def test_the_live_server_serves_the_schema_that_is_fuzzed(demo_server):
    served = requests.get(f"{demo_server.url}/api/schema/", headers={"Accept": "application/json"}, timeout=30)
    assert served.status_code == 200
    assert served.json() == json.loads(json.dumps(OPENAPI))
    assert len(list(schema.get_all_operations())) == sum(
        1
        for path in OPENAPI["paths"].values()
        for method in path
        if method in {"get", "post", "put", "patch", "delete"}
    )


@schema.parametrize()
@settings(
    max_examples=MAX_EXAMPLES,
    deadline=None,  # a loaded CI machine must not turn a slow answer into a failure
    suppress_health_check=list(HealthCheck),
    derandomize=True,  # the same cases on every run: a failure here is reproducible, never a flake
    database=None,  # derandomised, so there is nothing worth keeping in .hypothesis/
)
def test_every_answer_of_every_operation_is_documented_and_none_is_a_5xx(case, demo_server):
    case.call_and_validate(base_url=demo_server.url, checks=CHECKS)


# --- Answers that generated requests rarely reach, each checked against its operation's schema --------


def conforms(method: str, path: str, response: requests.Response) -> requests.Response:
    schema[path][method].validate_response(response)  # raises, naming the mismatch
    return response


@pytest.mark.parametrize(
    ("path", "key"), [("/api/stocks/analyze-all-stocks", "symbols"), ("/api/analysis/analyze", "tickers")]
)
def test_a_new_job_and_its_duplicate_answer_as_documented(demo_server, path, key):
    url = demo_server.url + path
    created = conforms("POST", path, requests.post(url, json={key: ["TCS.NS"]}, timeout=30))
    duplicate = conforms("POST", path, requests.post(url, json={key: ["TCS.NS"]}, timeout=30))
    assert (created.status_code, duplicate.status_code) == (201, 200)
    assert created.json()[key] == duplicate.json()[key] == ["TCS.NS"]


def test_status_cancel_conflict_results_and_progress_answer_as_documented(demo_server):
    base = demo_server.url
    job_id = requests.post(f"{base}/api/jobs/", json={"symbols": ["M&M.NS"]}, timeout=30).json()["job_id"]
    assert conforms("GET", "/api/analysis/status/{job_id}", requests.get(f"{base}/api/analysis/status/{job_id}"))
    cancelled = conforms("POST", "/api/jobs/{id}/cancel/", requests.post(f"{base}/api/jobs/{job_id}/cancel/"))
    conflict = conforms("POST", "/api/analysis/cancel/{job_id}", requests.post(f"{base}/api/analysis/cancel/{job_id}"))
    assert (cancelled.status_code, conflict.status_code) == (200, 409)
    finished = AnalysisJob.objects.get(status="completed")
    detail = conforms("GET", "/api/jobs/{id}/", requests.get(f"{base}/api/jobs/{finished.pk}/"))
    assert [row["symbol"] for row in detail.json()["results"]] == ["RELIANCE.NS"]
    results = conforms("GET", "/api/jobs/{id}/results/", requests.get(f"{base}/api/jobs/{finished.pk}/results/"))
    assert results.json()["results"][-1]["error"] == "no data returned"
    progress = conforms(
        "GET", "/api/stocks/all-stocks/progress", requests.get(f"{base}/api/stocks/all-stocks/progress")
    )
    assert [job["job_id"] for job in progress.json()["recently_finished"]] == [job_id]


def test_an_outage_answers_503_with_retry_after_as_documented(demo_server, monkeypatch):
    def unavailable(**kwargs):
        raise ServiceUnavailable("The database is unavailable", retry_after=7)

    monkeypatch.setattr(services, "request_analysis_job", unavailable)
    path = "/api/stocks/analyze-all-stocks"
    response = conforms("POST", path, requests.post(demo_server.url + path, json={"symbols": ["TCS.NS"]}, timeout=30))
    assert response.status_code == 503 and response.headers["Retry-After"] == "7"
    assert "Retry-After" in OPENAPI["paths"][path]["post"]["responses"]["503"]["headers"]
