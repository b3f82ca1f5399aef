"""stocks.fields.BarsJSONField: PriceCache.bars decoded with orjson, reading exactly what JSONField would."""

import json
from datetime import date
from unittest import mock

import orjson
import pytest
from django.db import connection

from stocks import fields
from stocks.market_data import bars_to_json, demo_history
from stocks.models import PriceCache

pytestmark = pytest.mark.django_db


def _row(symbol: str, bars) -> PriceCache:
    return PriceCache.objects.create(
        symbol=symbol, source="yfinance", fetched_on=date(2026, 3, 2), bars=bars, bar_count=1,
        first_bar=date(2026, 3, 2), last_bar=date(2026, 3, 2),
    )  # fmt: skip


def test_stored_bars_read_back_equal_to_the_standard_json_decoding_and_through_orjson():
    bars = bars_to_json(demo_history("AAA.NS"))
    _row("AAA.NS", bars)
    with mock.patch.object(fields.orjson, "loads", wraps=orjson.loads) as loads:
        read = PriceCache.objects.get(symbol="AAA.NS").bars
    assert loads.call_count == 1
    assert read == bars == json.loads(json.dumps(bars))
    assert type(read["c"][0]) is float and type(read["v"][0]) is int


def test_a_value_orjson_refuses_is_read_by_jsonfields_own_decoder():
    # Valid JSON that orjson will not read: a number past a double's range (PostgreSQL's jsonb keeps it as
    # a 401-digit integer, SQLite as 1e400). json.loads reads either.
    row = _row("BIG.NS", {"c": [1.5]})
    column = "CAST(%s AS jsonb)" if connection.vendor == "postgresql" else "%s"
    with connection.cursor() as cursor:
        cursor.execute(f"UPDATE stocks_pricecache SET bars = {column} WHERE id = %s", ['{"c": [1.5, 1e400]}', row.pk])
    big = 10**400 if connection.vendor == "postgresql" else float("inf")
    assert PriceCache.objects.get(pk=row.pk).bars == {"c": [1.5, big]}


def test_key_lookups_and_null_behave_as_in_jsonfield():
    _row("KEY.NS", {"d": ["2026-03-02"], "c": [101.25]})
    assert PriceCache.objects.filter(bars__c__0=101.25).count() == 1
    assert PriceCache.objects.values_list("bars__d", flat=True).get() == ["2026-03-02"]
    field = PriceCache._meta.get_field("bars")
    assert field.from_db_value(None, None, connection) is None
