"""LatestResult: the newest result per stock and strategy, kept in step with the results table."""

from datetime import UTC, datetime, timedelta

import pytest
from django.db import connection
from django.db.models import F
from django.test.utils import CaptureQueriesContext

from jobs.housekeeping import prune_finished_jobs
from jobs.models import AnalysisJob, JobStatus
from stocks import selectors, services
from stocks.models import AnalysisResult, LatestResult
from tests.factories import clear_universe, make_job, make_result, make_stock

pytestmark = pytest.mark.django_db

T0 = datetime(2026, 1, 5, 10, 0, tzinfo=UTC)


@pytest.fixture
def universe():
    clear_universe()
    return [make_stock(symbol) for symbol in ("INFY", "TCS", "WIPRO")]


def pointer(symbol: str, strategy_id: int = 1) -> int | None:
    return (
        LatestResult.objects.filter(stock_id=symbol, strategy_id=strategy_id)
        .values_list("result_id", flat=True)
        .first()
    )


@pytest.mark.usefixtures("universe")
def test_recording_results_points_each_stock_and_strategy_at_its_newest_result():
    first = make_result("TCS.NS")
    other_strategy = make_result("TCS.NS", strategy_id=2, verdict="Sell", score=-0.4)
    second = make_result("TCS.NS", verdict="Hold", score=0.01)

    assert pointer("TCS.NS") == second.pk != first.pk
    assert pointer("TCS.NS", strategy_id=2) == other_strategy.pk
    latest = LatestResult.objects.get(stock_id="TCS.NS", strategy_id=1)
    assert (latest.verdict, latest.score, latest.created_at) == ("Hold", 0.01, second.created_at)


@pytest.mark.usefixtures("universe")
def test_a_redelivered_batch_of_an_older_job_does_not_move_the_pointer_back():
    old_job, new_job = make_job(["TCS.NS"]), make_job(["TCS.NS"])
    old = make_result("TCS.NS", job=old_job, created_at=T0)
    new = make_result("TCS.NS", job=new_job, created_at=T0 + timedelta(days=1))

    again = AnalysisResult(job=old_job, symbol="TCS.NS", strategy_id=1, verdict="Buy", capital=1000)
    stored = services.record_results(results=[again], ignore_conflicts=True).rows

    assert [result.pk for result in stored] == [old.pk]  # the constraint kept the first insert
    assert AnalysisResult.objects.filter(job=old_job).count() == 1
    assert pointer("TCS.NS") == new.pk


@pytest.mark.usefixtures("universe")
def test_pruning_the_job_of_a_latest_result_points_the_stock_at_its_newest_remaining_result():
    standalone = make_result("TCS.NS", created_at=T0)
    job = make_job(["TCS.NS"], status=JobStatus.COMPLETED)
    make_result("TCS.NS", job=job, created_at=T0 + timedelta(days=1))
    AnalysisJob.objects.filter(pk=job.pk).update(finished_at=F("created_at") - timedelta(days=400))

    prune_finished_jobs(older_than=timedelta(days=90))

    assert pointer("TCS.NS") == standalone.pk


@pytest.mark.usefixtures("universe")
def test_home_page_selector_filters_and_sorts_on_the_pointer_not_the_history(django_assert_num_queries):
    for day in range(5):  # history that must not count: older results with other verdicts
        make_result("INFY.NS", verdict="Sell", score=-0.5, created_at=T0 + timedelta(days=day))
    make_result("INFY.NS", verdict="Buy", score=0.2, created_at=T0 + timedelta(days=9))
    make_result("TCS.NS", verdict="Buy", score=0.6)
    make_result("WIPRO.NS", verdict="Buy", score=0.9, strategy_id=2)  # another strategy's verdict

    with django_assert_num_queries(1):
        rows = list(
            selectors.stocks_with_strategy_results(strategy_id=1, verdict="Buy").order_by(
                F("latest_score").desc(nulls_last=True)
            )
        )

    assert [stock.symbol for stock in rows] == ["TCS", "INFY"]
    never = selectors.stocks_with_strategy_results(strategy_id=1, never_analysed=True)
    assert [stock.symbol for stock in never] == ["WIPRO"]


@pytest.mark.usefixtures("universe")
def test_refresh_latest_results_rebuilds_lost_pointers_and_is_idempotent():
    make_result("INFY.NS", created_at=T0)
    newest = make_result("INFY.NS", verdict="Hold", created_at=T0 + timedelta(days=2))
    LatestResult.objects.all().delete()

    assert services.refresh_latest_results() == 1
    assert services.refresh_latest_results() == 1
    assert pointer("INFY.NS") == newest.pk
    assert LatestResult.objects.count() == 2  # strategy 1 and the any-strategy row


@pytest.mark.usefixtures("universe")
@pytest.mark.parametrize(
    "url", ["/", "/?verdict=Buy", "/?sort=-score", "/?page=2", "/api/stocks/", "/api/stocks/?verdict=Buy&page=1"]
)
def test_lists_of_stocks_read_the_history_table_only_for_the_rows_of_their_page(client, url):
    for day in range(3):
        make_result("INFY.NS", verdict="Buy", created_at=T0 + timedelta(days=day))

    with CaptureQueriesContext(connection) as queries:
        response = client.get(url)

    assert response.status_code == 200
    history_reads = [q["sql"] for q in queries.captured_queries if "stocks_analysisresult" in q["sql"]]
    # At most one read of results, by primary key, for the page's rows: never a search of the history.
    assert len(history_reads) <= 1
    assert all('"stocks_analysisresult"."id" IN' in sql for sql in history_reads), history_reads
