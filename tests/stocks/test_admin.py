"""The stocks admin: universe editable, results and price cache read-only."""

from datetime import date

import pytest
from django.contrib.auth.models import Permission, User
from django.urls import reverse

from stocks.models import PriceCache
from tests.factories import clear_universe, make_job, make_result, make_stock

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def known_world():
    clear_universe()


def make_price_cache(symbol="TCS.NS") -> PriceCache:
    return PriceCache.objects.create(
        symbol=symbol,
        source="demo",
        fetched_on=date(2025, 11, 28),
        bars={"d": ["2025-11-27", "2025-11-28"], "o": [1, 2], "h": [2, 3], "l": [1, 1], "c": [2, 2], "v": [10, 20]},
        bar_count=2,
        first_bar=date(2025, 11, 27),
        last_bar=date(2025, 11, 28),
    )


@pytest.mark.parametrize(
    ("model", "listed"),
    [("stock", ["M&M"]), ("analysisresult", ["M&M.NS", "TCS.NS"]), ("pricecache", ["TCS.NS"])],
)
def test_changelists_list_every_record_for_a_superuser(admin_client, model, listed):
    make_stock("M&M")
    job = make_job(["M&M.NS"])
    make_result("M&M.NS", job=job)
    make_result("TCS.NS", error="no data returned by Yahoo for TCS.NS")
    make_price_cache()

    response = admin_client.get(reverse(f"admin:stocks_{model}_changelist"))

    assert response.status_code == 200
    assert sorted(row.symbol for row in response.context["cl"].result_list) == listed
    if model == "analysisresult":
        assert reverse("admin:jobs_analysisjob_change", args=[job.pk]) in response.content.decode()


def test_change_pages_show_the_record_and_only_stocks_are_editable(admin_client):
    stock = make_stock("BAJAJ-AUTO")
    result = make_result("BAJAJ-AUTO.NS", job=make_job(["BAJAJ-AUTO.NS"]))
    cache = make_price_cache()

    pages = {}
    for model, pk in (("stock", stock.pk), ("analysisresult", result.pk), ("pricecache", cache.pk)):
        response = admin_client.get(reverse(f"admin:stocks_{model}_change", args=[pk]))
        assert response.status_code == 200, model
        assert response.context["original"].pk == pk, model
        pages[model] = response.content.decode()

    assert 'name="symbol"' in pages["stock"] and 'value="BAJAJ-AUTO"' in pages["stock"]
    assert 'name="_save"' in pages["stock"]
    for model in ("analysisresult", "pricecache"):
        assert 'name="_save"' not in pages[model], f"{model} is read-only"
    assert "BAJAJ-AUTO.NS" in pages["analysisresult"] and "RSI 14 below 30 votes buy" in pages["analysisresult"]
    assert "TCS.NS" in pages["pricecache"]
    assert "field-bars" not in pages["pricecache"], "the raw bars are left out of the page"


def test_stock_search_finds_symbols_with_ampersand(admin_client):
    make_stock("M&M", name="Mahindra & Mahindra Limited")
    make_stock("ZZZNOTME", name="Unrelated Limited")

    response = admin_client.get(reverse("admin:stocks_stock_changelist"), {"q": "m&m"})

    assert list(response.context["cl"].result_list.values_list("symbol", flat=True)) == ["M&M"]


def test_results_list_links_to_the_job_and_is_searchable_by_job_id(admin_client):
    job = make_job(["TCS.NS"])
    make_result("TCS.NS", job=job)
    make_result("INFY.NS")

    response = admin_client.get(reverse("admin:stocks_analysisresult_changelist"), {"q": str(job.id)})

    assert [r.symbol for r in response.context["cl"].result_list] == ["TCS.NS"]
    assert reverse("admin:jobs_analysisjob_change", args=[job.id]) in response.content.decode()


def test_results_and_price_cache_cannot_be_added_or_edited(admin_client):
    result = make_result("TCS.NS")

    assert admin_client.get(reverse("admin:stocks_analysisresult_add")).status_code == 403
    assert admin_client.get(reverse("admin:stocks_pricecache_add")).status_code == 403
    edit = admin_client.post(reverse("admin:stocks_analysisresult_change", args=[result.pk]), {"verdict": "Sell"})
    assert edit.status_code == 403
    result.refresh_from_db()
    assert result.verdict == "Buy"


def test_only_superusers_may_delete_results(client, admin_client):
    result = make_result("TCS.NS")
    staff = User.objects.create_user("staff", password="pw", is_staff=True)
    staff.user_permissions.add(
        *Permission.objects.filter(codename__in=["view_analysisresult", "delete_analysisresult"])
    )
    client.force_login(staff)
    delete_url = reverse("admin:stocks_analysisresult_delete", args=[result.pk])

    assert client.get(reverse("admin:stocks_analysisresult_change", args=[result.pk])).status_code == 200
    assert client.post(delete_url, {"post": "yes"}).status_code == 403
    assert admin_client.post(delete_url, {"post": "yes"}).status_code == 302
    assert not type(result).objects.filter(pk=result.pk).exists()


def test_results_show_a_signed_score_the_strategy_by_name_and_failures_as_failed(admin_client):
    from stocks.strategies import STRATEGIES

    make_result("TCS.NS", score=-0.0033, strategy_id=1)
    make_result("INFY.NS", score=0.3512, strategy_id=5)
    make_result("WIPRO.NS", error="no data returned by Yahoo for WIPRO.NS")
    url = reverse("admin:stocks_analysisresult_changelist")
    html = admin_client.get(url).content.decode()
    # As on every page: two places, explicit sign, none on a score that rounds to zero.
    assert '<td class="field-signed_score">0.00</td>' in html
    assert '<td class="field-signed_score">+0.35</td>' in html
    assert '<span title="no data returned by Yahoo for WIPRO.NS">failed</span>' in html
    assert f'<td class="field-strategy">{STRATEGIES[5].name}</td>' in html
    assert f'href="?strategy=5">{STRATEGIES[5].name}</a>' in html
    filtered = admin_client.get(url, {"strategy": "5"})
    assert [row.symbol for row in filtered.context["cl"].result_list] == ["INFY.NS"]


def test_results_list_shows_the_data_date_and_its_quality_flags(admin_client):
    make_result("TCS.NS")  # clean data: the date alone
    make_result(
        "INFY.NS",
        provenance={
            "source": "yfinance",
            "last_bar": "2025-11-26",
            "quality": {"data_as_of": "2025-11-26", "sessions_behind": 2, "zero_volume_run": 3,
                        "flags": ["stale", "zero_volume_run"]},
        },
    )  # fmt: skip
    html = admin_client.get(reverse("admin:stocks_analysisresult_changelist")).content.decode()
    cells = [cell.split("</td>")[0] for cell in html.split('<td class="field-data_as_of')[1:]]
    flagged, clean = sorted(cells, key=lambda cell: "<strong" not in cell)
    assert ">2 sessions behind; no trades 3 sessions</strong>" in flagged
    assert 'title="The last bar is from 2025-11-26; 2 NSE sessions closed since' in flagged
    assert "<strong" not in clean and "2025" in clean
