"""The stock JSON API: /api/stocks/, /api/stocks/<symbol>/, .../history/, /api/strategies/."""

from datetime import UTC, datetime, timedelta

import pytest

from stocks.strategies import STRATEGIES
from tests.factories import clear_universe, make_job, make_result, make_stock

pytestmark = pytest.mark.django_db

T0 = datetime(2025, 11, 1, 10, 0, tzinfo=UTC)


@pytest.fixture(autouse=True)
def known_world():
    clear_universe()


def assert_error(response, status: int, code: str):
    assert response.status_code == status, response.content
    body = response.json()
    assert set(body) == {"error"}
    assert set(body["error"]) == {"code", "message", "details"}
    assert body["error"]["code"] == code
    assert body["error"]["message"]
    return body["error"]


# --- /api/stocks/ -----------------------------------------------------------------------------------
def test_stock_list_rows_carry_the_latest_result_or_null(client):
    make_stock("RELIANCE", name="Reliance Industries Limited")
    make_stock("TCS", name="Tata Consultancy Services Limited")
    make_result("RELIANCE.NS", verdict="Sell", score=-0.3, created_at=T0)
    make_result("RELIANCE.NS", verdict="Strong Buy", score=0.71, created_at=T0 + timedelta(days=1))

    body = client.get("/api/stocks/").json()

    assert body["count"] == 2 and body["next"] is None
    reliance, tcs = body["results"]
    assert reliance == {
        "symbol": "RELIANCE",
        "yahoo_symbol": "RELIANCE.NS",
        "name": "Reliance Industries Limited",
        "exchange": "NSE",
        "series": "EQ",
        "is_active": True,
        "latest": {
            "verdict": "Strong Buy",
            "score": 0.71,
            "error": "",
            "analysed_at": reliance["latest"]["analysed_at"],
        },
    }
    assert datetime.fromisoformat(reliance["latest"]["analysed_at"]) == T0 + timedelta(days=1)
    assert tcs["symbol"] == "TCS" and tcs["latest"] is None


def test_stock_list_searches_symbol_and_name(client):
    make_stock("RELIANCE", name="Reliance Industries Limited")
    make_stock("TCS", name="Tata Consultancy Services Limited")
    make_stock("TATASTEEL", name="Tata Steel Limited")

    by_name = client.get("/api/stocks/", {"q": "tata"}).json()
    by_symbol = client.get("/api/stocks/", {"q": "relI"}).json()

    assert [row["symbol"] for row in by_name["results"]] == ["TATASTEEL", "TCS"]
    assert [row["symbol"] for row in by_symbol["results"]] == ["RELIANCE"]


def test_stock_list_filters_on_the_latest_verdict_in_any_spelling(client):
    for symbol in ("A", "B", "C"):
        make_stock(symbol)
    make_result("A.NS", verdict="Strong Buy")
    make_result("B.NS", verdict="Strong Buy", created_at=T0)
    make_result("B.NS", verdict="Hold", created_at=T0 + timedelta(hours=1))
    make_result("C.NS", verdict="Buy")

    for spelling in ("Strong Buy", "strong buy", "STRONG_BUY"):
        body = client.get("/api/stocks/", {"verdict": spelling}).json()
        assert [row["symbol"] for row in body["results"]] == ["A"], spelling


def test_stock_list_active_filter(client):
    make_stock("LIVE")
    make_stock("GONE", is_active=False)

    def symbols(**query):
        return [row["symbol"] for row in client.get("/api/stocks/", query).json()["results"]]

    assert symbols() == ["LIVE"]
    assert symbols(active="false") == ["GONE"]
    assert symbols(active="all") == ["GONE", "LIVE"]


def test_stock_list_paginates_with_page_size(client):
    for i in range(7):
        make_stock(f"S{i}")

    first = client.get("/api/stocks/", {"page_size": 3}).json()
    last = client.get("/api/stocks/", {"page_size": 3, "page": 3}).json()

    assert first["count"] == 7 and [r["symbol"] for r in first["results"]] == ["S0", "S1", "S2"]
    assert "page=2" in first["next"] and first["previous"] is None
    assert [r["symbol"] for r in last["results"]] == ["S6"] and last["next"] is None


def test_stock_list_default_page_size_is_50(client):
    for i in range(55):
        make_stock(f"S{i:02d}")

    assert len(client.get("/api/stocks/").json()["results"]) == 50


@pytest.mark.parametrize(
    ("query", "field"),
    [
        ({"page_size": 501}, "page_size"),
        ({"page_size": 0}, "page_size"),
        ({"verdict": "maybe"}, "verdict"),
        ({"active": "yes please"}, "active"),
        ({"page": "x"}, "page"),
    ],
)
def test_stock_list_rejects_bad_query_parameters_with_the_error_shape(client, query, field):
    error = assert_error(client.get("/api/stocks/", query), 400, "invalid")

    assert field in error["details"]


def test_stock_list_page_past_the_end_is_a_404_in_the_error_shape(client):
    make_stock("ONLY")

    assert_error(client.get("/api/stocks/", {"page": 5}), 404, "not_found")


# --- /api/stocks/<symbol>/ --------------------------------------------------------------------------
def test_stock_detail_includes_the_latest_result_with_indicators_and_provenance(client):
    make_stock("TCS", name="Tata Consultancy Services Limited")
    job = make_job(["TCS.NS"])
    make_result("TCS.NS", verdict="Sell", created_at=T0)
    newest = make_result("TCS.NS", verdict="Buy", job=job, created_at=T0 + timedelta(days=1))

    body = client.get("/api/stocks/TCS.NS/").json()

    assert body["symbol"] == "TCS" and body["name"] == "Tata Consultancy Services Limited"
    latest = body["latest_result"]
    assert latest["id"] == newest.id and latest["job_id"] == str(job.id)
    assert (latest["verdict"], latest["signal"], latest["score"]) == ("Buy", "BUY", 0.35)
    assert (latest["entry"], latest["stop_loss"], latest["target"]) == (100.0, 98.0, 104.0)
    assert latest["capital"] == 100000.0 and latest["position_size"] == 200 and latest["risk_reward"] == 2.0
    assert (latest["shares_by_risk"], latest["shares_by_max_position"], latest["size_limited_by"]) == (
        1000,
        200,
        "max_position",
    )
    assert (latest["risk_amount"], latest["risk_taken_percent"]) == (400.0, 0.4)
    assert latest["indicators"] == newest.indicators
    assert latest["provenance"]["bars"] == 500
    assert latest["data_source"] == "demo" and latest["is_demo"] is True


@pytest.mark.parametrize("path_symbol", ["TCS", "tcs", "TCS.NS", "tcs.ns"])
def test_stock_detail_accepts_nse_or_yahoo_symbol(client, path_symbol):
    make_stock("TCS")

    response = client.get(f"/api/stocks/{path_symbol}/")

    assert response.status_code == 200 and response.json()["yahoo_symbol"] == "TCS.NS"
    assert response.json()["latest_result"] is None


@pytest.mark.parametrize(
    ("symbol", "path_symbol"), [("M&M", "M%26M.NS"), ("M&M", "M&M.NS"), ("BAJAJ-AUTO", "BAJAJ-AUTO.NS")]
)
def test_symbols_with_ampersand_and_dash_round_trip(client, symbol, path_symbol):
    make_stock(symbol)
    make_result(f"{symbol}.NS", verdict="Hold")

    detail = client.get(f"/api/stocks/{path_symbol}/").json()
    listed = client.get("/api/stocks/", {"q": symbol}).json()["results"]
    history = client.get(f"/api/stocks/{path_symbol}/history/").json()

    assert detail["symbol"] == symbol and detail["latest_result"]["symbol"] == f"{symbol}.NS"
    assert [row["yahoo_symbol"] for row in listed] == [f"{symbol}.NS"]
    assert [row["symbol"] for row in history["results"]] == [f"{symbol}.NS"]


def test_unknown_symbol_is_a_404_in_the_error_shape(client):
    error = assert_error(client.get("/api/stocks/NOPE.NS/"), 404, "unknown_symbol")

    assert "NOPE.NS" in error["message"]


def test_malformed_symbol_is_a_400_in_the_error_shape(client):
    # Passes the URL converter (letters, digits, & - _ .) but is too long for a symbol.
    assert_error(client.get(f"/api/stocks/{'A' * 39}/"), 400, "invalid_symbol")


# --- /api/stocks/<symbol>/history/ ------------------------------------------------------------------
def test_history_is_paginated_newest_first_without_indicator_evidence(client):
    make_stock("TCS")
    made = [make_result("TCS.NS", created_at=T0 + timedelta(days=day)) for day in range(5)]
    make_result("TCS.NS", error="no data returned", created_at=T0 + timedelta(days=9))
    make_result("INFY.NS")

    page1 = client.get("/api/stocks/TCS/history/", {"page_size": 4}).json()
    page2 = client.get("/api/stocks/TCS/history/", {"page_size": 4, "page": 2}).json()

    assert page1["count"] == 6
    assert page1["results"][0]["error"] == "no data returned" and page1["results"][0]["verdict"] == ""
    ids = [row["id"] for row in page1["results"][1:] + page2["results"]]
    assert ids == [result.id for result in reversed(made)]
    assert "indicators" not in page1["results"][0]


def test_history_of_an_unknown_symbol_is_a_404(client):
    assert_error(client.get("/api/stocks/NOPE/history/"), 404, "unknown_symbol")


def test_history_rejects_an_oversized_page(client):
    make_stock("TCS")

    assert_error(client.get("/api/stocks/TCS/history/", {"page_size": 1000}), 400, "invalid")


# --- /api/strategies/ -------------------------------------------------------------------------------
def test_strategy_list_has_every_strategy_with_weights_and_risk_rules(client):
    body = client.get("/api/strategies/").json()

    assert [row["id"] for row in body] == sorted(STRATEGIES)
    balanced = body[0]
    assert balanced["name"] == STRATEGIES[1].name
    assert balanced["indicator_weights"] == STRATEGIES[1].indicator_weights
    assert balanced["category_weights"] == STRATEGIES[1].category_weights
    assert {"stop_loss_percent", "target_percent", "max_position_percent", "atr_stop", "description"} <= set(balanced)


def test_strategy_detail(client):
    strategy = STRATEGIES[2]

    body = client.get("/api/strategies/2/").json()

    assert (body["id"], body["name"], body["max_position_percent"]) == (2, strategy.name, strategy.max_position_percent)
    assert body["atr_stop"] is strategy.atr_stop


def test_unknown_strategy_is_a_404_in_the_error_shape(client):
    error = assert_error(client.get("/api/strategies/99/"), 404, "unknown_strategy")

    assert "99" in error["message"]


# --- schema -----------------------------------------------------------------------------------------
def test_schema_documents_the_stock_endpoints_and_their_error_responses(client):
    response = client.get("/api/schema/", HTTP_ACCEPT="application/vnd.oai.openapi+json")

    assert response.status_code == 200
    paths = response.json()["paths"]
    assert {
        "/api/stocks/",
        "/api/stocks/{symbol}/",
        "/api/stocks/{symbol}/history/",
        "/api/strategies/",
        "/api/strategies/{strategy_id}/",
    } <= set(paths)
    detail = paths["/api/stocks/{symbol}/"]["get"]["responses"]
    assert {"200", "404", "400"} <= set(detail)
    assert "$ref" in detail["404"]["content"]["application/json"]["schema"]
    list_parameters = {p["name"] for p in paths["/api/stocks/"]["get"]["parameters"]}
    assert {"q", "verdict", "active", "page", "page_size"} <= list_parameters


def test_api_times_are_utc_while_pages_show_ist(client):
    clear_universe()
    make_stock("TCS")
    make_result(symbol="TCS.NS")
    row = client.get("/api/stocks/").json()["results"][0]
    assert row["latest"]["analysed_at"].endswith("Z")
    assert " IST" in client.get("/").content.decode()
