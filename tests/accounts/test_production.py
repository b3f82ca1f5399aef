"""Production mode: `check --deploy` is clean with the documented environment, sign-in is required,
cross-site requests are refused, and no answer carries a debug page, a stack trace or a secret."""

import os
import subprocess
import sys
from unittest import mock

import pytest
from django.conf import settings
from django.test import Client

from jobs.models import AnalysisJob

BASE = {k: v for k, v in os.environ.items() if not k.startswith(("DJANGO_", "THETOOL_", "DATABASE_URL", "REDIS_URL"))}
# The production environment documented in the README and .env.example.
PRODUCTION = {
    "DJANGO_DEBUG": "false",
    "DJANGO_SECRET_KEY": "k7Qh2vN9pX4mR8tW3zL6yB1cF5gJ0sD2aE9uI4oP7nM3qV8xT6wZ1rY5",
    "DJANGO_ALLOWED_HOSTS": "thetool.example.com",
    "DJANGO_CSRF_TRUSTED_ORIGINS": "https://thetool.example.com",
    "DJANGO_SECURE_PROXY_SSL_HEADER": "HTTP_X_FORWARDED_PROTO,https",
}


def manage(*args, **env) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "manage.py", *args],
        cwd=settings.BASE_DIR,
        env={**BASE, **env},
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_check_deploy_has_no_warnings_with_the_documented_production_environment():
    result = manage("check", "--deploy", "--fail-level", "WARNING", **PRODUCTION)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "no issues" in result.stdout


def test_check_deploy_warns_when_a_production_safeguard_is_switched_off():
    result = manage("check", "--deploy", "--fail-level", "WARNING", **PRODUCTION, DJANGO_SESSION_COOKIE_SECURE="false")
    assert result.returncode != 0
    assert "security.W012" in result.stdout + result.stderr


def test_production_refuses_open_access():
    result = manage("check", **PRODUCTION, THETOOL_OPEN_ACCESS="true")
    assert result.returncode != 0
    assert "THETOOL_OPEN_ACCESS" in result.stderr


def test_open_access_is_on_only_while_debugging():
    probe = "from django.conf import settings; print(settings.THETOOL_OPEN_ACCESS)"
    debug = manage("shell", "-c", probe)
    production = manage("shell", "-c", probe, **PRODUCTION)
    last = [result.stdout.strip().splitlines()[-1] for result in (debug, production)]
    assert last == ["True", "False"], debug.stderr + production.stderr


@pytest.fixture
def crashing(world, closed, client_as):
    """A signed-in client, and a job selector that fails with a secret in its message."""
    client = client_as(world["user"])
    client.raise_request_exception = False
    with mock.patch("jobs.selectors.AnalysisJob.objects.get", side_effect=RuntimeError("SECRET-DB-PASSWORD")):
        yield client, world["job"]


def test_an_unexpected_api_error_is_a_generic_500_without_a_trace(crashing):
    client, job = crashing
    response = client.get(f"/api/analysis/status/{job.pk}")
    assert response.status_code == 500
    assert response.json()["error"]["code"] == "server_error"
    assert "SECRET" not in response.content.decode() and "Traceback" not in response.content.decode()


def test_an_unexpected_page_error_is_the_plain_500_page(crashing):
    client, job = crashing
    response = client.get(f"/jobs/{job.pk}/")
    assert response.status_code == 500
    body = response.content.decode()
    assert "SECRET" not in body and "Traceback" not in body and settings.SECRET_KEY not in body


def test_an_unknown_url_shows_no_url_list(world, closed, client_as):
    body = client_as(world["user"]).get("/no/such/page/").content.decode()
    assert "URLconf" not in body and "jobs/&lt;str:job_id&gt;" not in body


def test_a_cross_site_form_post_with_a_session_is_refused(world, closed):
    client = Client(enforce_csrf_checks=True)
    client.force_login(world["user"])
    before = AnalysisJob.objects.count()
    for url, data in [
        ("/api/stocks/analyze-all-stocks", {"symbols": "RELIANCE.NS"}),
        (f"/api/analysis/cancel/{world['job'].pk}", {}),
        ("/analyze/", {"action": "selected", "symbols": "RELIANCE.NS", "capital": "100000", "strategy": "1"}),
        (f"/jobs/{world['job'].pk}/cancel/", {}),
    ]:
        response = client.post(url, data, headers={"Origin": "https://evil.example"})
        assert response.status_code == 403, url
    assert AnalysisJob.objects.count() == before
    world["job"].refresh_from_db()
    assert world["job"].is_active


def test_a_cross_origin_json_post_with_a_session_needs_the_csrf_token(world, closed):
    client = Client(enforce_csrf_checks=True)
    client.force_login(world["user"])
    body = {"symbols": ["RELIANCE.NS"]}
    refused = client.post("/api/stocks/analyze-all-stocks", body, content_type="application/json")
    assert refused.status_code == 403
    assert "CSRF" in refused.json()["error"]["message"]
    client.get("/")  # the page sets the CSRF cookie, as a browser visiting TheTool would get it
    token = client.cookies["csrftoken"].value
    accepted = client.post(
        "/api/stocks/analyze-all-stocks", body, content_type="application/json", headers={"X-CSRFToken": token}
    )
    assert accepted.status_code == 201


@pytest.mark.parametrize("name", ["THETOOL_THROTTLE_JOB_CREATE_USER", "THETOOL_THROTTLE_READ"])
def test_a_malformed_rate_stops_start_up_naming_it(name):
    result = manage("check", **{name: "fast"})
    assert result.returncode != 0
    assert name in result.stderr
