"""stocks.services (analyse, build and store results) and stocks.selectors (latest results, search).

Market data is patched at the process edge (`stocks.market_data.fetch_histories`); the analysis
engine is the real one.
"""

import logging
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from types import SimpleNamespace

import pytest

from stocks import analysis, market_data, selectors, services
from stocks.analysis import TradeParams
from stocks.exceptions import InvalidSymbol, UnknownStrategy, UnknownSymbol
from stocks.market_data import MarketDataError, SourceUnavailable
from stocks.models import AnalysisResult, Stock
from tests.factories import clear_universe, make_history, make_job, make_result, make_stock

PARAMS = TradeParams(capital=100_000)
T0 = datetime(2025, 11, 1, 10, 0, tzinfo=UTC)


@pytest.fixture
def fetch_calls(monkeypatch):
    """Patch fetch_histories to serve `fetch_calls.answer` and record every call."""

    recorder = SimpleNamespace(answer={}, calls=[])

    def fake_fetch(symbols, *, source=None, use_cache=True):
        recorder.calls.append((list(symbols), source))
        if isinstance(recorder.answer, Exception):
            raise recorder.answer
        return {symbol: recorder.answer[symbol] for symbol in symbols if symbol in recorder.answer}

    monkeypatch.setattr(market_data, "fetch_histories", fake_fetch)
    return recorder


# --- analyze_symbols ------------------------------------------------------------------------------
def test_analyze_symbols_fetches_all_symbols_in_one_call_and_keeps_input_order(fetch_calls):
    fetch_calls.answer = {
        "TCS.NS": make_history("TCS.NS", drift=0.002),
        "M&M.NS": make_history("M&M.NS", drift=-0.002, seed=3),
    }

    outcomes = services.analyze_symbols(symbols=["TCS.NS", "M&M.NS"], strategy_id=1, params=PARAMS, source="demo")

    assert fetch_calls.calls == [(["TCS.NS", "M&M.NS"], "demo")]
    assert [outcome.symbol for outcome in outcomes] == ["TCS.NS", "M&M.NS"]
    assert all(outcome.analysis is not None and outcome.error == "" for outcome in outcomes)
    assert outcomes[0].analysis.symbol == "TCS.NS"
    assert outcomes[0].analysis.provenance["strategy_id"] == 1


def test_per_symbol_market_data_error_becomes_that_symbols_error(fetch_calls):
    fetch_calls.answer = {
        "TCS.NS": make_history("TCS.NS"),
        "GONE.NS": MarketDataError("no data returned by Yahoo for GONE.NS", permanent=True),
    }

    outcomes = services.analyze_symbols(symbols=["GONE.NS", "TCS.NS"], strategy_id=2, params=PARAMS)

    gone, tcs = outcomes
    assert gone.analysis is None and gone.error == "no data returned by Yahoo for GONE.NS"
    assert tcs.analysis is not None


def test_too_few_bars_is_reported_as_the_symbols_error(fetch_calls):
    fetch_calls.answer = {"NEW.NS": make_history("NEW.NS", bars=80)}

    (outcome,) = services.analyze_symbols(symbols=["NEW.NS"], strategy_id=1, params=PARAMS)

    assert outcome.analysis is None
    assert "250" in outcome.error and "80" in outcome.error


@pytest.mark.django_db
def test_a_jump_that_looks_like_a_split_is_stored_as_the_symbols_error_without_a_verdict(fetch_calls):
    history = make_history("SPLIT.NS")
    history.close[-1], history.low[-1] = history.close[-2] / 2, min(history.low[-1], history.close[-2] / 2)
    fetch_calls.answer = {"SPLIT.NS": history, "TCS.NS": make_history("TCS.NS")}

    split, tcs = services.analyze_and_store(symbols=["SPLIT.NS", "TCS.NS"], strategy_id=3, params=PARAMS)

    assert (split.verdict, split.position_size) == ("", None)
    assert split.error.startswith("SPLIT.NS: price jump of -50% on 2025-11-28 ")
    assert "unadjusted split or bonus (1:2)" in split.error
    assert tcs.verdict and not tcs.error


def test_symbol_missing_from_the_fetch_answer_is_an_error_not_a_crash(fetch_calls):
    fetch_calls.answer = {}

    (outcome,) = services.analyze_symbols(symbols=["TCS.NS"], strategy_id=1, params=PARAMS)

    assert outcome.error == "no data returned for TCS.NS"


def test_unexpected_engine_failure_is_logged_and_does_not_kill_the_batch(fetch_calls, monkeypatch, caplog):
    fetch_calls.answer = {symbol: make_history(symbol) for symbol in ("A.NS", "BAD.NS", "C.NS")}
    real_analyze = analysis.analyze

    def flaky_analyze(history, strategy, params):
        if history.symbol == "BAD.NS":
            raise ZeroDivisionError("bug")
        return real_analyze(history, strategy, params)

    monkeypatch.setattr(analysis, "analyze", flaky_analyze)

    with caplog.at_level(logging.ERROR, logger="stocks.services"):
        outcomes = services.analyze_symbols(symbols=["A.NS", "BAD.NS", "C.NS"], strategy_id=1, params=PARAMS)

    assert [outcome.analysis is not None for outcome in outcomes] == [True, False, True]
    assert outcomes[1].error == "internal error analysing BAD.NS"
    (record,) = [r for r in caplog.records if "BAD.NS" in r.getMessage()]
    assert record.exc_info and record.exc_info[0] is ZeroDivisionError


def test_source_unavailable_propagates(fetch_calls):
    fetch_calls.answer = SourceUnavailable("Yahoo Finance is unreachable: timeout")

    with pytest.raises(SourceUnavailable):
        services.analyze_symbols(symbols=["TCS.NS"], strategy_id=1, params=PARAMS)


def test_unknown_strategy_fails_before_any_fetch(fetch_calls):
    with pytest.raises(UnknownStrategy):
        services.analyze_symbols(symbols=["TCS.NS"], strategy_id=99, params=PARAMS)
    assert fetch_calls.calls == []


def test_no_symbols_fetch_nothing(fetch_calls):
    assert services.analyze_symbols(symbols=[], strategy_id=1, params=PARAMS) == []
    assert fetch_calls.calls == []


# --- build_result ---------------------------------------------------------------------------------
def _outcome_for(symbol="TCS.NS", **history_options):
    history = make_history(symbol, **history_options)
    strategy = services.strategies.get_strategy(1)
    return services.SymbolOutcome(symbol=symbol, analysis=analysis.analyze(history, strategy, PARAMS))


def test_build_result_copies_the_analysis_with_prices_as_two_decimal_places():
    outcome = _outcome_for(source="yfinance")
    found = outcome.analysis

    result = services.build_result(outcome, strategy_id=1, capital=100000)

    assert result.pk is None
    assert (result.symbol, result.verdict, result.signal, result.score) == (
        "TCS.NS",
        found.verdict,
        found.signal,
        found.score,
    )
    assert result.entry == Decimal(str(found.entry)).quantize(Decimal("0.01"))
    assert result.entry.as_tuple().exponent == -2 and result.stop_loss.as_tuple().exponent == -2
    assert result.target == Decimal(str(found.target)).quantize(Decimal("0.01"))
    assert result.risk_reward == found.risk_reward and result.position_size == found.position_size
    assert (result.shares_by_risk, result.shares_by_max_position, result.size_limited_by) == (
        found.shares_by_risk,
        found.shares_by_max_position,
        found.size_limited_by,
    )
    assert result.risk_amount == Decimal(str(found.risk_amount)).quantize(Decimal("0.01"))
    assert result.risk_taken_percent == found.risk_taken_percent
    assert result.indicators == found.indicators and result.provenance == found.provenance
    assert result.capital == Decimal("100000.00")
    assert result.data_source == "yfinance"
    assert result.error == "" and result.job is None


def test_build_result_of_a_failure_has_the_error_and_no_verdict():
    outcome = services.SymbolOutcome(symbol="GONE.NS", analysis=None, error="no data returned by Yahoo for GONE.NS")

    result = services.build_result(outcome, strategy_id=3, capital=Decimal("5000"), source="demo")

    assert (result.verdict, result.error, result.entry, result.score) == ("", outcome.error, None, None)
    assert result.strategy_id == 3 and result.data_source == "demo"


@pytest.mark.django_db
def test_built_results_save_under_a_job_and_satisfy_the_constraints():
    job = make_job(["GONE.NS", "TCS.NS"])
    outcomes = [_outcome_for(), services.SymbolOutcome(symbol="GONE.NS", analysis=None, error="bad data")]

    AnalysisResult.objects.bulk_create(
        [services.build_result(o, strategy_id=1, capital=job.capital, job=job) for o in outcomes]
    )

    assert sorted(job.results.values_list("symbol", flat=True)) == ["GONE.NS", "TCS.NS"]


# --- analyze_and_store ----------------------------------------------------------------------------
@pytest.mark.django_db
def test_analyze_and_store_saves_one_result_per_symbol_without_a_job(fetch_calls):
    fetch_calls.answer = {
        "TCS.NS": make_history("TCS.NS"),
        "GONE.NS": MarketDataError("no data returned by Yahoo for GONE.NS", permanent=True),
    }

    results = services.analyze_and_store(symbols=["GONE.NS", "TCS.NS"], strategy_id=4, params=PARAMS, source="demo")

    assert all(result.pk for result in results)
    stored = {r.symbol: r for r in AnalysisResult.objects.all()}
    assert set(stored) == {"GONE.NS", "TCS.NS"}
    assert stored["TCS.NS"].verdict and stored["TCS.NS"].job is None and stored["TCS.NS"].strategy_id == 4
    assert stored["GONE.NS"].error and stored["GONE.NS"].data_source == "demo"


@pytest.mark.django_db
def test_analyze_and_store_with_the_real_demo_source_labels_results_demo():
    symbols = ["BAJAJ-AUTO.NS", "INFY.NS", "M&M.NS", "RELIANCE.NS", "TCS.NS"]

    results = services.analyze_and_store(symbols=symbols, strategy_id=1, params=PARAMS, source="demo")

    assert [r.symbol for r in results] == symbols
    assert all(r.verdict and not r.error for r in results), [r.error for r in results]
    assert {r.data_source for r in results} == {"demo"} and all(r.is_demo for r in results)
    assert all(r.provenance["bars"] >= 250 for r in results)


# --- selectors: latest results --------------------------------------------------------------------
@pytest.mark.django_db
def test_latest_result_breaks_created_at_ties_by_id():
    make_result("TCS.NS", verdict="Sell", created_at=T0)
    second = make_result("TCS.NS", verdict="Hold", created_at=T0)

    assert selectors.latest_result_for("TCS.NS") == second


@pytest.mark.django_db
def test_latest_result_for_accepts_a_bare_symbol_and_returns_none_when_never_analysed():
    make_result("TCS.NS", verdict="Sell", created_at=T0)
    newest = make_result("TCS.NS", verdict="Buy", created_at=T0 + timedelta(days=1))

    assert selectors.latest_result_for("tcs") == newest
    assert selectors.latest_result_for("INFY.NS") is None


@pytest.mark.django_db
def test_result_history_is_newest_first_and_limited():
    made = [make_result("TCS.NS", created_at=T0 + timedelta(days=day)) for day in range(5)]
    make_result("INFY.NS")

    assert list(selectors.result_history("TCS.NS", limit=3)) == made[::-1][:3]
    assert selectors.result_history("TCS.NS", limit=None).count() == 5


# --- selectors: stocks ------------------------------------------------------------------------------
@pytest.fixture
def empty_universe(db):
    clear_universe()


@pytest.mark.usefixtures("empty_universe")
def test_stock_search_matches_symbol_or_name_case_insensitively_and_skips_inactive():
    make_stock("RELIANCE", name="Reliance Industries Limited")
    make_stock("TCS", name="Tata Consultancy Services Limited")
    make_stock("TATAOLD", name="Tata Old Limited", is_active=False)

    def search(**options):
        return [s.symbol for s in selectors.stocks_with_latest_results(**options)]

    assert search(query="tata") == ["TCS"]
    assert search(query="TATA", active=None) == ["TATAOLD", "TCS"]
    assert search(query="relia") == ["RELIANCE"]
    assert search() == ["RELIANCE", "TCS"]


@pytest.mark.usefixtures("empty_universe")
def test_stocks_with_latest_results_annotates_the_newest_result_in_one_query(django_assert_num_queries):
    make_stock("M&M")
    make_stock("TCS")
    make_stock("INFY")
    make_result("M&M.NS", verdict="Sell", score=-0.4, created_at=T0)
    make_result("M&M.NS", verdict="Buy", score=0.3, created_at=T0 + timedelta(days=1))
    make_result("TCS.NS", error="no data", created_at=T0)

    with django_assert_num_queries(1):
        stocks = {s.symbol: s for s in selectors.stocks_with_latest_results()}

    assert (stocks["M&M"].latest_verdict, stocks["M&M"].latest_score) == ("Buy", 0.3)
    assert stocks["M&M"].latest_analysed_at == T0 + timedelta(days=1)
    assert (stocks["TCS"].latest_verdict, stocks["TCS"].latest_error) == ("", "no data")
    assert stocks["INFY"].latest_result_id is None and stocks["INFY"].latest_verdict is None


@pytest.mark.usefixtures("empty_universe")
def test_stocks_with_latest_results_filters_by_latest_verdict_on_the_whole_universe(django_assert_num_queries):
    Stock.objects.bulk_create(Stock(symbol=f"S{i:04d}", yahoo_symbol=f"S{i:04d}.NS") for i in range(2192))
    services.record_results(
        results=[
            AnalysisResult(symbol=f"S{i:04d}.NS", strategy_id=1, verdict="Buy" if i % 4 == 0 else "Hold", capital=1000)
            for i in range(2192)
        ]
    )

    with django_assert_num_queries(1):
        buys = list(selectors.stocks_with_latest_results(verdict="Buy")[:1000])

    assert len(buys) == 548 and all(s.latest_verdict == "Buy" for s in buys)


@pytest.mark.usefixtures("empty_universe")
@pytest.mark.parametrize("raw", ["RELIANCE", "reliance", "RELIANCE.NS", " reliance.ns "])
def test_get_stock_accepts_nse_or_yahoo_symbols_in_any_case(raw):
    stock = make_stock("RELIANCE")

    assert selectors.get_stock(raw) == stock


@pytest.mark.usefixtures("empty_universe")
def test_get_stock_raises_unknown_symbol_or_invalid_symbol():
    make_stock("M&M")

    assert selectors.get_stock("m&m").symbol == "M&M"
    with pytest.raises(UnknownSymbol):
        selectors.get_stock("NOPE")
    with pytest.raises(InvalidSymbol):
        selectors.get_stock("bad<symbol>")


@pytest.mark.usefixtures("empty_universe")
def test_results_prepared_before_the_transaction_are_stored_with_their_own_ids(django_assert_num_queries):
    Stock.objects.bulk_create(Stock(symbol=f"P{i:03d}", yahoo_symbol=f"P{i:03d}.NS") for i in range(120))
    rows = [
        AnalysisResult(symbol=f"P{i:03d}.NS", strategy_id=1, verdict="Buy", score=i / 1000, capital=1000)
        for i in range(120)
    ]
    rows[7].error, rows[7].verdict = "no data", ""

    with django_assert_num_queries(0):  # SQL built and values adapted without the database
        prepared = services.prepare_results(rows)
    recorded = services.record_results(results=prepared)

    assert (recorded.new, recorded.new_ok) == (120, 119)
    stored = dict(AnalysisResult.objects.values_list("pk", "symbol"))
    assert {row.pk: row.symbol for row in recorded.rows} == stored  # ids match their rows, across statements
    assert all(row.created_at for row in recorded.rows)
