"""Compact results: readings and provenance stored in ~200 bytes, read back exactly as written."""

import json

import pytest
from django.db import connection
from django.db.migrations.executor import MigrationExecutor

from stocks import compact, indicators
from stocks.models import AnalysisResult, LatestResult
from tests.factories import make_history, make_result

VERBOSE_SCHEMA = [("stocks", "0003_sizing_limits")]  # the schema before issue 13

PROVENANCE = {
    "source": "demo",
    "bars": 500,
    "first_bar": "2024-01-01",
    "last_bar": "2025-11-28",
    "strategy_id": 1,
    "strategy_name": "Balanced",
    "capital": 100000.0,
    "risk_percent": 2.0,
    "max_position_percent": 20.0,
    "stop_loss_percent": None,
    "target_percent": None,
    "tick_size": 0.05,
}
HAND_MADE = {
    "name": "rsi",
    "category": "momentum",
    "value": 28.5,
    "vote": 1,
    "confidence": 0.6,
    "rule": "x",
    "details": {},
}


def engine_readings(symbol: str = "TCS.NS") -> list[dict]:
    return indicators.compute_readings(make_history(symbol, bars=300))


def test_engine_readings_pack_to_a_few_hundred_bytes_and_unpack_to_the_same_json():
    readings = engine_readings()

    packed = compact.pack_readings(readings)

    assert json.dumps(compact.unpack_readings(packed)) == json.dumps(readings)
    assert len(packed) < 500 < 2000 < len(json.dumps(readings))


@pytest.mark.parametrize("seed", range(12))
def test_packing_is_lossless_across_many_histories(seed):
    drift = (seed - 6) / 1000
    readings = indicators.compute_readings(make_history("X.NS", bars=260 + 20 * seed, seed=seed, drift=drift))

    assert json.dumps(compact.unpack_readings(compact.pack_readings(readings))) == json.dumps(readings)


def test_readings_it_cannot_rebuild_are_kept_verbatim():
    odd = [HAND_MADE, {"name": "future", "value": 1, "extra": [1, 2]}, {**engine_readings()[4], "rule": "old words"}]

    assert json.dumps(compact.unpack_readings(compact.pack_readings(odd))) == json.dumps(odd)


# The stored format: rows written by earlier code must read back, so these bytes never change.
@pytest.mark.parametrize(
    ("reading", "stored"),
    [
        (
            {"name": "bollinger", "vote": -1, "confidence": 0.75, "value": 1.2345,
             "details": {"upper": 2510.5, "middle": 2400.0, "lower": -0.0001, "percent_b": None,
                         "bandwidth": 123456789}},
            "0805b0ea01e48103a093f12f80b0e32d0203a9d1f9d603",
        ),
        (
            {"name": "obv", "vote": 0, "confidence": 0.0, "value": -98765432.1,
             "details": {"obv": 10**12, "obv_change": -3, "price_change": 0.5}},
            "0a01009e9b8f99fd728180a2a9eae80115a09c01",
        ),
    ],
)  # fmt: skip
def test_the_compact_bytes_of_a_reading_are_the_stored_format(reading, stored):
    assert compact._encode_compact(reading, None).hex() == stored


@pytest.mark.parametrize("odd", [True, float("nan"), float("inf"), -0.0, 0.12345, "0.5"])
def test_a_number_the_compact_form_cannot_hold_exactly_keeps_the_reading_verbatim(odd):
    reading = next(r for r in engine_readings() if r["name"] == "rsi")
    assert compact.pack_readings([reading])[0] != compact.VERBATIM
    readings = [{**reading, "confidence": odd}]  # not quoted by the rule, so only the number decides

    packed = compact.pack_readings(readings)

    assert packed[0] == compact.VERBATIM
    assert json.dumps(compact.unpack_readings(packed)) == json.dumps(readings)


def test_provenance_round_trips_in_both_forms():
    for provenance in (PROVENANCE, {"source": "csv", "bars": 3}, {}):
        assert compact.unpack_provenance(compact.pack_provenance(provenance)) == provenance
    assert len(compact.pack_provenance(PROVENANCE)) < len(json.dumps(PROVENANCE)) // 2


@pytest.mark.django_db
def test_a_result_fills_the_typed_screener_columns_from_its_readings():
    readings = engine_readings()
    by_name = {reading["name"]: reading for reading in readings}

    result = make_result("TCS.NS", indicators=readings, provenance=PROVENANCE)
    result.refresh_from_db()

    assert result.indicators == readings and result.provenance == PROVENANCE
    assert (result.rsi, result.adx, result.cmf) == (
        by_name["rsi"]["value"],
        by_name["adx"]["value"],
        by_name["cmf"]["value"],
    )
    assert result.macd_hist == by_name["macd"]["details"]["hist"]
    assert result.bollinger_b == by_name["bollinger"]["details"]["percent_b"]
    assert result.close == by_name["psar"]["details"]["close"]
    assert result.ema_trend == (1 if by_name["ema"]["value"] > 0 else -1)
    assert str(result.last_bar) == "2025-11-28"


@pytest.mark.django_db(transaction=True)
def test_rows_written_by_the_verbose_schema_migrate_and_read_back_the_same_through_the_api(client):
    readings = engine_readings()
    executor = MigrationExecutor(connection)
    executor.migrate(VERBOSE_SCHEMA)
    old_apps = executor.loader.project_state(VERBOSE_SCHEMA).apps
    OldResult = old_apps.get_model("stocks", "AnalysisResult")
    OldStock = old_apps.get_model("stocks", "Stock")  # the schema of then: later columns do not exist yet
    OldStock.objects.all().delete()
    OldStock.objects.create(symbol="TCS", yahoo_symbol="TCS.NS", name="Tcs Limited", exchange="NSE", series="EQ")
    OldResult.objects.bulk_create(
        [
            OldResult(symbol="TCS.NS", strategy_id=2, error="no data returned", capital=1000),
            OldResult(symbol="TCS.NS", strategy_id=1, verdict="Hold", score=0.0, capital=1000, indicators=[HAND_MADE]),
            OldResult(
                symbol="TCS.NS",
                strategy_id=1,
                verdict="Buy",
                score=0.4,
                capital=100000,
                indicators=readings,
                provenance=PROVENANCE,
                data_source="demo",
            ),
        ]
    )

    executor = MigrationExecutor(connection)
    executor.migrate(executor.loader.graph.leaf_nodes())

    assert not AnalysisResult.objects.filter(packed_readings__isnull=True).exists()
    body = client.get("/api/stocks/TCS.NS/").json()
    latest = body["latest_result"]
    assert (latest["verdict"], latest["indicators"], latest["provenance"]) == ("Buy", readings, PROVENANCE)
    history = client.get("/api/stocks/TCS.NS/history/").json()
    assert [row["verdict"] for row in history["results"]] == ["Buy", "Hold", ""]
    assert LatestResult.objects.filter(stock_id="TCS.NS").count() == 3  # strategies 1, 2 and "any"
