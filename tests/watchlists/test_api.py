"""The watchlist API: your lists, owner-only writes, one-click (deduplicated) analysis."""

import pytest

from jobs.models import AnalysisJob
from watchlists.models import Watchlist
from watchlists.services import create_watchlist

pytestmark = pytest.mark.django_db


def test_a_user_creates_lists_and_sees_only_their_own(people, universe, api_as):
    alice = api_as(people["alice"])
    answer = alice.post("/api/watchlists/", {"name": "Banks", "symbols": ["hdfcbank", "TCS.NS"]}, format="json")
    assert answer.status_code == 201
    assert answer.json()["symbols"] == ["HDFCBANK.NS", "TCS.NS"]
    create_watchlist(owner=people["bob"], name="Bob's", symbols=["INFY"])
    names = [row["name"] for row in alice.get("/api/watchlists/").json()["results"]]
    assert names == ["Banks"]


def test_watchlists_need_sign_in_even_with_open_access(universe, api_as, settings):
    settings.THETOOL_OPEN_ACCESS = True
    answer = api_as(None).get("/api/watchlists/")
    assert answer.status_code == 401
    assert set(answer.json()["error"]) == {"code", "message", "details"}


def test_rename_and_replace_stocks_by_patch(people, universe, api_as):
    watchlist = create_watchlist(owner=people["alice"], name="A", symbols=["TCS"])
    answer = api_as(people["alice"]).patch(
        f"/api/watchlists/{watchlist.pk}/", {"name": "IT", "symbols": ["INFY", "TCS"]}, format="json"
    )
    assert answer.status_code == 200
    assert answer.json()["name"] == "IT" and answer.json()["symbols"] == ["INFY.NS", "TCS.NS"]


def test_another_user_reads_but_cannot_change_or_delete_a_list(people, universe, api_as):
    watchlist = create_watchlist(owner=people["alice"], name="A", symbols=["TCS"])
    bob = api_as(people["bob"])
    assert bob.get(f"/api/watchlists/{watchlist.pk}/").status_code == 200
    patched = bob.patch(f"/api/watchlists/{watchlist.pk}/", {"name": "mine now"}, format="json")
    assert patched.status_code == 403 and patched.json()["error"]["code"] == "permission_denied"
    assert bob.delete(f"/api/watchlists/{watchlist.pk}/").status_code == 403
    watchlist.refresh_from_db()
    assert watchlist.name == "A"


def test_the_owner_deletes_a_list(people, universe, api_as):
    watchlist = create_watchlist(owner=people["alice"], name="A")
    assert api_as(people["alice"]).delete(f"/api/watchlists/{watchlist.pk}/").status_code == 204
    assert not Watchlist.objects.filter(pk=watchlist.pk).exists()


def test_bad_input_is_a_400_that_changes_nothing(people, universe, api_as):
    alice = api_as(people["alice"])
    create_watchlist(owner=people["alice"], name="Banks")
    duplicate = alice.post("/api/watchlists/", {"name": "Banks"}, format="json")
    assert duplicate.status_code == 400 and duplicate.json()["error"]["code"] == "duplicate_name"
    unknown_field = alice.post("/api/watchlists/", {"name": "X", "colour": "red"}, format="json")
    assert unknown_field.status_code == 400
    not_listed = alice.post("/api/watchlists/", {"name": "Y", "symbols": ["NOSUCH"]}, format="json")
    assert not_listed.status_code == 404 and not_listed.json()["error"]["code"] == "unknown_symbol"
    assert Watchlist.objects.filter(owner=people["alice"]).count() == 1
    assert alice.get("/api/watchlists/999999/").status_code == 404


def test_analyze_starts_a_job_for_the_list_and_a_second_click_joins_it(people, universe, api_as):
    watchlist = create_watchlist(owner=people["alice"], name="A", symbols=["TCS", "INFY"])
    alice = api_as(people["alice"])
    first = alice.post(f"/api/watchlists/{watchlist.pk}/analyze", {"strategy_id": 2}, format="json")
    assert first.status_code == 201
    assert first.json()["symbols"] == ["INFY.NS", "TCS.NS"] and first.json()["strategy_id"] == 2
    second = alice.post(f"/api/watchlists/{watchlist.pk}/analyze", {"strategy_id": 2}, format="json")
    assert second.status_code == 200 and second.json()["is_duplicate"] is True
    assert second.json()["job_id"] == first.json()["job_id"]
    assert AnalysisJob.objects.count() == 1


def test_analyzing_an_empty_list_is_refused_rather_than_analysing_every_stock(people, universe, api_as):
    watchlist = create_watchlist(owner=people["alice"], name="Empty")
    answer = api_as(people["alice"]).post(f"/api/watchlists/{watchlist.pk}/analyze", {}, format="json")
    assert answer.status_code == 400 and answer.json()["error"]["code"] == "empty_watchlist"
    assert AnalysisJob.objects.count() == 0


def test_only_the_owner_may_analyse_a_list(people, universe, api_as):
    watchlist = create_watchlist(owner=people["alice"], name="A", symbols=["TCS"])
    answer = api_as(people["bob"]).post(f"/api/watchlists/{watchlist.pk}/analyze", {}, format="json")
    assert answer.status_code == 403
    assert AnalysisJob.objects.count() == 0
