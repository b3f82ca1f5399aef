"""The daily-loop pages: sign-in required, forms that redirect with a message, read-only for others."""

from datetime import timedelta

import pytest
from django.utils import timezone

from jobs.models import AnalysisJob
from stocks.strategies import STRATEGIES
from tests.factories import make_result
from watchlists.models import SavedScreen, ScheduledScan, Watchlist
from watchlists.services import create_saved_screen, create_watchlist

pytestmark = pytest.mark.django_db


@pytest.fixture
def alice(client, people):
    client.force_login(people["alice"])
    return client


def test_anonymous_visitors_are_sent_to_sign_in_even_with_open_access(client, universe, settings):
    settings.THETOOL_OPEN_ACCESS = True
    answer = client.get("/watchlists/")
    assert answer.status_code == 302 and answer["Location"].startswith("/accounts/login/?next=/watchlists/")


def test_create_a_list_from_the_basket_and_add_more_from_a_stock_page(alice, people, universe):
    created = alice.post("/watchlists/add/", {"symbols": ["TCS.NS", "INFY.NS"], "name": "IT", "next": "/?q=t"})
    assert created.status_code == 302 and created["Location"] == "/?q=t"
    watchlist = Watchlist.objects.get(owner=people["alice"], name="IT")
    alice.post("/watchlists/add/", {"symbols": "RELIANCE.NS", "watchlist": watchlist.pk})
    symbols = sorted(watchlist.items.values_list("stock__yahoo_symbol", flat=True))
    assert symbols == ["INFY.NS", "RELIANCE.NS", "TCS.NS"]


def test_rename_remove_and_delete(alice, people, universe):
    watchlist = create_watchlist(owner=people["alice"], name="A", symbols=["TCS", "INFY"])
    url = f"/watchlists/{watchlist.pk}/edit/"
    alice.post(url, {"action": "rename", "name": "B"})
    alice.post(url, {"action": "remove", "symbols": "TCS.NS"})
    watchlist.refresh_from_db()
    assert watchlist.name == "B" and list(watchlist.items.values_list("stock__symbol", flat=True)) == ["INFY"]
    alice.post(url, {"action": "delete"})
    assert not Watchlist.objects.filter(pk=watchlist.pk).exists()


def test_analyze_from_the_page_opens_the_job(alice, people, universe):
    watchlist = create_watchlist(owner=people["alice"], name="A", symbols=["TCS"])
    answer = alice.post(f"/watchlists/{watchlist.pk}/edit/", {"action": "analyze", "strategy": "2"})
    job = AnalysisJob.objects.get()
    assert answer["Location"] == f"/jobs/{job.pk}/" and job.symbols == ["TCS.NS"] and job.strategy_id == 2


def test_another_user_sees_a_list_read_only_and_cannot_change_it(client, people, universe):
    watchlist = create_watchlist(owner=people["alice"], name="A", symbols=["TCS"])
    client.force_login(people["bob"])
    page = client.get(f"/watchlists/{watchlist.pk}/").content.decode()
    assert "read-only" in page and "Analyze watchlist" not in page
    client.post(f"/watchlists/{watchlist.pk}/edit/", {"action": "rename", "name": "Bob's now"}, follow=True)
    watchlist.refresh_from_db()
    assert watchlist.name == "A"


def test_save_a_screen_and_open_its_shared_link(alice, client, people, universe):
    alice.post("/screens/", {"name": "Oversold", "query": "rsi_max=30&verdict=Buy"})
    screen = SavedScreen.objects.get(owner=people["alice"])
    client.logout()
    opened = client.get(f"/screens/{screen.share_token}/")
    assert opened.status_code == 302 and opened["Location"].startswith("/?rsi_max=30&verdict=Buy")


def test_schedule_and_delete_a_scan_from_the_page(alice, people, universe):
    watchlist = create_watchlist(owner=people["alice"], name="A", symbols=["TCS"])
    alice.post("/scans/", {"name": "Daily", "target": f"watchlist:{watchlist.pk}", "strategy": "1", "run_at": "16:15"})
    scan = ScheduledScan.objects.get()
    assert scan.watchlist == watchlist and scan.run_at.hour == 16
    page = alice.get("/watchlists/").content.decode()
    assert f'data-scan-id="{scan.pk}"' in page
    alice.post(f"/scans/{scan.pk}/delete/")
    assert not ScheduledScan.objects.exists()


def test_a_scan_of_someone_elses_list_is_refused(alice, people, universe):
    theirs = create_watchlist(owner=people["bob"], name="Bob's", symbols=["TCS"])
    alice.post("/scans/", {"name": "Sneaky", "target": f"watchlist:{theirs.pk}", "strategy": "1"})
    assert not ScheduledScan.objects.exists()


def test_the_all_stocks_page_offers_add_to_watchlist_and_save_screen_when_signed_in(alice, people, universe):
    create_saved_screen(owner=people["alice"], name="x", query="")
    html = alice.get("/").content.decode()
    assert 'id="watchlist-add-form"' in html and "Save screen" in html


def _cells(page: str, symbol: str) -> str:
    """The text of the row whose first cell links to `symbol`."""
    row = page.split(f">{symbol}</a>", 1)[1]
    return row.split("</tr>", 1)[0]


def test_the_watchlist_page_shows_the_chosen_strategy_and_period(alice, people, universe):
    now = timezone.now()
    watchlist = create_watchlist(owner=people["alice"], name="A", symbols=["TCS"])
    make_result("TCS.NS", verdict="Sell", score=-0.3, strategy_id=3, created_at=now - timedelta(days=5))
    make_result("TCS.NS", verdict="Strong Buy", score=0.7, strategy_id=3, created_at=now - timedelta(hours=1))
    make_result("TCS.NS", verdict="Hold", score=0.0, strategy_id=1, created_at=now - timedelta(hours=1))
    url = f"/watchlists/{watchlist.pk}/"

    default = alice.get(url).content.decode()
    assert 'id="watchlist-strategy">Balanced<' in default and "over the last 1 day" in default
    assert "Hold" in _cells(default, "TCS") and "Strong Buy" not in _cells(default, "TCS")

    # Strategy 3 over the last day: the Sell of 5 days ago is the verdict before.
    day = alice.get(url, {"strategy": 3}).content.decode()
    assert "<td>Strong Buy</td><td>Sell</td>" in _cells(day, "TCS")
    assert 'href="?strategy=3&amp;period=1w"' in day  # period links keep the strategy
    assert f'href="?strategy=3" aria-current="true">{STRATEGIES[3].name}</a>' in day and 'href="?strategy=2">' in day
    assert '<option value="3" selected>' in day  # Analyze defaults to the strategy shown

    # Over a week both results are inside the window: the newest counts, with nothing before it.
    week = alice.get(url, {"strategy": 3, "period": "1w"}).content.decode()
    assert "over the last 1 week" in week and "<td>Strong Buy</td><td>—</td>" in _cells(week, "TCS")
    assert 'href="?strategy=1&amp;period=1w"' in week  # strategy tabs keep the period

    # Since a date: between the two results the Sell is before again; the form shows the date.
    since_day = (now - timedelta(days=2)).date().isoformat()
    custom = alice.get(url, {"strategy": 3, "since": since_day}).content.decode()
    assert "<td>Strong Buy</td><td>Sell</td>" in _cells(custom, "TCS") and f'value="{since_day}"' in custom
    assert "over the last" not in custom and "since " in custom
    early = alice.get(url, {"strategy": 3, "since": (now - timedelta(days=10)).isoformat()}).content.decode()
    assert "<td>Strong Buy</td><td>—</td>" in _cells(early, "TCS")


def test_the_watchlist_page_ignores_a_bad_strategy_or_period(alice, people, universe):
    watchlist = create_watchlist(owner=people["alice"], name="A", symbols=["TCS"])
    for params in (
        {"strategy": "9"},
        {"strategy": "x", "period": "5y"},
        {"since": "2026-02-30"},
        {"since": "3000-01-01"},
    ):
        page = alice.get(f"/watchlists/{watchlist.pk}/", params)
        assert page.status_code == 200
        text = page.content.decode()
        assert 'id="watchlist-strategy">Balanced<' in text and "over the last 1 day" in text
