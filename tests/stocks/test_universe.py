"""The stock universe: symbol normalisation, universe files, the bulk upsert, load_universe and the NIFTY 50 default."""

import importlib
import io
import urllib.error
from pathlib import Path
from unittest import mock

import pytest
from django.apps import apps as django_apps
from django.core.management import CommandError, call_command
from django.db import connection

from stocks.exceptions import InvalidSymbol
from stocks.models import Stock
from stocks.nifty50 import NIFTY50
from stocks.universe import (
    LoadSummary,
    UniverseRow,
    load_universe_rows,
    normalize_symbol,
    normalize_symbols,
    parse_universe_file,
    parse_universe_lines,
)

FIXTURES = Path(__file__).parent / "fixtures"
EQUITY_L_SAMPLE = FIXTURES / "EQUITY_L_sample.csv"
NIFTY_SYMBOLS = {symbol for symbol, _ in NIFTY50}


def run_load_universe(*args) -> str:
    out = io.StringIO()
    call_command("load_universe", *args, stdout=out)
    return out.getvalue()


# --- normalize_symbol ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("RELIANCE", "RELIANCE.NS"),
        ("  reliance  ", "RELIANCE.NS"),
        ("m&m", "M&M.NS"),
        ("M&M.NS", "M&M.NS"),
        ("bajaj-auto.ns", "BAJAJ-AUTO.NS"),
        ("J&KBANK", "J&KBANK.NS"),
        ("500325.bo", "500325.BO"),
        ("RELIANCE.BO", "RELIANCE.BO"),
        ("ABC_1", "ABC_1.NS"),
        ("A" * 20, "A" * 20 + ".NS"),
    ],
)
def test_normalize_symbol_accepts_nse_and_bse_symbols(raw, expected):
    assert normalize_symbol(raw) == expected


@pytest.mark.parametrize(
    ("raw", "reason"),
    [
        ("", "empty"),
        ("   ", "empty"),
        ("REL IANCE", "contains a space"),
        ("REL\tIANCE", "contains a space"),
        ("<script>", "not allowed (< >)"),
        ("RELIANCE;DROP", "not allowed (;)"),
        ("../etc/passwd", "not allowed (/)"),
        ("TATA/MOTORS", "not allowed (/)"),
        ("RELİANCE", "non-ASCII"),
        ("ТСS", "non-ASCII"),  # Cyrillic look-alikes
        ("A" * 21, "too long"),
        ("A" * 5000, "too long"),
        ("RELIANCE.XX", "unsupported exchange suffix .XX"),
        ("RELIANCE.", "unsupported exchange suffix"),
        (".NS", "no name before its suffix"),
        ("A.B.NS", "malformed"),
        ("-ABC", "malformed"),
    ],
)
def test_normalize_symbol_rejects_bad_input_with_a_clear_reason(raw, reason):
    with pytest.raises(InvalidSymbol) as caught:
        normalize_symbol(raw)
    assert reason in caught.value.message
    assert caught.value.code == "invalid_symbol"


def test_normalize_symbol_rejects_non_strings():
    with pytest.raises(InvalidSymbol, match="must be a string, got int"):
        normalize_symbol(42)


def test_normalize_symbol_message_cuts_very_long_input_short():
    with pytest.raises(InvalidSymbol) as caught:
        normalize_symbol("X" * 10_000)
    assert len(caught.value.message) < 200


# --- normalize_symbols -----------------------------------------------------------------------


def test_normalize_symbols_deduplicates_and_sorts():
    assert normalize_symbols(["tcs", "M&M", "m&m.ns", " TCS.NS ", "bajaj-auto"]) == [
        "BAJAJ-AUTO.NS",
        "M&M.NS",
        "TCS.NS",
    ]


def test_normalize_symbols_lists_every_invalid_entry_including_non_strings():
    with pytest.raises(InvalidSymbol) as caught:
        normalize_symbols(["TCS", "A B", None, 7, "<x>", "", "INFY"])
    assert caught.value.details["invalid"] == ["A B", None, 7, "<x>", ""]
    assert len(caught.value.details["reasons"]) == 5
    assert caught.value.message.startswith("5 symbols are invalid")


def test_normalize_symbols_rejects_a_non_list():
    with pytest.raises(InvalidSymbol, match="must be a list"):
        normalize_symbols("TCS")


# --- Universe files --------------------------------------------------------------------------


def test_equity_l_columns_with_leading_spaces_are_understood():
    rows, errors = parse_universe_file(EQUITY_L_SAMPLE)
    by_symbol = {row.symbol: row for row in rows}
    assert set(by_symbol) == {"RELIANCE", "M&M", "BAJAJ-AUTO", "J&KBANK", "TMPV"}
    assert by_symbol["M&M"] == UniverseRow(
        symbol="M&M", yahoo_symbol="M&M.NS", name="Mahindra & Mahindra Limited", series="EQ", exchange="NSE"
    )
    assert by_symbol["J&KBANK"].series == "BE"
    assert by_symbol["RELIANCE"].name == "Reliance Industries Limited"  # the first of two entries wins


def test_bad_universe_rows_are_reported_with_their_line():
    _, errors = parse_universe_file(EQUITY_L_SAMPLE)
    assert len(errors) == 3
    assert errors[0].startswith("line 6: ") and "contains a space" in errors[0]
    assert errors[1].startswith("line 7: ") and "not allowed" in errors[1]
    assert errors[2] == "line 8: duplicate symbol RELIANCE (first on line 2)"


def test_simple_format_derives_missing_yahoo_symbols_and_keeps_bse():
    text = "symbol,name,yahoo_symbol\nTCS,Tata Consultancy Services,\nRELIANCE,Reliance,RELIANCE.BO\nINFY,,INFY.NS\n"
    rows, errors = parse_universe_lines(io.StringIO(text))
    assert errors == []
    assert [(r.symbol, r.yahoo_symbol, r.exchange, r.name) for r in rows] == [
        ("TCS", "TCS.NS", "NSE", "Tata Consultancy Services"),
        ("RELIANCE", "RELIANCE.BO", "BSE", "Reliance"),
        ("INFY", "INFY.NS", "NSE", None),
    ]


def test_unrecognised_header_gives_no_rows_and_one_error():
    rows, errors = parse_universe_lines(io.StringIO("ticker,company\nTCS,Tata\n"))
    assert rows == []
    assert "unrecognised header" in errors[0]


def test_real_nse_stock_list_parses_without_errors(shared_data):
    rows, errors = parse_universe_file(shared_data / "nse_stocks_complete.csv")
    assert errors == []
    assert len(rows) == 2192
    by_symbol = {row.symbol: row for row in rows}
    assert by_symbol["M&M"].yahoo_symbol == "M&M.NS"
    assert by_symbol["BAJAJ-AUTO"].yahoo_symbol == "BAJAJ-AUTO.NS"
    assert by_symbol["ARE&M"].name == "Amara Raja Energy & Mobility Limited"


# --- load_universe_rows ----------------------------------------------------------------------


def row(symbol, name=None, yahoo_symbol=None, series=None):
    return UniverseRow(symbol=symbol, yahoo_symbol=yahoo_symbol or f"{symbol}.NS", name=name, series=series)


@pytest.mark.django_db
def test_loading_creates_then_updates_then_changes_nothing():
    Stock.objects.all().delete()
    first = load_universe_rows(rows=[row("AAA", "A One"), row("BBB", "B One")])
    assert (first.created, first.updated, first.unchanged) == (2, 0, 0)

    second = load_universe_rows(rows=[row("AAA", "A Two"), row("BBB", "B One"), row("CCC", "C")])
    assert (second.created, second.updated, second.unchanged) == (1, 1, 1)
    assert Stock.objects.get(symbol="AAA").name == "A Two"

    third = load_universe_rows(rows=[row("AAA", "A Two"), row("BBB", "B One"), row("CCC", "C")])
    assert (third.created, third.updated, third.unchanged) == (0, 0, 3)
    assert Stock.objects.count() == 3


@pytest.mark.django_db
def test_a_row_without_name_or_series_keeps_the_stored_ones():
    Stock.objects.create(symbol="AAA", yahoo_symbol="AAA.NS", name="Kept", series="BE")
    summary = load_universe_rows(rows=[row("AAA")])
    assert summary.unchanged == 1
    stock = Stock.objects.get(symbol="AAA")
    assert (stock.name, stock.series) == ("Kept", "BE")


@pytest.mark.django_db
def test_deactivate_missing_switches_off_stocks_not_in_the_file_and_reactivates_listed_ones():
    Stock.objects.all().delete()
    Stock.objects.create(symbol="OLD", yahoo_symbol="OLD.NS", name="Old")
    Stock.objects.create(symbol="BACK", yahoo_symbol="BACK.NS", name="Back", is_active=False)
    summary = load_universe_rows(rows=[row("BACK", "Back"), row("NEW", "New")], deactivate_missing=True)
    assert (summary.created, summary.updated, summary.deactivated) == (1, 1, 1)
    assert dict(Stock.objects.values_list("symbol", "is_active")) == {"OLD": False, "BACK": True, "NEW": True}


@pytest.mark.django_db
def test_without_the_flag_missing_stocks_stay_active():
    Stock.objects.create(symbol="OLD", yahoo_symbol="OLD.NS")
    load_universe_rows(rows=[row("NEW")])
    assert Stock.objects.get(symbol="OLD").is_active


@pytest.mark.django_db
def test_deactivating_with_no_rows_is_refused():
    with pytest.raises(ValueError, match="Refusing"):
        load_universe_rows(rows=[], deactivate_missing=True)
    assert Stock.objects.filter(is_active=True).count() == len(NIFTY50)


@pytest.mark.django_db
def test_a_yahoo_symbol_owned_by_another_stock_is_skipped_with_a_reason():
    Stock.objects.create(symbol="AAA", yahoo_symbol="AAA.NS")
    summary = load_universe_rows(rows=[row("ZZZ", yahoo_symbol="AAA.NS"), row("YYY")])
    assert summary.created == 1
    assert summary.skipped == ["ZZZ: Yahoo symbol AAA.NS already belongs to AAA"]
    assert not Stock.objects.filter(symbol="ZZZ").exists()


def test_load_summary_reads_as_one_line():
    summary = LoadSummary(created=1, updated=2, unchanged=3, deactivated=4, skipped=["x"])
    assert str(summary) == "created 1, updated 2, unchanged 3, deactivated 4, skipped 1"


# --- manage.py load_universe -----------------------------------------------------------------


@pytest.mark.django_db
def test_command_loads_the_real_list_in_bulk_and_a_rerun_changes_nothing(shared_data, django_assert_max_num_queries):
    path = str(shared_data / "nse_stocks_complete.csv")
    # Bulk statements, not a query per row: 2,192 rows in a few dozen queries. Its speed is measured
    # by bench/bench_load_universe.py, not asserted here (a loaded machine would make that flaky).
    with django_assert_max_num_queries(40):
        first = run_load_universe(path)
    assert Stock.objects.count() == 2192  # the 50 NIFTY rows from the migration were matched, not duplicated
    assert "skipped 0" in first

    second = run_load_universe(path)
    assert "created 0, updated 0, unchanged 2192, deactivated 0, skipped 0" in second
    assert Stock.objects.count() == 2192
    assert Stock.objects.get(symbol="M&M").yahoo_symbol == "M&M.NS"


@pytest.mark.django_db
def test_command_reports_bad_rows_and_loads_the_good_ones():
    output = run_load_universe(str(EQUITY_L_SAMPLE))
    assert "skipped 3" in output
    assert "line 6:" in output and "duplicate symbol RELIANCE" in output
    assert Stock.objects.get(symbol="J&KBANK").series == "BE"


@pytest.mark.django_db
def test_command_deactivate_missing_flag():
    run_load_universe(str(EQUITY_L_SAMPLE), "--deactivate-missing")
    active = set(Stock.objects.filter(is_active=True).values_list("symbol", flat=True))
    assert active == {"RELIANCE", "M&M", "BAJAJ-AUTO", "J&KBANK", "TMPV"}
    assert Stock.objects.filter(is_active=False).count() == len(NIFTY50) - 4  # RELIANCE, M&M, BAJAJ-AUTO, TMPV stay


@pytest.mark.django_db
def test_command_fails_clearly_for_a_missing_file(tmp_path):
    with pytest.raises(CommandError, match="Cannot read"):
        run_load_universe(str(tmp_path / "nope.csv"))


@pytest.mark.django_db
def test_command_refuses_a_file_without_valid_rows(tmp_path):
    path = tmp_path / "bad.csv"
    path.write_text("ticker,company\nTCS,Tata\n")
    with pytest.raises(CommandError, match="No valid rows"):
        run_load_universe(str(path))


def test_command_needs_exactly_one_of_path_and_download():
    with pytest.raises(CommandError, match="either a PATH or --download"):
        run_load_universe()


class FakeResponse(io.BytesIO):
    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return False


@pytest.mark.django_db
def test_download_fetches_nse_equity_list_with_a_short_timeout():
    body = EQUITY_L_SAMPLE.read_bytes()
    with mock.patch("stocks.market_data.nse.urllib.request.urlopen", return_value=FakeResponse(body)) as urlopen:
        output = run_load_universe("--download")
    request = urlopen.call_args.args[0]
    assert request.full_url == "https://nsearchives.nseindia.com/content/equities/EQUITY_L.csv"
    assert request.get_header("User-agent").startswith("Mozilla/5.0")
    assert urlopen.call_args.kwargs["timeout"] <= 30
    assert "downloaded" in output and "skipped 3" in output
    assert Stock.objects.filter(symbol="J&KBANK").exists()


@pytest.mark.django_db
def test_download_when_offline_is_a_clear_command_error():
    offline = urllib.error.URLError(OSError(-3, "Temporary failure in name resolution"))
    with mock.patch("stocks.market_data.nse.urllib.request.urlopen", side_effect=offline):
        with pytest.raises(CommandError, match="NSE is unreachable.*Are you offline"):
            run_load_universe("--download")


@pytest.mark.django_db
def test_download_refused_by_nse_is_a_clear_command_error():
    refused = urllib.error.HTTPError("https://x", 403, "Forbidden", {}, None)
    with mock.patch("stocks.market_data.nse.urllib.request.urlopen", side_effect=refused):
        with pytest.raises(CommandError, match="HTTP 403"):
            run_load_universe("--download")


# --- The default universe --------------------------------------------------------------------


def test_nifty50_has_fifty_distinct_valid_symbols_with_names():
    symbols = [symbol for symbol, _ in NIFTY50]
    assert len(symbols) == len(set(symbols)) == 50
    assert all(name for _, name in NIFTY50)
    assert all(normalize_symbol(symbol) == f"{symbol}.NS" for symbol in symbols)
    assert {"INDIGO", "MAXHEALTH", "TMPV", "M&M", "BAJAJ-AUTO"} <= NIFTY_SYMBOLS
    assert not {"HEROMOTOCO", "INDUSINDBK", "TATAMOTORS"} & NIFTY_SYMBOLS


@pytest.mark.django_db
def test_a_fresh_database_holds_the_nifty50():
    stocks = Stock.objects.filter(symbol__in=NIFTY_SYMBOLS)
    assert stocks.count() == 50
    assert stocks.get(symbol="M&M").yahoo_symbol == "M&M.NS"
    assert stocks.filter(is_active=True, exchange="NSE").count() == 50


@pytest.mark.django_db
def test_the_data_migration_only_adds_missing_stocks():
    migration = importlib.import_module("stocks.migrations.0002_default_universe")
    Stock.objects.filter(symbol="TCS").delete()
    Stock.objects.filter(symbol="INFY").update(name="Edited by an admin")
    migration.load_nifty50(django_apps, mock.Mock(connection=connection))
    assert Stock.objects.filter(symbol__in=NIFTY_SYMBOLS).count() == 50
    assert Stock.objects.get(symbol="INFY").name == "Edited by an admin"
