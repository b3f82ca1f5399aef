"""The job API contract existing clients rely on, including the seed guide's four checks."""

import json
import uuid
from datetime import timedelta

import pytest
from django.db import OperationalError
from django.utils import timezone
from rest_framework.test import APIClient

from jobs import services
from jobs.models import AnalysisJob, JobStatus
from stocks.models import AnalysisResult

pytestmark = pytest.mark.django_db(transaction=True)

ANALYZE_ALL = "/api/stocks/analyze-all-stocks"
ANALYZE = "/api/analysis/analyze"


@pytest.fixture
def api():
    return APIClient()


def post(api, url, body):
    return api.post(url, body, format="json")


def assert_error(response, status, code=None):
    assert response.status_code == status, response.content
    body = response.json()
    assert set(body) == {"error"}
    assert set(body["error"]) == {"code", "message", "details"}
    assert body["error"]["message"]
    if code:
        assert body["error"]["code"] == code
    return body["error"]


# --- The seed deployment guide's four checks ---------------------------------------------------


def test_1_first_request_creates_a_queued_job(api):
    response = post(api, ANALYZE_ALL, {"symbols": ["20MICRONS.NS"]})
    assert response.status_code == 201
    body = response.json()
    uuid.UUID(body["job_id"])
    assert body["status"] == "queued"
    assert body["symbols"] == ["20MICRONS.NS"]
    assert body["capital"] == 100000
    assert body["count"] == 1
    assert body["thread_started"] is True


def test_2_the_same_request_returns_the_same_job_with_progress(api):
    first = post(api, ANALYZE_ALL, {"symbols": ["20MICRONS.NS"]}).json()
    response = post(api, ANALYZE_ALL, {"symbols": ["20MICRONS.NS"]})
    assert response.status_code == 200
    body = response.json()
    assert body["job_id"] == first["job_id"]
    assert body["status"] in ("queued", "processing")
    assert body["is_duplicate"] is True
    assert body["message"] == "Analysis already running for these symbols"
    assert (body["total"], body["completed"], body["count"]) == (1, 0, 1)
    assert body["symbols"] == ["20MICRONS.NS"] and body["capital"] == 100000


def test_3_force_starts_a_new_job(api):
    first = post(api, ANALYZE_ALL, {"symbols": ["20MICRONS.NS"]}).json()
    response = post(api, ANALYZE_ALL, {"symbols": ["20MICRONS.NS"], "force": True})
    assert response.status_code == 201
    body = response.json()
    assert body["job_id"] != first["job_id"]
    assert body["status"] == "queued" and body["thread_started"] is True
    old = api.get(f"/api/analysis/status/{first['job_id']}").json()
    assert old["status"] == "cancelled" and old["superseded_by"] == body["job_id"]


def test_4_status_reports_progress(api):
    job_id = post(api, ANALYZE_ALL, {"symbols": ["20MICRONS.NS"]}).json()["job_id"]
    response = api.get(f"/api/analysis/status/{job_id}")
    assert response.status_code == 200
    body = response.json()
    assert {k: body[k] for k in ("job_id", "status", "total", "completed", "successful", "progress_percent")} == {
        "job_id": job_id,
        "status": "queued",
        "total": 1,
        "completed": 0,
        "successful": 0,
        "progress_percent": 0,
    }
    assert body["failed"] == 0 and body["errors"] == []
    assert body["created_at"] and body["started_at"] is None and body["finished_at"] is None


# --- The tickers endpoint ----------------------------------------------------------------------


def test_analyze_echoes_tickers_and_says_tickers_on_duplicates(api):
    response = post(api, ANALYZE, {"tickers": ["tcs", "INFY.NS"], "capital": 250000, "strategy_id": 2})
    assert response.status_code == 201
    body = response.json()
    assert body["tickers"] == ["INFY.NS", "TCS.NS"] and body["capital"] == 250000 and body["count"] == 2
    again = post(api, ANALYZE, {"tickers": ["INFY.NS", "TCS.NS"], "capital": 250000, "strategy_id": 2})
    assert again.status_code == 200
    assert again.json()["message"] == "Analysis already running for these tickers"
    assert again.json()["job_id"] == body["job_id"]


def test_both_endpoints_share_one_job_for_the_same_analysis(api):
    first = post(api, ANALYZE_ALL, {"symbols": ["TCS.NS"]}).json()
    second = post(api, ANALYZE, {"tickers": ["TCS.NS"]})
    assert second.status_code == 200 and second.json()["job_id"] == first["job_id"]


# --- Status, results, cancel, progress ---------------------------------------------------------


def test_status_of_a_finished_job_lists_errors_and_results(api):
    job_id = post(api, ANALYZE_ALL, {"symbols": ["TCS.NS", "BAD.NS"]}).json()["job_id"]
    job = AnalysisJob.objects.get(pk=job_id)
    AnalysisResult.objects.create(
        job=job,
        symbol="TCS.NS",
        strategy_id=1,
        capital=100000,
        score=0.5,
        verdict="Buy",
        signal="BUY",
        entry=100,
        stop_loss=98,
        target=104,
        risk_reward=2.0,
        position_size=200,
        shares_by_risk=1000,
        shares_by_max_position=200,
        size_limited_by="max_position",
        risk_amount=400,
        risk_taken_percent=0.4,
        data_source="demo",
    )
    AnalysisResult.objects.create(job=job, symbol="BAD.NS", strategy_id=1, capital=100000, error="no data returned")
    AnalysisJob.objects.filter(pk=job_id).update(status="completed", completed=2, successful=1)
    body = api.get(f"/api/analysis/status/{job_id}").json()
    assert body["progress_percent"] == 100
    assert body["errors"] == [{"symbol": "BAD.NS", "error": "no data returned"}]
    assert [r["symbol"] for r in body["results"]] == ["TCS.NS"]
    assert body["results"][0]["verdict"] == "Buy" and body["results"][0]["entry"] == 100
    sizing = {k: body["results"][0][k] for k in ("shares_by_risk", "shares_by_max_position", "size_limited_by")}
    assert sizing == {"shares_by_risk": 1000, "shares_by_max_position": 200, "size_limited_by": "max_position"}
    assert (body["results"][0]["risk_amount"], body["results"][0]["risk_taken_percent"]) == (400, 0.4)
    listed = api.get(body["results_url"]).json()
    assert listed["count"] == 2
    assert {r["symbol"]: r["size_limited_by"] for r in listed["results"]} == {"TCS.NS": "max_position", "BAD.NS": None}


def test_status_of_an_unknown_job_is_404_and_of_a_malformed_id_400(api):
    assert_error(api.get(f"/api/analysis/status/{uuid.uuid4()}"), 404, "job_not_found")
    assert_error(api.get("/api/analysis/status/not-a-uuid"), 400, "invalid_job_id")


def test_cancel_a_queued_job_then_409_once_finished(api):
    job_id = post(api, ANALYZE_ALL, {"symbols": ["TCS.NS"]}).json()["job_id"]
    response = api.post(f"/api/analysis/cancel/{job_id}")
    assert response.status_code == 200 and response.json()["status"] == "cancelled"
    assert_error(api.post(f"/api/analysis/cancel/{job_id}"), 409, "job_already_finished")
    assert_error(api.post(f"/api/analysis/cancel/{uuid.uuid4()}"), 404)


def test_progress_lists_active_jobs_and_the_ones_finished_in_the_last_hour(api):
    active = post(api, ANALYZE_ALL, {"symbols": ["TCS.NS"]}).json()["job_id"]
    done = post(api, ANALYZE_ALL, {"symbols": ["INFY.NS"]}).json()["job_id"]
    api.post(f"/api/analysis/cancel/{done}")
    body = api.get("/api/stocks/all-stocks/progress").json()
    assert [j["job_id"] for j in body["active"]] == [active]
    assert [j["job_id"] for j in body["recently_finished"]] == [done]


def test_jobs_viewset_lists_active_first_filters_creates_and_cancels(api):
    first = api.post("/api/jobs/", {"symbols": ["TCS.NS"]}, format="json")
    assert first.status_code == 201
    again = api.post("/api/jobs/", {"symbols": ["TCS.NS"]}, format="json")
    assert again.status_code == 200 and again.json()["is_duplicate"] is True
    second = post(api, ANALYZE_ALL, {"symbols": ["INFY.NS"]}).json()["job_id"]
    cancelled = api.post(f"/api/jobs/{first.json()['job_id']}/cancel/")
    assert cancelled.status_code == 200
    # The active job is the older one, so newest-first alone would list the cancelled one first.
    AnalysisJob.objects.filter(pk=second).update(created_at=timezone.now() - timedelta(hours=1))
    listing = api.get("/api/jobs/").json()
    assert listing["count"] == 2
    assert listing["results"][0]["job_id"] == second, "active jobs come first"
    only_cancelled = api.get("/api/jobs/?status=cancelled").json()
    assert [j["job_id"] for j in only_cancelled["results"]] == [first.json()["job_id"]]
    assert api.get(f"/api/jobs/{second}/").json()["status"] == "queued"
    assert_error(api.get("/api/jobs/?status=bogus"), 400)


# --- Bad input: a clear 400 in the error shape, nothing created --------------------------------


@pytest.mark.parametrize(
    "body",
    [
        {"symbols": "TCS.NS"},
        {"symbols": [123]},
        {"symbols": [""]},
        {"symbols": ["   "]},
        {"symbols": [None]},
        {"symbols": ["DROP TABLE;"]},
        {"symbols": ["<script>"]},
        {"symbols": ["TCS.NS"], "capital": "lots"},
        {"symbols": ["TCS.NS"], "capital": -5},
        {"symbols": ["TCS.NS"], "capital": 0},
        {"symbols": ["TCS.NS"], "capital": 1e30},
        {"symbols": ["TCS.NS"], "capital": True},
        {"symbols": ["TCS.NS"], "force": "yes"},
        {"symbols": ["TCS.NS"], "strategy_id": 99},
        {"symbols": ["TCS.NS"], "strategy_id": "two"},
        {"symbols": ["TCS.NS"], "strategy_id": True},
        {"symbols": ["TCS.NS"], "risk_percent": 80},
        {"symbols": ["TCS.NS"], "max_position_percent": 0},
        {"symbols": ["TCS.NS"], "forse": True},
        {"symbols": [f"S{i}.NS" for i in range(100_000)]},
    ],
)
def test_bad_input_is_a_clear_400_and_creates_nothing(api, body):
    error = assert_error(post(api, ANALYZE_ALL, body), 400)
    # The answer names what was wrong: the field other than `symbols`, else the symbols themselves.
    culprit = next((field for field in body if field != "symbols"), "symbols")
    named = culprit.removesuffix("_id").removesuffix("s")  # "strategy_id" -> "strategy", "symbols" -> "symbol"
    assert named in (error["message"] + json.dumps(error["details"])).lower(), error
    assert AnalysisJob.objects.count() == 0


def test_a_body_that_is_not_json_is_400(api):
    response = api.post(ANALYZE_ALL, "{not json", content_type="application/json")
    assert_error(response, 400, "parse_error")
    response = api.post(ANALYZE_ALL, '["TCS.NS"]', content_type="application/json")
    assert_error(response, 400)
    assert AnalysisJob.objects.count() == 0


def test_symbols_with_ampersand_and_hyphen_are_valid(api):
    response = post(api, ANALYZE_ALL, {"symbols": ["M&M.NS", "bajaj-auto"]})
    assert response.status_code == 201
    assert response.json()["symbols"] == ["BAJAJ-AUTO.NS", "M&M.NS"]


def test_wrong_method_is_405_in_the_error_shape(api):
    assert_error(api.get(ANALYZE_ALL), 405)


# --- Infrastructure failure: 503, never a duplicate or a conflict ------------------------------


def test_database_failure_during_creation_is_503_with_retry_after_and_nothing_created(api, settings, monkeypatch):
    settings.THETOOL_JOB_CREATE_BACKOFF = 0.001

    def locked(**kwargs):
        raise OperationalError("database is locked")

    monkeypatch.setattr(services, "_decide", locked)
    response = post(api, ANALYZE_ALL, {"symbols": ["20MICRONS.NS"]})
    error = assert_error(response, 503, "service_unavailable")
    assert response["Retry-After"]
    assert error["details"]["attempts"] == 3
    assert AnalysisJob.objects.count() == 0


def test_broker_failure_is_503_and_the_job_is_marked_failed(api, monkeypatch):
    def broker_down(*args, **kwargs):
        raise ConnectionError("redis down")

    monkeypatch.setattr(services, "async_task", broker_down)
    response = post(api, ANALYZE_ALL, {"symbols": ["20MICRONS.NS"]})
    error = assert_error(response, 503)
    job = AnalysisJob.objects.get()
    assert error["details"]["job_id"] == str(job.pk)
    assert job.status == JobStatus.FAILED and "redis down" in job.status_reason


# --- OpenAPI -----------------------------------------------------------------------------------


def test_openapi_schema_documents_every_job_endpoint(api):
    response = api.get("/api/schema/", HTTP_ACCEPT="application/json")
    assert response.status_code == 200
    paths = response.json()["paths"]
    for path in (
        "/api/stocks/analyze-all-stocks",
        "/api/analysis/analyze",
        "/api/analysis/status/{job_id}",
        "/api/analysis/cancel/{job_id}",
        "/api/stocks/all-stocks/progress",
        "/api/jobs/",
        "/api/jobs/{id}/",
        "/api/jobs/{id}/cancel/",
        "/api/jobs/{id}/results/",
    ):
        assert path in paths, path
    post_op = paths["/api/stocks/analyze-all-stocks"]["post"]
    assert {"200", "201", "400", "503"} <= set(post_op["responses"])


def test_an_unknown_api_path_is_404_in_the_error_shape(api):
    assert_error(api.get("/api/no-such-endpoint/"), 404, "not_found")
    assert_error(api.get("/api/stocks/<bad>/"), 404, "not_found")


def test_the_openapi_schema_validates_without_warnings(tmp_path):
    from django.core.management import call_command

    call_command("spectacular", "--validate", "--fail-on-warn", "--file", str(tmp_path / "schema.yaml"))
    assert "analyze-all-stocks" in (tmp_path / "schema.yaml").read_text()
