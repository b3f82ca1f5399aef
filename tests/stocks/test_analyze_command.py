"""`manage.py analyze`: synchronous analysis, a readable table, stored results, clear input errors."""

import re
from io import StringIO

import pytest
from django.core.management import CommandError, call_command

from stocks import market_data
from stocks.market_data import MarketDataError, SourceUnavailable
from stocks.models import AnalysisResult
from tests.factories import make_history

pytestmark = pytest.mark.django_db


def run(*args) -> str:
    out = StringIO()
    call_command("analyze", *args, stdout=out)
    return out.getvalue()


@pytest.fixture
def served(monkeypatch):
    """Serve `served[symbol]` from a patched fetch_histories; records the calls in `served["_calls"]`."""
    answers = {"_calls": []}

    def fake_fetch(symbols, *, source=None, use_cache=True):
        answers["_calls"].append((list(symbols), source))
        if "_raise" in answers:
            raise answers["_raise"]
        return {symbol: answers[symbol] for symbol in symbols if symbol in answers}

    monkeypatch.setattr(market_data, "fetch_histories", fake_fetch)
    return answers


def test_prints_an_aligned_table_and_stores_the_results(served):
    served["M&M.NS"] = make_history("M&M.NS", source="yfinance", drift=0.002)
    served["TCS.NS"] = make_history("TCS.NS", source="yfinance", drift=-0.002, seed=11)

    output = run("tcs", "M&M.NS", "--strategy", "2", "--capital", "250000", "--source", "yfinance")

    assert served["_calls"] == [(["M&M.NS", "TCS.NS"], "yfinance")]
    stored = {result.symbol: result for result in AnalysisResult.objects.all()}
    assert set(stored) == {"M&M.NS", "TCS.NS"} and all(r.strategy_id == 2 and r.job is None for r in stored.values())
    lines = output.splitlines()
    header = next(line for line in lines if line.startswith("Symbol"))
    assert re.split(r"\s{2,}", header) == [
        *("Symbol", "Verdict", "Score", "Entry", "Stop", "Target", "R:R", "Size"),
        *("Limit", "Risk INR", "Risk %"),
    ]
    rows = [line for line in lines if line.startswith(("M&M.NS", "TCS.NS"))]
    assert len(rows) == 2
    assert len({len(row) for row in rows + [header]}) == 1  # aligned: every row as wide as the header
    mm = stored["M&M.NS"]
    assert f"{mm.entry:,.2f}" in rows[0] and mm.verdict in rows[0] and f"{mm.position_size:,}" in rows[0]
    limit = {"risk": "risk", "max_position": "max pos"}[mm.size_limited_by]
    assert re.split(r"\s{2,}", rows[0])[-3:] == [limit, f"{mm.risk_amount:,.2f}", f"{mm.risk_taken_percent:.2f}"]
    assert "Strategy 2" in output and "250,000.00" in output and "risk 2%, max position 25%" in output
    assert "DEMO" not in output
    assert "Stored 2 results: 2 analysed, 0 failed." in output


def test_failed_symbols_are_listed_below_the_table_with_their_reasons(served):
    served["TCS.NS"] = make_history("TCS.NS", source="yfinance")
    served["GONE.NS"] = MarketDataError("no data returned by Yahoo for GONE.NS", permanent=True)
    served["NEW.NS"] = make_history("NEW.NS", source="yfinance", bars=80)

    output = run("TCS", "GONE", "NEW", "--source", "yfinance")

    table, errors = output.split("Errors (2):")
    assert "TCS.NS" in table and "GONE.NS" not in table
    assert re.search(r"GONE\.NS\s+no data returned by Yahoo for GONE\.NS", errors)
    assert re.search(r"NEW\.NS\s+.*250.*80", errors)
    assert AnalysisResult.objects.exclude(error="").count() == 2


def test_demo_data_is_labelled_demo(served):
    served["TCS.NS"] = make_history("TCS.NS", source="demo")

    output = run("TCS", "--source", "demo")

    assert output.startswith("DEMO DATA")
    (row,) = [line for line in output.splitlines() if line.startswith("TCS.NS")]
    assert row.endswith("DEMO")
    assert AnalysisResult.objects.get().data_source == "demo"


def test_runs_end_to_end_on_the_real_demo_source():
    output = run("RELIANCE", "BAJAJ-AUTO", "M&M", "--source", "demo", "--max-position-percent", "20")

    assert "Stored 3 results: 3 analysed, 0 failed." in output
    assert AnalysisResult.objects.filter(data_source="demo").count() == 3


@pytest.mark.parametrize(
    ("args", "fragment"),
    [
        (["bad<sym"], "bad<sym"),
        (["TCS", "--capital", "0"], "capital"),
        (["TCS", "--capital", "nan"], "capital"),
        (["TCS", "--risk-percent", "50"], "risk_percent"),
        (["TCS", "--max-position-percent", "0"], "max_position_percent"),
        (["TCS", "--strategy", "9"], "9"),
        (["TCS", "--source", "ftp://quotes"], "ftp://quotes"),
    ],
)
def test_bad_input_is_a_command_error_naming_the_problem(served, args, fragment):
    with pytest.raises(CommandError, match=re.escape(fragment)):
        run(*args)

    assert served["_calls"] == [] and not AnalysisResult.objects.exists()


def test_unreachable_source_is_a_command_error(served):
    served["_raise"] = SourceUnavailable("Yahoo Finance is unreachable: timed out")

    with pytest.raises(CommandError, match="unreachable"):
        run("TCS", "--source", "yfinance")
