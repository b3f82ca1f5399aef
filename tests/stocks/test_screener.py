"""The screener on All stocks: filters on the latest analysis (SQL), index and industry, columns remembered."""

import pytest
from django.http import QueryDict

from stocks import screener, selectors
from stocks.indicators import INDICATOR_NAMES
from stocks.models import IndexMembership, Stock, StockQuote
from tests.factories import clear_universe, make_result, make_stock

pytestmark = pytest.mark.django_db


def readings(*, rsi=50.0, adx=20.0, macd=0.5, ema50=100.0, ema200=90.0, close=105.0, percent_b=0.5, cmf=0.1):
    values = {"macd": macd, "adx": adx, "ema": 1.0, "psar": 99.0, "rsi": rsi, "bollinger": percent_b, "cmf": cmf}
    # As the engine writes them: the MACD and Bollinger values repeat in details (hist, percent_b).
    details = {
        "ema": {"ema50": ema50, "ema200": ema200},
        "psar": {"close": close, "sar": 99.0},
        "macd": {"hist": macd},
        "bollinger": {"percent_b": percent_b},
    }
    return [
        {
            "name": name,
            "value": values.get(name, 0.0),
            "vote": 0,
            "confidence": 0.0,
            "rule": "",
            "details": details.get(name, {}),
        }
        for name in INDICATOR_NAMES
    ]


@pytest.fixture
def world():
    clear_universe()
    for symbol in ("AAA", "BBB", "CCC", "DDD"):
        make_stock(symbol)
    make_result("AAA.NS", verdict="Buy", score=0.4, indicators=readings(rsi=28, adx=30, close=110, ema200=90))
    make_result("BBB.NS", verdict="Sell", score=-0.4, indicators=readings(rsi=75, macd=-1.0, close=80, ema200=90))
    make_result("CCC.NS", verdict="Buy", score=0.2, indicators=readings(rsi=45, cmf=-0.2, percent_b=1.2))
    # CCC's newer result under another strategy must not decide Balanced filters.
    make_result("CCC.NS", verdict="Strong Sell", score=-0.9, strategy_id=2, indicators=readings(rsi=90))


def screen(query: str, strategy_id: int = 1) -> list[str]:
    filters = screener.parse_filters(QueryDict(query), strict=True)
    stocks = selectors.stocks_with_strategy_results(strategy_id=strategy_id)
    return sorted(
        screener.apply_filters(stocks, filters=filters, strategy_id=strategy_id).values_list("symbol", flat=True)
    )


@pytest.mark.parametrize(
    "query, expected",
    [
        ("verdict=Buy", ["AAA", "CCC"]),
        ("score_min=0.3", ["AAA"]),
        ("score_max=0", ["BBB"]),
        ("rsi_max=30", ["AAA"]),
        ("rsi_min=40&rsi_max=80", ["BBB", "CCC"]),
        ("adx_min=25", ["AAA"]),
        ("above_ema200=1", ["AAA", "CCC"]),
        ("above_ema200=0", ["BBB"]),
        ("macd=negative", ["BBB"]),
        ("cmf=negative", ["CCC"]),
        ("bollinger=above", ["CCC"]),
        ("verdict=Buy&cmf=positive&rsi_max=30", ["AAA"]),
        ("fresh_days=1", ["AAA", "BBB", "CCC"]),
    ],
)
def test_each_filter_and_their_combination(world, query, expected):
    assert screen(query) == expected


def test_filters_read_only_the_chosen_strategys_latest_result(world):
    assert screen("rsi_min=80", strategy_id=2) == ["CCC"]
    assert screen("rsi_min=80", strategy_id=1) == []


def test_index_and_industry_filters(world):
    IndexMembership.objects.create(index_name="NIFTY 50", stock=Stock.objects.get(symbol="AAA"))
    Stock.objects.filter(symbol__in=["AAA", "DDD"]).update(industry="Information Technology")
    assert screen("index=NIFTY 50") == ["AAA"]
    assert screen("industry=Information Technology") == ["AAA", "DDD"]


def test_malformed_filters_are_reported_when_strict_and_dropped_on_pages():
    with pytest.raises(screener.InvalidFilter) as raised:
        screener.parse_filters(QueryDict("rsi_max=abc&macd=sideways"), strict=True)
    assert set(raised.value.details) == {"rsi_max", "macd"}
    assert screener.parse_filters(QueryDict("rsi_max=abc&rsi_min=10")) == screener.ScreenFilters(rsi_min=10.0)


def test_the_all_stocks_page_filters_in_the_url_and_shows_price_columns(world, client):
    StockQuote.objects.create(
        symbol="AAA.NS", as_of="2025-11-28", last_close=110.0, change_percent=1.5, volume_ratio=2.0,
        high_52w=120.0, low_52w=80.0, from_high_percent=-8.33, from_low_percent=37.5,
    )  # fmt: skip
    page = client.get("/", {"rsi_max": "30", "col": ["close", "change", "volume", "range52", "verdict"]})
    html = page.content.decode()
    assert 'data-symbol="AAA.NS"' in html and 'data-symbol="BBB.NS"' not in html
    assert "110.00" in html and "2.00×" in html and "-8.3% / +37.5%" in html
    assert '<td class="num col-change up">+1.50%</td>' in html  # signed and coloured, as on the stock page
    assert "1 of 4 stocks" in html
    assert page.cookies["thetool_screener"].value == "close,change,volume,range52,verdict|50"


def test_a_fall_and_an_unchanged_close_are_shown_as_such(world, client):
    quote = {"as_of": "2025-11-28", "last_close": 100.0, "high_52w": 120.0, "low_52w": 80.0}
    StockQuote.objects.create(symbol="AAA.NS", change_percent=-2.25, from_high_percent=-1, from_low_percent=1, **quote)
    StockQuote.objects.create(symbol="BBB.NS", change_percent=0.0, from_high_percent=-1, from_low_percent=1, **quote)
    html = client.get("/", {"col": ["change"]}).content.decode()
    assert '<td class="num col-change down">-2.25%</td>' in html
    assert '<td class="num col-change">0.00%</td>' in html


def test_the_chosen_columns_are_remembered_by_the_next_visit(world, client):
    client.get("/", {"col": ["close", "score"], "page_size": "25"})
    html = client.get("/").content.decode()
    assert '<th class="num col-close">' in html and '<th class="when">' not in html
    assert "<option selected>25</option>" in html


def test_a_malformed_filter_on_the_page_is_ignored_not_an_error(world, client):
    assert client.get("/", {"rsi_max": "lots", "bollinger": "sideways"}).status_code == 200
