"""What changed: from stored results, per symbol and strategy, against the result before `since`."""

from datetime import datetime, timedelta

import pytest
from django.utils import timezone

from tests.factories import make_result
from watchlists.selectors import changes_between
from watchlists.services import create_watchlist

pytestmark = pytest.mark.django_db


@pytest.fixture
def moments():
    now = timezone.now()
    return {"yesterday": now - timedelta(days=1), "since": now - timedelta(hours=12), "today": now - timedelta(hours=1)}


def test_upgrades_downgrades_and_new_strong_verdicts(universe, moments):
    make_result("TCS.NS", verdict="Hold", score=0.0, created_at=moments["yesterday"])
    make_result("TCS.NS", verdict="Strong Buy", score=0.7, created_at=moments["today"])
    make_result("INFY.NS", verdict="Buy", score=0.3, created_at=moments["yesterday"])
    make_result("INFY.NS", verdict="Sell", score=-0.3, created_at=moments["today"])
    make_result("RELIANCE.NS", verdict="Buy", score=0.3, created_at=moments["today"])
    changes = {c.symbol: c for c in changes_between(since=moments["since"])}
    assert changes["TCS.NS"].kind == "upgrade" and changes["TCS.NS"].new_strong == "Strong Buy"
    assert changes["TCS.NS"].score_delta == 0.7
    assert changes["INFY.NS"].kind == "downgrade" and changes["INFY.NS"].new_strong == ""
    assert changes["RELIANCE.NS"].kind == "new" and changes["RELIANCE.NS"].previous_verdict == ""
    assert changes["TCS.NS"].history == [0.0, 0.7]


def test_compares_only_the_same_strategy_and_only_the_newest_result_of_each_side(universe, moments):
    make_result("TCS.NS", verdict="Sell", score=-0.4, created_at=moments["yesterday"] - timedelta(days=1))
    make_result("TCS.NS", verdict="Buy", score=0.3, created_at=moments["yesterday"])
    make_result("TCS.NS", verdict="Strong Sell", strategy_id=2, created_at=moments["today"])  # another strategy
    make_result("TCS.NS", verdict="Buy", score=0.35, created_at=moments["today"] - timedelta(minutes=5))
    make_result("TCS.NS", verdict="Hold", score=0.1, created_at=moments["today"])
    (change,) = changes_between(since=moments["since"], strategy_id=1)
    assert (change.previous_verdict, change.verdict, change.kind) == ("Buy", "Hold", "downgrade")


def test_failed_results_and_unchanged_stocks_can_be_left_out(universe, moments):
    make_result("TCS.NS", verdict="Buy", created_at=moments["yesterday"])
    make_result("TCS.NS", verdict="Buy", created_at=moments["today"])
    make_result("INFY.NS", error="no data", created_at=moments["today"])
    assert [c.kind for c in changes_between(since=moments["since"])] == ["unchanged"]
    assert changes_between(since=moments["since"], only_changed=True) == []


def test_the_changes_api_filters_by_watchlist_and_answers_csv(people, universe, moments, api_as, client):
    make_result("TCS.NS", verdict="Hold", created_at=moments["yesterday"])
    make_result("TCS.NS", verdict="Buy", created_at=moments["today"])
    make_result("INFY.NS", verdict="Buy", created_at=moments["today"])
    watchlist = create_watchlist(owner=people["alice"], name="IT", symbols=["TCS"])
    alice = api_as(people["alice"])
    since = moments["since"].isoformat()
    answer = alice.get("/api/changes/", {"since": since, "watchlist": watchlist.pk})
    assert answer.status_code == 200
    (row,) = answer.json()["results"]
    assert (row["symbol"], row["kind"], row["previous_verdict"], row["verdict"]) == ("TCS.NS", "upgrade", "Hold", "Buy")
    everything = alice.get("/api/changes/", {"since": since}).json()["results"]
    assert {r["symbol"] for r in everything} == {"TCS.NS", "INFY.NS"}
    client.force_login(people["alice"])
    csv_answer = client.get("/changes.csv", {"since": since, "watchlist": watchlist.pk})
    lines = b"".join(csv_answer.streaming_content).decode().splitlines()
    assert lines[0].startswith("symbol,strategy_id,kind") and lines[1].startswith("TCS.NS,1,upgrade,Hold,Buy")


def test_the_changes_api_refuses_a_malformed_since(universe, api_as, people):
    answer = api_as(people["alice"]).get("/api/changes/", {"since": "yesterday-ish"})
    assert answer.status_code == 400 and set(answer.json()["error"]) == {"code", "message", "details"}


def test_the_changes_page_shows_each_change_with_its_sparkline(people, universe, moments, client):
    make_result("TCS.NS", verdict="Hold", score=0.0, created_at=moments["yesterday"])
    make_result("TCS.NS", verdict="Strong Buy", score=0.7, created_at=moments["today"])
    client.force_login(people["alice"])
    page = client.get("/changes/", {"since": moments["since"].strftime("%Y-%m-%dT%H:%M:%S%z")}).content.decode()
    assert 'class="change-upgrade" data-symbol="TCS.NS"' in page
    assert "new Strong Buy" in page and '<svg class="sparkline"' in page


def test_the_changes_page_keeps_the_window_it_shows_in_ist_and_signs_scores(people, universe, client):
    now = timezone.now()
    make_result("TCS.NS", verdict="Hold", score=-0.0033, created_at=now - timedelta(days=3))
    make_result("TCS.NS", verdict="Buy", score=0.4259, created_at=now - timedelta(hours=1))
    client.force_login(people["alice"])
    since_ist = timezone.localtime(now - timedelta(days=2)).strftime("%Y-%m-%dT%H:%M")  # as the browser sends it
    page = client.get("/changes/", {"since": since_ist}).content.decode()
    # The form shows the window the table is for, so pressing Show again keeps it (it was emptied).
    assert f'name="since" type="datetime-local" value="{since_ist}"' in page
    assert "Since (IST)" in page
    row = page.split('data-symbol="TCS.NS"', 1)[1].split("</tr>", 1)[0]
    assert '<td class="num">+0.43</td><td class="num">+0.43</td>' in row  # score and its change, as everywhere
    default = client.get("/changes/").content.decode()  # no since: the last 24 h, shown in the field
    shown = default.split('name="since" type="datetime-local" value="', 1)[1][:16]
    assert abs(timezone.make_aware(datetime.strptime(shown, "%Y-%m-%dT%H:%M")) - (now - timedelta(days=1))) < timedelta(
        minutes=2
    )
