"""load_universe --index: NSE's index constituent files set industry and index membership."""

import pytest
from django.core.management import call_command

from stocks.models import IndexMembership, Stock
from stocks.universe import parse_universe_lines
from tests.factories import clear_universe, make_stock

pytestmark = pytest.mark.django_db

NIFTY_FILE = """Company Name,Industry,Symbol,Series,ISIN Code
Reliance Industries Ltd.,Oil Gas & Consumable Fuels,RELIANCE,EQ,INE002A01018
Tata Consultancy Services Ltd.,Information Technology,TCS,EQ,INE467B01029
Mahindra & Mahindra Ltd.,Automobile and Auto Components,M&M,EQ,INE101A01026
"""


def write(tmp_path, text, name="ind_nifty50list.csv"):
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def test_an_index_file_is_recognised_with_industry_and_company_name():
    rows, errors = parse_universe_lines(NIFTY_FILE.splitlines())
    assert not errors
    assert [(r.symbol, r.name, r.industry) for r in rows][2] == (
        "M&M",
        "Mahindra & Mahindra Ltd.",
        "Automobile and Auto Components",
    )


def test_loading_an_index_sets_industry_and_membership(tmp_path, capsys):
    clear_universe()
    make_stock("RELIANCE", name="")
    call_command("load_universe", str(write(tmp_path, NIFTY_FILE)), "--index", "nifty 50")
    assert Stock.objects.get(symbol="RELIANCE").industry == "Oil Gas & Consumable Fuels"
    assert Stock.objects.get(symbol="M&M").yahoo_symbol == "M&M.NS"
    members = set(IndexMembership.objects.filter(index_name="NIFTY 50").values_list("stock__symbol", flat=True))
    assert members == {"RELIANCE", "TCS", "M&M"}
    assert "NIFTY 50: 3 stocks." in capsys.readouterr().out


def test_reloading_after_a_rebalance_drops_stocks_that_left_the_index_and_keeps_other_indices(tmp_path):
    clear_universe()
    call_command("load_universe", str(write(tmp_path, NIFTY_FILE)), "--index", "NIFTY 50")
    call_command("load_universe", str(write(tmp_path, NIFTY_FILE, "500.csv")), "--index", "NIFTY 500")
    rebalanced = NIFTY_FILE.replace("Tata Consultancy Services Ltd.,Information Technology,TCS,EQ,INE467B01029\n", "")
    call_command("load_universe", str(write(tmp_path, rebalanced)), "--index", "NIFTY 50")
    nifty50 = set(IndexMembership.objects.filter(index_name="NIFTY 50").values_list("stock__symbol", flat=True))
    assert nifty50 == {"RELIANCE", "M&M"}
    assert IndexMembership.objects.filter(index_name="NIFTY 500").count() == 3
    assert Stock.objects.get(symbol="TCS").is_active  # leaving an index is not leaving the exchange


def test_loading_the_same_index_twice_lists_each_stock_once(tmp_path):
    clear_universe()
    path = write(tmp_path, NIFTY_FILE)
    call_command("load_universe", str(path), "--index", "NIFTY 50")
    call_command("load_universe", str(path), "--index", "NIFTY 50")
    assert IndexMembership.objects.filter(index_name="NIFTY 50").count() == 3
