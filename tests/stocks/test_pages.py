"""The server-rendered stock pages: All stocks, one stock, strategies, and the 404 page."""

from datetime import UTC, datetime
from decimal import Decimal

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from stocks import market_data, selectors
from stocks.models import Stock
from stocks.services import resize_position
from stocks.strategies import STRATEGIES
from stocks.templatetags.thetool_pages import signed
from tests.factories import make_history, make_job, make_result, make_stock

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def known_world(settings):
    """Demo prices, and no stocks but the ones each test makes (migration 0002 seeds NIFTY 50)."""
    settings.THETOOL_DATA_SOURCE = "demo"
    Stock.objects.all().delete()


@pytest.fixture
def universe():
    """RELIANCE (Buy), TCS (Sell), INFY (failed), M&M (never analysed)."""
    for symbol in ("RELIANCE", "TCS", "INFY", "M&M"):
        make_stock(symbol)
    make_result("RELIANCE.NS", verdict="Buy", score=0.35)
    make_result("TCS.NS", verdict="Sell", score=-0.4, data_source="yfinance", provenance={"source": "yfinance"})
    make_result("INFY.NS", error="no data for INFY.NS")


def rows_of(response) -> list[str]:
    return [stock.symbol for stock in response.context["page"]]


def table_of(response) -> str:
    """The #stock-table fragment (what htmx swaps in after a search)."""
    html = response.content.decode()
    return html[html.index('<div id="stock-table"') :]


# --- All stocks -------------------------------------------------------------------------------


def test_stock_list_shows_symbol_company_verdict_score_and_time(client, universe):
    response = client.get("/")
    html = response.content.decode()
    assert response.status_code == 200
    assert rows_of(response) == ["INFY", "M&M", "RELIANCE", "TCS"]
    assert "Reliance Limited" in html
    assert 'class="verdict-badge buy">Buy<' in html
    assert "+0.35" in html and "-0.40" in html
    # Per row: the verdict filter's own "Not analysed" option is on every page, whatever the rows say.
    never, failed = (html.split(f'data-symbol="{s}"')[1].split("</tr>")[0] for s in ("M&amp;M.NS", "INFY.NS"))
    assert "Not analysed" in never and "Failed" not in never
    assert "Failed" in failed and "Not analysed" not in failed
    assert " IST" in html


def test_stock_list_shows_data_quality_flags_next_to_the_verdict(client, universe):
    make_result(
        "TCS.NS",
        verdict="Sell",
        data_source="yfinance",
        provenance={
            "source": "yfinance",
            "last_bar": "2025-11-26",
            "quality": {"data_as_of": "2025-11-26", "sessions_behind": 0, "zero_volume_run": 5,
                        "flags": ["zero_volume_run"]},
        },
    )  # fmt: skip
    html = client.get("/").content.decode()
    tcs, reliance = (html.split(f'data-symbol="{s}"')[1].split("</tr>")[0] for s in ("TCS.NS", "RELIANCE.NS"))
    assert '<span class="badge data-flag" data-flag="zero_volume_run"' in tcs
    assert ">no trades 5 sessions<" in tcs and "5 sessions in a row with zero volume" in tcs
    assert "data-flag" not in reliance


def test_stock_list_labels_demo_results_only(client, universe):
    html = client.get("/").content.decode()
    reliance_row = html.split('data-symbol="RELIANCE.NS"')[1].split("</tr>")[0]
    tcs_row = html.split('data-symbol="TCS.NS"')[1].split("</tr>")[0]
    assert "DEMO" in reliance_row
    assert "DEMO" not in tcs_row


def test_stock_list_searches_symbol_and_company(client, universe):
    assert rows_of(client.get("/", {"q": "tcs"})) == ["TCS"]
    assert rows_of(client.get("/", {"q": "m&m"})) == ["M&M"]


def test_stock_list_filters_by_latest_verdict_and_not_analysed(client, universe):
    assert rows_of(client.get("/", {"verdict": "Buy"})) == ["RELIANCE"]
    assert rows_of(client.get("/", {"verdict": "none"})) == ["M&M"]
    assert rows_of(client.get("/", {"verdict": "nonsense"})) == ["INFY", "M&M", "RELIANCE", "TCS"]


def test_stock_list_sorts_by_score_with_unanalysed_last(client, universe):
    assert rows_of(client.get("/", {"sort": "-score"}))[:2] == ["RELIANCE", "TCS"]
    assert rows_of(client.get("/", {"sort": "score"}))[:2] == ["TCS", "RELIANCE"]
    assert rows_of(client.get("/", {"sort": "-symbol"})) == ["TCS", "RELIANCE", "M&M", "INFY"]


def test_stock_list_paginates_fifty_rows_in_a_fixed_number_of_queries(client, django_assert_max_num_queries):
    for n in range(120):
        make_stock(f"S{n:03d}")
    make_result("S001.NS")
    with django_assert_max_num_queries(6):
        response = client.get("/", {"page": 3})
    assert len(rows_of(response)) == 20
    assert "Page 3 of 3" in response.content.decode()


def test_stock_list_shows_the_latest_verdict_of_the_chosen_strategy_only(client, universe):
    job = make_job(["TCS.NS"], strategy_id=4, status="cancelled")
    make_result("TCS.NS", job=job, strategy_id=4, verdict="Strong Buy", score=0.9)  # newer, but Momentum
    balanced = client.get("/")
    assert balanced.context["strategy"].name == "Balanced"
    tcs = {row.stock.symbol: row.result for row in balanced.context["rows"]}["TCS"]
    assert tcs.verdict == "Sell" and tcs.strategy_id == 1
    assert "Strong Buy" not in table_of(balanced)
    assert 'Verdicts under <strong id="table-strategy">Balanced</strong>' in table_of(balanced)

    momentum = client.get("/", {"strategy": "4"})
    rows = {row.stock.symbol: row.result for row in momentum.context["rows"]}
    assert rows["TCS"].verdict == "Strong Buy" and rows["RELIANCE"] is None
    assert "Momentum Breakout" in table_of(momentum)
    # The origin is one click away: the time links to the job that produced the verdict.
    assert f'href="/jobs/{job.pk}/"' in table_of(momentum) and "(cancelled)" in table_of(momentum)


def test_stock_list_labels_a_stock_never_analysed_under_the_strategy(client, universe):
    make_result("M&M.NS", strategy_id=2, verdict="Buy")  # analysed, but not under Balanced
    html = table_of(client.get("/"))
    row = html.split('data-symbol="M&amp;M.NS"')[1].split("</tr>")[0]
    assert "Not analysed" in row and "verdict-badge" not in row


def test_stock_list_sorts_and_filters_one_strategy_at_a_time(client, universe):
    make_result("TCS.NS", strategy_id=4, verdict="Strong Buy", score=0.9)
    assert rows_of(client.get("/", {"sort": "-score"}))[:2] == ["RELIANCE", "TCS"]
    assert rows_of(client.get("/", {"sort": "-score", "strategy": "4"}))[0] == "TCS"
    assert rows_of(client.get("/", {"verdict": "Strong Buy"})) == []
    assert rows_of(client.get("/", {"verdict": "Strong Buy", "strategy": "4"})) == ["TCS"]
    assert rows_of(client.get("/", {"verdict": "none", "strategy": "4"})) == ["INFY", "M&M", "RELIANCE"]


def test_stock_list_says_what_the_strategy_is_for_next_to_the_verdicts(client, universe):
    html = table_of(client.get("/", {"strategy": "3"}))
    assert STRATEGIES[3].description in html


def test_stock_list_counts_matches_out_of_the_whole_universe(client, universe):
    assert '"stock-count">4 stocks.<' in table_of(client.get("/"))
    assert '"stock-count">1 of 4 stocks.<' in table_of(client.get("/", {"q": "tcs"}))
    assert '"stock-count">1 of 4 stocks.<' in table_of(client.get("/", {"verdict": "Buy"}))


def test_stock_list_search_form_keeps_the_strategy(client, universe):
    html = client.get("/", {"strategy": "2"}).content.decode()
    assert '<input type="hidden" name="strategy" value="2" id="filter-strategy">' in html


def test_capital_inputs_take_any_positive_rupee_amount(client, universe):
    make_result("RELIANCE.NS", capital=Decimal("123456"))
    for html in (client.get("/").content.decode(), client.get("/stocks/RELIANCE/").content.decode()):
        assert 'step="1000"' not in html and 'min="1000"' not in html
    stock_page = client.get("/stocks/RELIANCE/").content.decode()
    assert 'name="capital" value="123456" min="1" step="any"' in stock_page


def test_stock_list_has_analyze_form_with_csrf_capital_strategies_and_both_buttons(client, universe):
    html = client.get("/").content.decode()
    assert 'name="csrfmiddlewaretoken"' in html
    assert 'name="capital" value="100000"' in html
    for strategy in STRATEGIES.values():
        assert strategy.name in html and strategy.description in html
    assert "Analyze Selected" in html and "Analyze All" in html
    assert 'name="symbols" value="M&amp;M.NS" form="analyze-form"' in html


def test_stock_list_links_encode_ampersand(client, universe):
    html = client.get("/").content.decode()
    assert 'href="/stocks/M%26M/?strategy=1"' in html


def test_stock_list_empty_universe_explains_how_to_load_it(client):
    html = client.get("/").content.decode()
    assert "The stock universe is empty" in html


def test_stock_list_no_match_offers_to_clear_filters(client, universe):
    html = client.get("/", {"q": "zzz"}).content.decode()
    assert "No stock matches" in html and "Clear the filters" in html


def test_stock_list_shows_progress_of_tracked_job(client, universe):
    job = make_job(["RELIANCE.NS", "TCS.NS"], completed=1)
    html = client.get("/", {"job": str(job.pk)}).content.decode()
    assert 'id="job-progress"' in html
    assert f'hx-get="/jobs/{job.pk}/progress/"' in html
    assert 'progress-done">1</span>/2' in html


def test_stock_list_ignores_malformed_tracked_job(client, universe):
    assert client.get("/", {"job": "not-a-uuid"}).status_code == 200


# --- One stock ----------------------------------------------------------------------------------


def test_stock_page_shows_verdict_levels_indicators_chart_and_history(client, universe):
    older = make_result("RELIANCE.NS", verdict="Hold", score=0.05, created_at=datetime(2025, 1, 2, 4, 0, tzinfo=UTC))
    response = client.get("/stocks/RELIANCE/")
    html = response.content.decode()
    assert response.status_code == 200
    assert 'id="latest-verdict">Buy<' in html
    assert "₹100.00" in html and "₹98.00" in html and "₹104.00" in html
    assert "1 : 2.00" in html
    assert "RSI" in html and "RSI 14 below 30 votes buy" in html and "60%" in html
    assert 'id="chart-data"' in html and '"ema200"' in html
    assert response.context["chart_levels"] == {"entry": 100.0, "stop_loss": 98.0, "target": 104.0}
    assert "02 Jan 2025, 09:30 IST" in html  # 04:00 UTC is 09:30 in Asia/Kolkata
    assert list(response.context["history"])[-1] == older
    assert "DEMO" in html
    assert "lightweight-charts-5.2.1.standalone.production.js" in html


def test_stock_page_shows_the_verdicts_data_quality_flags(client, universe, monkeypatch):
    # The chart of a yfinance result fetches from Yahoo: answered here, offline.
    monkeypatch.setattr(market_data, "fetch_histories", lambda symbols, **_: {symbols[0]: make_history(symbols[0])})
    assert "data-flag" not in client.get("/stocks/RELIANCE/").content.decode()
    make_result(
        "RELIANCE.NS",
        provenance={
            "source": "yfinance",
            "bars": 500,
            "last_bar": "2025-11-26",
            "quality": {"data_as_of": "2025-11-26", "sessions_behind": 2, "zero_volume_run": 0, "flags": ["stale"]},
        },
        data_source="yfinance",
    )
    html = client.get("/stocks/RELIANCE/").content.decode()
    assert "500 bars to 2025-11-26" in html
    assert '<span class="badge data-flag" data-flag="stale"' in html and ">2 sessions behind<" in html
    assert "2 NSE sessions closed since without a bar from Yahoo" in html


def test_stock_page_says_what_the_verdict_s_strategy_is_for(client, universe):
    html = client.get("/stocks/RELIANCE/").content.decode()
    assert f"Under <strong>Balanced</strong>: {STRATEGIES[1].description}" in html


def test_stock_page_from_the_table_shows_the_verdict_of_that_strategy(client, universe):
    make_result("RELIANCE.NS", strategy_id=3, verdict="Strong Sell", score=-0.8)
    assert client.get("/stocks/RELIANCE/").context["result"].verdict == "Strong Sell"  # newest of any
    balanced = client.get("/stocks/RELIANCE/", {"strategy": "1"})
    assert balanced.context["result"].verdict == "Buy"
    assert STRATEGIES[1].description in balanced.content.decode()


def test_stock_page_accepts_yahoo_symbol_and_encoded_ampersand(client, universe):
    assert client.get("/stocks/RELIANCE.NS/").status_code == 200
    response = client.get("/stocks/M%26M/")
    assert response.status_code == 200
    assert response.context["stock"].symbol == "M&M"


def test_stock_page_for_never_analysed_stock_invites_analysis(client, universe):
    html = client.get("/stocks/M%26M/").content.decode()
    assert "Not analysed yet" in html
    assert "No analyses of M&amp;M yet" in html
    assert 'name="symbols" value="M&amp;M.NS"' in html and "Analyze now" in html


def test_stock_page_for_failed_latest_result_shows_the_error(client, universe):
    html = client.get("/stocks/INFY/").content.decode()
    assert "no data for INFY.NS" in html
    assert "Failed" in html


def test_unknown_symbol_renders_the_404_page(client, universe):
    response = client.get("/stocks/NOPE/")
    assert response.status_code == 404
    html = response.content.decode()
    assert "Not found" in html and "Unknown symbol" in html and "Back to all stocks" in html


def test_unknown_address_renders_the_404_page_without_internals(client):
    response = client.get("/no/such/page/")
    assert response.status_code == 404
    assert "Resolver404" not in response.content.decode()


def test_production_404_page_is_thetools_own(client, settings):
    settings.DEBUG = False
    html = client.get("/stocks/NOPE/").content.decode()
    assert '<a class="brand" href="/">TheTool</a>' in html and "Back to all stocks" in html
    assert 'name="viewport" content="width=device-width' in html


def test_production_500_page_is_thetools_own_and_needs_no_database(client, settings, monkeypatch):
    from django.template import loader

    settings.DEBUG = False
    client.raise_request_exception = False

    def crashing(symbol):
        raise RuntimeError("boom")

    monkeypatch.setattr(selectors, "get_stock", crashing)
    with CaptureQueriesContext(connection) as queries:
        response = client.get("/stocks/RELIANCE/")
        bare = loader.get_template("500.html").render()  # no request, no context processors
    assert response.status_code == 500
    html = response.content.decode()
    assert "Something went wrong" in html and '<a class="brand" href="/">TheTool</a>' in html
    assert 'name="viewport" content="width=device-width' in html and "boom" not in html
    assert "Something went wrong" in bare
    assert len(queries) == 0


def test_stock_page_says_chart_unavailable_when_prices_fail(client, universe, monkeypatch):
    def failing(symbols, *, source=None, use_cache=True):
        return {symbols[0]: market_data.MarketDataError("Yahoo returned no rows", permanent=False)}

    monkeypatch.setattr(market_data, "fetch_histories", failing)
    response = client.get("/stocks/RELIANCE/")
    assert response.status_code == 200
    assert "Chart unavailable: Yahoo returned no rows" in response.content.decode()


def test_stock_page_survives_a_crashing_price_source(client, universe, monkeypatch):
    def crashing(symbols, *, source=None, use_cache=True):
        raise RuntimeError("boom")

    monkeypatch.setattr(market_data, "fetch_histories", crashing)
    response = client.get("/stocks/RELIANCE/")
    assert response.status_code == 200
    assert "Chart unavailable: internal error" in response.content.decode()


def test_stock_page_chart_uses_the_source_of_the_latest_result(client, universe, monkeypatch):
    seen = []

    def recording(symbols, *, source=None, use_cache=True):
        seen.append(source)
        return {symbols[0]: make_history(symbols[0], bars=300)}

    monkeypatch.setattr(market_data, "fetch_histories", recording)
    client.get("/stocks/TCS/")
    client.get("/stocks/RELIANCE/")
    assert seen == ["yfinance", "demo"]


def test_position_size_follows_the_chosen_capital(client, universe):
    result = make_result(
        "RELIANCE.NS",
        provenance={"source": "demo", "risk_percent": 2.0, "max_position_percent": 20.0},
    )
    # 2% of 100,000 = 2,000 risk / 2.00 per share = 1,000; 20% exposure cap / 100 = 200 shares.
    assert resize_position(result=result, capital=Decimal("100000")) == 200
    assert resize_position(result=result, capital=Decimal("1000000")) == 2000
    html = client.get("/stocks/RELIANCE/", {"capital": "1000000"}).content.decode()
    assert "2,000 shares" in html


def test_the_stock_page_shows_both_size_limits_and_which_one_bound(client, universe):
    make_result(
        "RELIANCE.NS",
        provenance={"source": "demo", "risk_percent": 2.0, "max_position_percent": 20.0},
    )
    # At 100,000: risk allows 1,000 shares, the 20% cap 200 shares, so the cap binds.
    html = client.get("/stocks/RELIANCE/").content.decode()
    limits = html[html.index('id="sizing-limits"') :]
    limits = limits[: limits.index("</p>")]
    assert "risk 1,000 shares" in limits and "max position 200 shares" in limits
    assert '<span class="binding">max position 200 shares' in limits
    assert "The max-position cap bound the size" in limits


def test_position_size_is_unknown_for_capital_out_of_bounds():
    result = make_result("RELIANCE.NS")
    assert resize_position(result=result, capital=Decimal("5")) is None


# --- Strategies ---------------------------------------------------------------------------------


def test_strategies_page_lists_weights_and_risk_rules(client):
    html = client.get(reverse("strategy-list")).content.decode()
    for strategy in STRATEGIES.values():
        assert strategy.name in html
    assert "1.5 × ATR 14, clamped to 3–4% of entry" in html
    assert "MACD" in html and "Momentum" in html
    assert "Largest position" in html


def test_stock_list_rows_escape_what_they_show(client):
    make_stock("ACME", name='Acme <script>alert("x")</script> & Co')
    make_result("ACME.NS", error="bad bars <b>before</b> 2025-01-02")

    html = client.get(reverse("stock-list")).content.decode()

    assert "<script>alert" not in html and "Acme &lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt; &amp; Co" in html
    assert 'title="bad bars &lt;b&gt;before&lt;/b&gt; 2025-01-02">Failed</span>' in html


@pytest.mark.parametrize(
    ("score", "shown"),
    [(0.35, "+0.35"), (-0.16, "-0.16"), (-0.0012, "0.00"), (0.004, "0.00"), (0.005, "+0.01"), (0, "0.00"), (None, "—")],
)
def test_scores_show_their_sign_and_a_score_that_rounds_to_zero_none(score, shown):
    assert signed(score) == shown
