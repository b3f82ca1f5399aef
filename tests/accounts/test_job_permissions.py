"""Who may do what to a job: everyone signed in reads; only the requester or staff cancels or forces."""

import io

import pytest
from django.contrib.auth.models import Permission
from django.core.management import call_command
from rest_framework.authtoken.models import Token

from jobs.models import AnalysisJob, JobStatus

CREATE = "/api/stocks/analyze-all-stocks"


def post_json(client, url, body=None, **headers):
    return client.post(url, body or {}, content_type="application/json", headers=headers)


def test_a_job_records_the_account_that_requested_it(world, closed, client_as):
    response = post_json(client_as(world["user"]), CREATE, {"symbols": ["RELIANCE.NS"]})
    assert response.status_code == 201
    job = AnalysisJob.objects.get(pk=response.json()["job_id"])
    assert job.requested_by_user == world["user"]
    assert job.requested_by == "api:alice"


def test_an_open_access_anonymous_job_records_the_address_and_no_account(world, client):
    response = post_json(client, CREATE, {"symbols": ["RELIANCE.NS"]})
    job = AnalysisJob.objects.get(pk=response.json()["job_id"])
    assert job.requested_by_user is None
    assert job.requested_by == "api:127.0.0.1"


def test_the_same_analysis_by_two_users_is_one_job_both_see(world, closed, client_as):
    first = post_json(client_as(world["user"]), CREATE, {"symbols": ["RELIANCE.NS"]}).json()
    second = post_json(client_as(world["other"]), CREATE, {"symbols": ["RELIANCE.NS"]})
    assert second.status_code == 200
    assert second.json()["job_id"] == first["job_id"]
    assert second.json()["is_duplicate"] is True
    assert client_as(world["other"]).get(f"/api/analysis/status/{first['job_id']}").status_code == 200


def test_another_user_cannot_cancel_a_job_and_it_keeps_running(world, closed, client_as):
    job = world["job"]
    response = post_json(client_as(world["other"]), f"/api/analysis/cancel/{job.pk}")
    assert response.status_code == 403
    assert response.json()["error"]["code"] == "permission_denied"
    job.refresh_from_db()
    assert job.status == JobStatus.PROCESSING


@pytest.mark.parametrize("role", ["user", "staff"])
def test_the_requester_or_staff_cancels_a_job(world, closed, client_as, role):
    job = world["job"]
    response = post_json(client_as(world[role]), f"/api/jobs/{job.pk}/cancel/")
    assert response.status_code == 200
    job.refresh_from_db()
    assert job.status == JobStatus.CANCELLED


def _running_job_of(client, symbols):
    response = post_json(client, CREATE, {"symbols": symbols})
    assert response.status_code == 201
    return AnalysisJob.objects.get(pk=response.json()["job_id"])


def test_force_by_another_user_is_refused_403_and_the_running_job_is_untouched(world, closed, client_as):
    job = _running_job_of(client_as(world["user"]), ["RELIANCE.NS"])
    count = AnalysisJob.objects.count()
    response = post_json(client_as(world["other"]), CREATE, {"symbols": ["RELIANCE.NS"], "force": True})
    assert response.status_code == 403
    assert response.json()["error"]["code"] == "permission_denied"
    job.refresh_from_db()
    assert job.status == JobStatus.QUEUED and job.superseded_by is None
    assert AnalysisJob.objects.count() == count


@pytest.mark.parametrize("role", ["user", "staff"])
def test_force_by_the_requester_or_staff_supersedes_the_job(world, closed, client_as, role):
    job = _running_job_of(client_as(world["user"]), ["RELIANCE.NS"])
    response = post_json(client_as(world[role]), CREATE, {"symbols": ["RELIANCE.NS"], "force": True})
    assert response.status_code == 201
    job.refresh_from_db()
    assert job.status == JobStatus.CANCELLED
    assert str(job.superseded_by_id) == response.json()["job_id"]


def test_another_user_cannot_cancel_from_the_job_page(world, closed, client_as):
    job = world["job"]
    response = client_as(world["other"]).post(f"/jobs/{job.pk}/cancel/", follow=True)
    assert "Only the user who requested" in response.content.decode()
    job.refresh_from_db()
    assert job.status == JobStatus.PROCESSING


def test_my_jobs_filter_lists_only_my_jobs_in_the_api_and_pages(world, closed, client_as):
    mine = _running_job_of(client_as(world["other"]), ["RELIANCE.NS"])
    client = client_as(world["other"])
    ids = [row["job_id"] for row in client.get("/api/jobs/?mine=true").json()["results"]]
    assert ids == [str(mine.pk)]
    everyone = [row["job_id"] for row in client.get("/api/jobs/").json()["results"]]
    assert set(everyone) == {str(mine.pk), str(world["job"].pk)}
    page = client.get("/jobs/?mine=true").content.decode()
    assert str(mine.pk)[:8] in page and str(world["job"].pk)[:8] not in page


def test_job_pages_show_who_requested_the_job(world, closed, client_as):
    page = client_as(world["user"]).get(f"/jobs/{world['job'].pk}/").content.decode()
    assert "alice" in page and "you" in page


def test_api_token_authenticates_and_a_bad_token_is_401(world, closed, client):
    token = Token.objects.create(user=world["user"])
    ok = client.get("/api/jobs/?mine=true", headers={"Authorization": f"Token {token.key}"})
    assert ok.status_code == 200 and ok.json()["count"] == 1
    bad = client.get("/api/jobs/", headers={"Authorization": "Token not-a-token"})
    assert bad.status_code == 401
    assert bad.json()["error"]["code"] == "authentication_failed"
    assert client.get("/api/jobs/").headers["WWW-Authenticate"] == "Token"


def test_account_page_creates_replaces_and_revokes_my_token(world, closed, client_as):
    client = client_as(world["user"])
    client.post("/accounts/token/")
    first = Token.objects.get(user=world["user"]).key
    assert first in client.get("/accounts/").content.decode()
    client.post("/accounts/token/")
    second = Token.objects.get(user=world["user"]).key
    assert second != first
    client.post("/accounts/token/revoke/")
    assert not Token.objects.filter(user=world["user"]).exists()


def test_drf_create_token_command_works(world):
    out = io.StringIO()
    call_command("drf_create_token", "alice", stdout=out)
    assert Token.objects.get(user=world["user"]).key in out.getvalue()


def _staff_without_permissions(django_user_model):
    staff = django_user_model.objects.create_user("dave", is_staff=True)
    staff.user_permissions.add(Permission.objects.get(codename="view_analysisjob"))
    return staff


def test_admin_actions_need_their_model_permission(world, client_as, django_user_model):
    staff = _staff_without_permissions(django_user_model)
    client = client_as(staff)
    changelist = "/admin/jobs/analysisjob/"
    assert client.get(changelist).status_code == 200
    assert "cancel_jobs" not in client.get(changelist).content.decode()
    client.post(changelist, {"action": "cancel_jobs", "_selected_action": [world["job"].pk]})
    world["job"].refresh_from_db()
    assert world["job"].status == JobStatus.PROCESSING

    staff.user_permissions.add(Permission.objects.get(codename="cancel_analysisjob"))
    staff = django_user_model.objects.get(pk=staff.pk)  # permissions are cached per user object
    client = client_as(staff)
    page = client.get(changelist).content.decode()
    assert "cancel_jobs" in page and "rerun_jobs" not in page and "recover_jobs_now" not in page
    client.post(changelist, {"action": "cancel_jobs", "_selected_action": [world["job"].pk]})
    world["job"].refresh_from_db()
    assert world["job"].status == JobStatus.CANCELLED


def test_admin_shows_the_requesting_account_and_filters_my_jobs(world, client_as):
    client = client_as(world["staff"])
    page = client.get("/admin/jobs/analysisjob/").content.decode()
    assert "alice" in page
    mine = client.get("/admin/jobs/analysisjob/?mine=true").content.decode()
    assert str(world["job"].pk)[:8] not in mine
