"""A backtest is a job like any other: deduplicated request, run on the worker, cancel, recovery, stored results."""

from datetime import timedelta

import pytest
from django.core.cache import cache
from django.core.management import call_command
from django.utils import timezone
from rest_framework.test import APIClient

from backtests import services as backtest_services
from backtests.models import BacktestResult, BacktestSymbol
from jobs import execution, services, tasks
from jobs.models import AnalysisJob, JobKind, JobStatus
from stocks.backtest import PAST_RESULTS_NOTE
from tests.factories import clear_universe, make_stock

pytestmark = pytest.mark.django_db(transaction=True)

URL = "/api/backtests/"
SYMBOLS = ["RELIANCE.NS", "TCS.NS", "INFY.NS"]


@pytest.fixture(autouse=True)
def demo_data(settings):
    cache.clear()  # job-creation throttle counters of earlier tests
    settings.THETOOL_DATA_SOURCE = "demo"
    settings.THETOOL_JOB_BATCH_SIZE = 2
    settings.THETOOL_OPEN_ACCESS = True
    yield
    cache.clear()  # nor do this module's jobs count against later tests' limits


@pytest.fixture
def api():
    return APIClient()


def create(api, **body):
    return api.post(URL, {"symbols": SYMBOLS, **body}, format="json")


def assert_error(response, status):
    assert response.status_code == status, response.content
    assert set(response.json()["error"]) == {"code", "message", "details"}


def test_a_backtest_request_creates_a_queued_backtest_job(api):
    response = create(api, strategy_id=2, max_holding=10)
    assert response.status_code == 201, response.content
    body = response.json()
    assert (body["kind"], body["status"], body["is_duplicate"]) == ("backtest", "queued", False)
    assert body["symbols"] == sorted(SYMBOLS) and body["strategy_id"] == 2
    assert body["parameters"]["max_holding"] == 10
    assert body["parameters"]["costs"]["stt_percent"] == 0.1
    job = AnalysisJob.objects.get(pk=body["job_id"])
    assert job.kind == JobKind.BACKTEST and job.enqueued


def test_an_identical_running_backtest_is_returned_as_a_duplicate(api):
    first = create(api).json()
    again = create(api)
    assert again.status_code == 200
    assert again.json()["job_id"] == first["job_id"] and again.json()["is_duplicate"] is True
    assert AnalysisJob.objects.count() == 1


def test_other_parameters_or_an_analysis_of_the_same_symbols_are_not_duplicates(api):
    first = create(api).json()
    assert create(api, max_holding=5).status_code == 201
    assert create(api, costs={"brokerage_percent": 0}).status_code == 201
    assert create(api, start_date="2026-01-01").status_code == 201
    analysis = api.post("/api/stocks/analyze-all-stocks", {"symbols": SYMBOLS}, format="json")
    assert analysis.status_code == 201 and analysis.json()["job_id"] != first["job_id"]
    assert AnalysisJob.objects.filter(kind=JobKind.BACKTEST).count() == 4


@pytest.mark.parametrize(
    "body",
    [
        {"max_holding": 0},
        {"max_holding": "20"},
        {"start_date": "2026-02-01", "end_date": "2026-01-01"},
        {"costs": {"brokerage": 1}},
        {"costs": {"stt_percent": -1}},
        {"strategy_id": 9},
        {"period": "1y"},
        {"symbols": ["NOT A SYMBOL!"]},
    ],
)
def test_bad_input_is_a_clear_400_that_creates_nothing(api, body):
    response = api.post(URL, {"symbols": SYMBOLS, **body}, format="json")
    assert_error(response, 400)
    assert AnalysisJob.objects.count() == 0


def test_a_backtest_job_runs_on_the_worker_and_stores_every_bucket():
    job, created = backtest_services.request_backtest_job(symbols=SYMBOLS + ["NOPE.NS"], strategy_id=1)
    assert created
    assert tasks.run_analysis_job(str(job.pk)) == "completed"
    job.refresh_from_db()
    assert job.status == JobStatus.COMPLETED
    assert (job.total, job.completed, job.successful) == (4, 4, 4)  # demo data has bars for any symbol
    buckets = BacktestResult.objects.filter(job=job).order_by("position")
    assert [bucket.verdict for bucket in buckets] == ["Strong Buy", "Buy", "Hold", "Sell", "Strong Sell"]
    assert sum(bucket.signals for bucket in buckets) == buckets[0].total_signals > 0
    assert all(bucket.costs["stamp_duty_percent"] == 0.015 for bucket in buckets)
    symbols = BacktestSymbol.objects.filter(job=job)
    assert symbols.count() == 4 and all(row.scored_days > 200 for row in symbols)


def test_the_detail_answer_carries_its_labels_and_table(api):
    job_id = create(api).json()["job_id"]
    tasks.run_analysis_job(job_id)
    body = api.get(f"{URL}{job_id}/").json()
    assert body["status"] == "completed" and body["synthetic"] is True
    assert body["note"] == PAST_RESULTS_NOTE
    assert body["period"]["first_day"] and body["period"]["last_day"]
    assert body["signals"] == sum(bucket["signals"] for bucket in body["buckets"])
    assert len(body["buckets"]) == 5
    assert {"hit_rate_ci", "expectancy_ci", "forward_mean", "max_drawdown_percent"} <= set(body["buckets"][0]["stats"])


def test_the_detail_of_an_analysis_job_is_a_404(api):
    analysis = api.post("/api/stocks/analyze-all-stocks", {"symbols": SYMBOLS}, format="json").json()
    assert_error(api.get(f"{URL}{analysis['job_id']}/"), 404)
    assert_error(api.get(f"{URL}not-a-uuid/"), 400)


def test_a_cancelled_backtest_stops_and_stores_nothing(monkeypatch):
    job, _ = backtest_services.request_backtest_job(symbols=SYMBOLS)
    real_fetch = backtest_services.fetch_for_backtest

    def fetch_then_cancel(**kwargs):
        services.cancel_job(job_id=job.pk)
        return real_fetch(**kwargs)

    monkeypatch.setattr("backtests.execution.fetch_for_backtest", fetch_then_cancel)
    assert tasks.run_analysis_job(str(job.pk)) == "stopped"
    job.refresh_from_db()
    assert job.status == JobStatus.CANCELLED
    assert not BacktestResult.objects.filter(job=job).exists()


def test_a_backtest_whose_worker_died_is_recovered_and_completed_by_a_new_attempt(settings):
    job, _ = backtest_services.request_backtest_job(symbols=SYMBOLS)
    assert execution.claim_job(job_id=job.pk) == 1  # a worker took it, then died without a word
    AnalysisJob.objects.filter(pk=job.pk).update(
        heartbeat_at=timezone.now() - timedelta(seconds=settings.THETOOL_JOB_STALE_SECONDS + 5)
    )
    report = execution.recover_stale_jobs()
    assert report.requeued == [str(job.pk)]
    assert tasks.run_analysis_job(str(job.pk)) == "completed"
    job.refresh_from_db()
    assert (job.status, job.attempt) == (JobStatus.COMPLETED, 2)
    assert BacktestResult.objects.filter(job=job).count() == 5


def test_a_late_worker_of_an_old_attempt_writes_nothing():
    job, _ = backtest_services.request_backtest_job(symbols=SYMBOLS)
    execution.claim_job(job_id=job.pk)
    AnalysisJob.objects.filter(pk=job.pk).update(attempt=2)  # taken over by another attempt
    assert tasks.execution  # the executor is reached through jobs.tasks
    from backtests.execution import execute_backtest

    assert execute_backtest(job_id=job.pk, attempt=1) == "stopped"
    assert not BacktestResult.objects.filter(job=job).exists()


def test_backtest_pages_show_the_table_labels_charts_and_exports(client):
    job, _ = backtest_services.request_backtest_job(symbols=SYMBOLS, strategy_id=3)
    tasks.run_analysis_job(str(job.pk))
    page = client.get(f"/backtests/{job.pk}/")
    text = page.content.decode()
    assert page.status_code == 200
    assert "SYNTHETIC" in text and PAST_RESULTS_NOTE in text and "<polyline" in text and "<rect" in text
    assert "Strong Sell" in text and "costs:" in text
    csv_response = client.get(f"/backtests/{job.pk}/results.csv")
    lines = csv_response.content.decode().strip().splitlines()
    assert lines[0].startswith("strategy_id,verdict,signals") and len(lines) == 6
    assert "True" in lines[1] and PAST_RESULTS_NOTE in lines[1]  # synthetic, and the note, on every row
    xlsx = client.get(f"/backtests/{job.pk}/results.xlsx")
    assert xlsx.status_code == 200 and xlsx.content[:2] == b"PK"


def test_the_stock_page_shows_how_the_verdict_did_on_that_stock(client):
    clear_universe()
    make_stock("RELIANCE")
    before = client.get("/stocks/RELIANCE.NS/").content.decode()
    assert "How did this verdict do on this stock?" in before and "No backtest of this stock" in before
    job, _ = backtest_services.request_backtest_job(symbols=["RELIANCE.NS"], strategy_id=1)
    tasks.run_analysis_job(str(job.pk))
    after = client.get("/stocks/RELIANCE.NS/").content.decode()
    row = BacktestSymbol.objects.get(job=job)
    assert row.recent_signals and row.recent_signals[0]["date"] in after
    assert PAST_RESULTS_NOTE in after and "SYNTHETIC" in after


def test_the_stock_page_backtests_its_stock_and_a_refusal_comes_back_to_it(client):
    clear_universe()
    make_stock("RELIANCE")
    page = client.get("/stocks/RELIANCE.NS/?strategy=3").content.decode()
    assert "Backtest this stock with strategy 3" in page and 'name="symbol" value="RELIANCE.NS"' in page
    form = {"symbol": "RELIANCE.NS", "strategy": "3", "next": "/stocks/RELIANCE.NS/?strategy=3"}
    response = client.post("/backtests/run/", form)
    job = AnalysisJob.objects.get(kind=JobKind.BACKTEST)
    assert response.status_code == 302 and response["Location"] == f"/backtests/{job.pk}/"
    assert job.symbols == ["RELIANCE.NS"] and job.strategy_id == 3 and not job.is_all_stocks
    tasks.run_analysis_job(str(job.pk))
    assert "Backtest again with strategy 3" in client.get("/stocks/RELIANCE.NS/?strategy=3").content.decode()

    refused = client.post("/backtests/run/", {**form, "strategy": "9"}, follow=True)
    assert refused.redirect_chain == [("/stocks/RELIANCE.NS/?strategy=3", 302)]
    assert "Backtest not started." in refused.content.decode()
    elsewhere = client.post("/backtests/run/", {**form, "symbol": "NOT A SYMBOL!", "next": "https://evil.example/"})
    assert elsewhere["Location"] == "/"  # only back to this site
    assert AnalysisJob.objects.filter(kind=JobKind.BACKTEST).count() == 1


def test_the_strategies_page_shows_the_universe_backtest_or_a_button(client):
    clear_universe()
    make_stock("RELIANCE")
    make_stock("TCS")
    before = client.get("/strategies/").content.decode()
    assert before.count("Not run yet.") == 5
    response = client.post("/backtests/run/", {"strategy": "2"})
    job = AnalysisJob.objects.get(kind=JobKind.BACKTEST)
    assert response.status_code == 302 and response["Location"] == f"/backtests/{job.pk}/"
    assert job.is_all_stocks and job.strategy_id == 2
    tasks.run_analysis_job(str(job.pk))
    after = client.get("/strategies/").content.decode()
    assert after.count("Not run yet.") == 4 and "Full table" in after and "SYNTHETIC" in after


def test_the_backtest_command_prints_the_table(capsys):
    call_command("backtest", "RELIANCE", "TCS", "--strategy", "4", "--source", "demo")
    out = capsys.readouterr().out
    assert "strategy 4" in out and "SYNTHETIC" in out and PAST_RESULTS_NOTE in out
    for verdict in ("Strong Buy", "Buy", "Hold", "Sell", "Strong Sell"):
        assert f"\n{verdict} " in out
    assert "Costs: brokerage 0.03%" in out


def test_symbols_or_a_watchlist_is_required_and_an_empty_list_means_every_active_stock(api):
    assert_error(api.post(URL, {"strategy_id": 1}, format="json"), 400)
    clear_universe()
    make_stock("RELIANCE")
    response = api.post(URL, {"symbols": []}, format="json")
    assert response.status_code == 201 and response.json()["symbols"] == ["RELIANCE.NS"]


def test_the_command_says_when_real_bars_are_too_few_to_score_any_day(shared_data, tmp_path, capsys):
    (tmp_path / "RELIANCE.NS.csv").write_text((shared_data / "RELIANCE.NS_sample.csv").read_text())
    call_command("backtest", "RELIANCE", "--source", f"csv:{tmp_path}")
    captured = capsys.readouterr()
    assert "RELIANCE.NS: no day could be scored" in captured.err
    assert "0 scored days" in captured.out and "data source csv" in captured.out and "SYNTHETIC" not in captured.out


def test_the_job_page_of_a_backtest_links_to_its_table(client):
    job, _ = backtest_services.request_backtest_job(symbols=SYMBOLS)
    assert f"/backtests/{job.pk}/" in client.get(f"/jobs/{job.pk}/").content.decode()


@pytest.fixture
def watchlist_of_alice():
    from django.contrib.auth import get_user_model

    from watchlists.services import create_watchlist

    clear_universe()
    for symbol in ("RELIANCE", "TCS", "INFY"):
        make_stock(symbol)
    User = get_user_model()
    alice, bob = User.objects.create_user("alice"), User.objects.create_user("bob")
    return {"alice": alice, "bob": bob, "list": create_watchlist(owner=alice, name="IT", symbols=["TCS", "INFY"])}


def test_a_watchlist_is_backtested_by_any_signed_in_user(api, watchlist_of_alice):
    api.force_authenticate(watchlist_of_alice["bob"])  # not the owner: reading a list is open to signed-in users
    response = api.post(URL, {"watchlist": watchlist_of_alice["list"].pk, "strategy_id": 3}, format="json")
    assert response.status_code == 201, response.content
    body = response.json()
    assert (body["kind"], body["symbols"], body["strategy_id"]) == ("backtest", ["INFY.NS", "TCS.NS"], 3)
    again = api.post(URL, {"symbols": ["TCS", "INFY"], "strategy_id": 3}, format="json")
    assert again.status_code == 200 and again.json()["job_id"] == body["job_id"]  # the same backtest


@pytest.mark.parametrize(
    "body",
    [
        {"symbols": SYMBOLS, "watchlist": 1},
        {"strategy_id": 1},
        {"watchlist": "1"},
        {"watchlist": 0},
        {"watchlist": True},
        {"watchlist": None},
    ],
    ids=["both", "neither", "string", "zero", "bool", "null"],
)
def test_exactly_one_of_symbols_and_a_watchlist_id_else_a_400(api, watchlist_of_alice, body):
    api.force_authenticate(watchlist_of_alice["alice"])
    assert_error(api.post(URL, body, format="json"), 400)
    assert AnalysisJob.objects.count() == 0


def test_an_unknown_watchlist_is_a_404_an_empty_one_a_400_and_signed_out_a_401(api, watchlist_of_alice, settings):
    from watchlists.services import create_watchlist

    settings.THETOOL_OPEN_ACCESS = True
    assert_error(api.post(URL, {"watchlist": watchlist_of_alice["list"].pk}, format="json"), 401)
    api.force_authenticate(watchlist_of_alice["alice"])
    response = api.post(URL, {"watchlist": watchlist_of_alice["list"].pk + 1000}, format="json")
    assert_error(response, 404)
    assert response.json()["error"]["code"] == "watchlist_not_found"
    assert_error(api.post(URL, {"watchlist": 2**63 - 1}, format="json"), 404)  # past the id column's range
    empty = create_watchlist(owner=watchlist_of_alice["alice"], name="Empty", symbols=[])
    response = api.post(URL, {"watchlist": empty.pk}, format="json")
    assert_error(response, 400)
    assert response.json()["error"]["code"] == "empty_watchlist"
    assert AnalysisJob.objects.count() == 0
