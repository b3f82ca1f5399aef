"""JSON logs carry the request id, user and the job facts the log lines state; every response has a request id."""

import io
import json
import logging

import pytest
from django.contrib.auth.models import User
from django.test import Client

from thetool.logs import JSONFormatter, RequestContextFilter


@pytest.fixture
def json_log():
    """The `jobs` logger writing JSON lines into a buffer, as THETOOL_LOG_FORMAT=json configures it."""
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(JSONFormatter())
    handler.addFilter(RequestContextFilter())
    logger = logging.getLogger("jobs")
    logger.addHandler(handler)
    yield lambda: [json.loads(line) for line in stream.getvalue().splitlines()]
    logger.removeHandler(handler)


def test_a_json_line_carries_job_id_attempt_and_counts(json_log):
    job_id = "0b7d6c1e-6f43-4b7e-9c35-2b0f9b8f2a11"
    logging.getLogger("jobs").info("Job %s claimed (attempt %d/%d, %d symbols)", job_id, 2, 3, 40)
    logging.getLogger("jobs").info("Job %s completed: 40 symbols, 38 analysed, 2 failed, attempt 2, 1.0s", job_id)
    claimed, completed = json_log()
    assert claimed["message"] == f"Job {job_id} claimed (attempt 2/3, 40 symbols)"
    assert (claimed["job_id"], claimed["attempt"], claimed["symbols"]) == (job_id, 2, 40)
    assert (completed["analysed"], completed["failed"]) == (38, 2)
    assert claimed["level"] == "INFO" and claimed["logger"] == "jobs"
    assert claimed["time"].endswith("Z")
    assert claimed["request_id"] == "-", "outside a request there is no request id"


def test_extra_fields_are_kept(json_log):
    logging.getLogger("jobs").warning("Queue is deep", extra={"queue_depth": 12})
    assert json_log()[0]["queue_depth"] == 12


@pytest.mark.django_db
def test_log_lines_of_a_request_carry_its_id_and_user(json_log, settings):
    settings.THETOOL_DATA_SOURCE = "demo"
    user = User.objects.create_user("alice", password="pw-for-tests-only")
    client = Client()
    client.force_login(user)
    response = client.post(
        "/api/stocks/analyze-all-stocks",
        {"symbols": ["TCS"]},
        content_type="application/json",
        HTTP_X_REQUEST_ID="trace-42",
    )
    assert response.status_code == 201
    assert response["X-Request-ID"] == "trace-42"
    created = [line for line in json_log() if line["message"].startswith("Creating new analysis job")]
    assert created, json_log()
    assert created[0]["request_id"] == "trace-42"
    assert created[0]["user"] == "alice"
    assert created[0]["job_id"] == response.json()["job_id"]


def test_every_response_gets_a_request_id_and_odd_ones_are_replaced():
    client = Client()
    generated = client.get("/healthz")["X-Request-ID"]
    assert len(generated) == 32
    assert client.get("/healthz")["X-Request-ID"] != generated
    replaced = client.get("/healthz", HTTP_X_REQUEST_ID="<script>alert(1)</script>")["X-Request-ID"]
    assert "<" not in replaced and len(replaced) == 32


def test_the_json_format_is_one_setting():
    from django.conf import settings

    assert settings.LOGGING["formatters"]["json"]["()"] == "thetool.logs.JSONFormatter"
    assert settings.LOGGING["handlers"]["console"]["formatter"] == settings.THETOOL_LOG_FORMAT
