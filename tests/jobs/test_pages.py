"""The server-rendered job pages: Analyze, progress, cancel, job detail, job list and exports."""

import csv
import io
import uuid
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from unittest import mock

import pytest
from django.contrib.messages import get_messages
from django.test import Client
from openpyxl import load_workbook

from jobs import exports, services
from jobs.models import AnalysisJob, JobKind, JobStatus
from stocks.models import Stock
from tests.factories import make_job, make_result, make_stock

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def known_world(settings):
    settings.THETOOL_DATA_SOURCE = "demo"
    Stock.objects.all().delete()
    for symbol in ("RELIANCE", "TCS", "M&M"):
        make_stock(symbol)


@pytest.fixture(autouse=True)
def no_broker():
    """Record enqueues instead of handing jobs to django-q2 (no cluster in these tests)."""
    with mock.patch.object(services, "async_task", return_value="task-1") as enqueue:
        yield enqueue


def post_analyze(client, **data):
    payload = {"action": "selected", "capital": "100000", "strategy": "1", "next": "/"}
    payload.update(data)
    return client.post("/analyze/", payload)


# --- Analyze (no JavaScript: POST, redirect, message) --------------------------------------------


def test_analyze_selected_starts_a_job_and_redirects_with_its_id(client, no_broker, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        response = post_analyze(client, symbols=["RELIANCE.NS", "TCS.NS"])
    job = AnalysisJob.objects.get()
    assert response.status_code == 302
    assert response["Location"] == f"/?strategy=1&capital=100000&job={job.pk}"
    assert job.symbols == ["RELIANCE.NS", "TCS.NS"] and job.requested_by == "page:anonymous"
    no_broker.assert_called_once()
    html = client.get(response["Location"]).content.decode()
    assert f"Analysis started. Job ID: {job.pk}" in html
    assert 'id="job-progress"' in html


def test_analyze_again_reports_the_running_job_never_an_error(client):
    post_analyze(client, symbols=["RELIANCE.NS", "TCS.NS"])
    job = AnalysisJob.objects.get()
    AnalysisJob.objects.filter(pk=job.pk).update(status=JobStatus.PROCESSING, completed=1)
    response = post_analyze(client, symbols=["TCS.NS", "RELIANCE.NS"])
    html = client.get(response["Location"]).content.decode()
    assert AnalysisJob.objects.count() == 1
    assert f"Analysis already running for these stocks. Job ID: {job.pk} (Progress: 1/2)" in html
    assert 'class="message info"' in html


def test_analyze_all_covers_every_active_stock(client):
    Stock.objects.filter(symbol="TCS").update(is_active=False)
    post_analyze(client, action="all")
    job = AnalysisJob.objects.get()
    assert job.is_all_stocks and job.symbols == ["M&M.NS", "RELIANCE.NS"]


def test_analyze_selected_with_nothing_ticked_never_means_all(client):
    response = post_analyze(client)
    html = client.get(response["Location"]).content.decode()
    assert AnalysisJob.objects.count() == 0
    assert "Select at least one stock, or use Analyze All." in html


def test_analyze_shows_service_validation_errors(client):
    response = post_analyze(client, symbols=["RELIANCE.NS"], capital="10")
    html = client.get(response["Location"]).content.decode()
    assert AnalysisJob.objects.count() == 0
    assert "Analysis not started." in html and "capital" in html


def test_analyze_rejects_an_unknown_strategy_in_the_form(client):
    response = post_analyze(client, symbols=["RELIANCE.NS"], strategy="99")
    assert AnalysisJob.objects.count() == 0
    assert "Analysis not started." in client.get(response["Location"]).content.decode()


def test_analyze_returns_to_a_local_next_page_only(client):
    response = post_analyze(client, symbols=["M&M.NS"], next="/stocks/M%26M/?capital=5000", capital="5000")
    job = AnalysisJob.objects.get()
    assert response["Location"] == f"/stocks/M%26M/?capital=5000&strategy=1&job={job.pk}"
    response = post_analyze(client, symbols=["TCS.NS"], next="https://evil.example/")
    assert response["Location"].startswith("/?strategy=1&capital=100000&job=")


def test_analyze_without_javascript_keeps_the_chosen_strategy_and_capital(client):
    response = post_analyze(client, symbols=["TCS.NS"], strategy="3", capital="250500", next="/?q=tc&strategy=1")
    job = AnalysisJob.objects.get()
    assert response["Location"] == f"/?q=tc&strategy=3&capital=250500&job={job.pk}"
    page = client.get(response["Location"])
    assert page.context["strategy_id"] == 3 and page.context["capital"] == Decimal("250500")
    assert '<option value="3" selected' in page.content.decode()


def test_analyze_accepts_any_positive_rupee_amount(client):
    post_analyze(client, symbols=["TCS.NS"], capital="123456")
    post_analyze(client, action="all", capital="250500")
    assert sorted(job.capital for job in AnalysisJob.objects.all()) == [Decimal("123456"), Decimal("250500")]


def test_analyze_requires_csrf_token():
    strict = Client(enforce_csrf_checks=True)
    response = post_analyze(strict, symbols=["RELIANCE.NS"])
    assert response.status_code == 403
    assert AnalysisJob.objects.count() == 0


def test_analyze_with_htmx_returns_the_status_fragment(client):
    response = client.post(
        "/analyze/",
        {"action": "selected", "capital": "100000", "strategy": "1", "symbols": ["TCS.NS"]},
        headers={"HX-Request": "true"},
    )
    job = AnalysisJob.objects.get()
    html = response.content.decode()
    assert response.status_code == 200
    assert html.lstrip().startswith('<div id="analysis-status"')
    assert f"Analysis started. Job ID: {job.pk}" in html
    assert 'hx-trigger="every 1s"' in html


def test_analyze_answers_503_worthy_failures_with_a_message(client):
    from thetool.exceptions import ServiceUnavailable

    with mock.patch.object(services, "_decide_with_retries", side_effect=ServiceUnavailable("The database is down")):
        response = post_analyze(client, symbols=["TCS.NS"])
    assert "Analysis not started. The database is down" in client.get(response["Location"]).content.decode()


# --- Progress fragment ----------------------------------------------------------------------------


def test_progress_of_an_active_job_keeps_polling():
    job = make_job(["RELIANCE.NS", "TCS.NS"], status=JobStatus.PROCESSING, completed=1, successful=1)
    response = Client().get(f"/jobs/{job.pk}/progress/", headers={"HX-Request": "true"})
    html = response.content.decode()
    assert 'hx-trigger="every 1s"' in html and 'value="50"' in html
    assert "HX-Trigger" not in response


def test_progress_of_a_finished_job_stops_polling_and_tells_the_page():
    job = make_job(["TCS.NS"], status=JobStatus.COMPLETED, completed=1, successful=1)
    response = Client().get(f"/jobs/{job.pk}/progress/", headers={"HX-Request": "true"})
    assert "hx-trigger" not in response.content.decode()
    assert response["HX-Trigger"] == "job-finished"


def test_progress_of_unknown_or_malformed_job_is_404(client):
    assert client.get(f"/jobs/{uuid.uuid4()}/progress/").status_code == 404
    assert client.get("/jobs/not-a-uuid/progress/").status_code == 404


# --- Cancel ----------------------------------------------------------------------------------------


def test_cancel_stops_an_active_job(client):
    job = make_job(["TCS.NS"], status=JobStatus.PROCESSING)
    response = client.post(f"/jobs/{job.pk}/cancel/")
    job.refresh_from_db()
    assert response["Location"] == f"/jobs/{job.pk}/"
    assert job.status == JobStatus.CANCELLED and "page:anonymous" in job.status_reason
    assert f"Job {job.pk} cancelled." in client.get(response["Location"]).content.decode()


def test_cancel_from_the_stocks_page_says_so_and_returns_there(client):
    job = make_job(["TCS.NS"], status=JobStatus.PROCESSING)
    response = client.post(f"/jobs/{job.pk}/cancel/", {"next": f"/?strategy=2&job={job.pk}"})
    job.refresh_from_db()
    assert response["Location"] == f"/?strategy=2&job={job.pk}"
    assert job.status_reason == "Cancelled from the All stocks page (page:anonymous)"


def test_cancel_records_the_page_it_came_from_and_never_leaves_the_site(client):
    origins = {}
    for next_url in (None, "/stocks/TCS/", "/jobs/", "https://evil.example/"):
        job = make_job(["TCS.NS"], status=JobStatus.PROCESSING, analysis_key=uuid.uuid4().hex)
        response = client.post(f"/jobs/{job.pk}/cancel/", {"next": next_url} if next_url else {})
        job.refresh_from_db()
        origins[next_url] = (job.status_reason.split(" (")[0], response["Location"])
    assert origins[None][0] == "Cancelled from the job page"
    assert origins["/stocks/TCS/"] == ("Cancelled from a stock page", "/stocks/TCS/")
    assert origins["/jobs/"][0] == "Cancelled from the jobs list"
    assert origins["https://evil.example/"][0] == "Cancelled from the job page"
    assert origins["https://evil.example/"][1].startswith("/jobs/")


def test_progress_fragment_cancels_on_behalf_of_the_page_it_sits_on(client):
    job = make_job(["TCS.NS"], status=JobStatus.PROCESSING)
    polled = client.get(
        f"/jobs/{job.pk}/progress/",
        headers={"HX-Request": "true", "HX-Current-URL": "http://testserver/?q=tc&strategy=2"},
    ).content.decode()
    assert '<input type="hidden" name="next" value="/?q=tc&amp;strategy=2">' in polled
    started = client.post(
        "/analyze/",
        {"action": "selected", "capital": "100000", "strategy": "1", "symbols": ["RELIANCE.NS"]},
        headers={"HX-Request": "true", "HX-Current-URL": "http://testserver/?page=2"},
    ).content.decode()
    assert '<input type="hidden" name="next" value="/?page=2">' in started


def test_cancel_a_finished_job_says_so(client):
    job = make_job(["TCS.NS"], status=JobStatus.COMPLETED, completed=1)
    response = client.post(f"/jobs/{job.pk}/cancel/")
    assert "already finished with status completed" in client.get(response["Location"]).content.decode()


def test_cancel_needs_post(client):
    job = make_job(["TCS.NS"])
    assert client.get(f"/jobs/{job.pk}/cancel/").status_code == 405


# --- Job detail --------------------------------------------------------------------------------------


@pytest.fixture
def finished_job():
    job = make_job(
        ["M&M.NS", "RELIANCE.NS", "TCS.NS"],
        status=JobStatus.COMPLETED,
        completed=3,
        successful=2,
        started_at=datetime(2025, 11, 28, 4, 0, tzinfo=UTC),
        finished_at=datetime(2025, 11, 28, 4, 2, tzinfo=UTC),
    )
    make_result("RELIANCE.NS", job=job, verdict="Buy", score=0.35)
    make_result("M&M.NS", job=job, verdict="Sell", score=-0.3)
    make_result("TCS.NS", job=job, error="=HYPERLINK(evil) no data")
    return job


def test_job_page_shows_status_timing_symbols_errors_and_results(client, finished_job):
    response = client.get(f"/jobs/{finished_job.pk}/")
    html = response.content.decode()
    assert response.status_code == 200
    assert "Completed" in html and "09:30 IST" in html and "09:32 IST" in html
    assert "2 min 0 s" in html
    assert "3 symbols" in html
    assert "=HYPERLINK(evil) no data" in html  # the error per symbol, shown as text
    assert [r.symbol for r in response.context["results"]] == ["RELIANCE.NS", "M&M.NS", "TCS.NS"]
    assert 'href="/stocks/M%26M/"' in html
    assert "Download CSV" in html and "Download Excel" in html
    assert "These results come from synthetic demo prices" in html
    assert "Cancel</button>" not in html


def flag_result(job, symbol: str, *, sessions_behind: int, zero_volume_run: int, flags: list[str]) -> None:
    """Store data-quality flags on the job's result for `symbol`, as the worker would."""
    from stocks.models import AnalysisResult

    result = AnalysisResult.objects.get(job=job, symbol=symbol)
    quality = {"data_as_of": "2025-11-28", "sessions_behind": sessions_behind, "zero_volume_run": zero_volume_run}
    result.provenance = {**result.provenance, "quality": {**quality, "flags": flags}}
    result.save()


def test_job_page_shows_each_results_data_date_and_quality_flags(client, finished_job):
    flag_result(finished_job, "M&M.NS", sessions_behind=2, zero_volume_run=4, flags=["stale", "zero_volume_run"])
    html = client.get(f"/jobs/{finished_job.pk}/").content.decode()
    assert "<th" in html and "Data as of</th>" in html
    cells = {
        row.split('data-symbol="', 1)[1].split('"', 1)[0]: row.split('<td class="data-as-of">', 1)[1].split("</td>", 1)[
            0
        ]
        for row in html.split("<tr ")[1:]
        if 'data-symbol="' in row
    }
    assert set(cells) == {"RELIANCE.NS", "M&amp;M.NS", "TCS.NS"}
    assert '<time datetime="2025-11-28">28 Nov 2025</time>' in cells["M&amp;M.NS"]
    assert 'data-flag="stale"' in cells["M&amp;M.NS"] and ">2 sessions behind<" in cells["M&amp;M.NS"]
    assert ">no trades 4 sessions<" in cells["M&amp;M.NS"]
    assert "data-flag" not in cells["RELIANCE.NS"]  # clean data: the date alone
    assert cells["TCS.NS"].strip() == "—"  # a failed symbol analysed no bars


def test_exports_carry_the_data_quality_flags(client, finished_job):
    flag_result(finished_job, "RELIANCE.NS", sessions_behind=1, zero_volume_run=0, flags=["stale", "settling"])
    rows = csv_of(client.get(f"/jobs/{finished_job.pk}/results.csv", {"sort": "symbol"}))
    column = exports.COLUMNS.index("data_flags")
    assert [row[column] for row in rows[1:]] == ["", "1 session behind; close not final", ""]
    sheet = load_workbook(io.BytesIO(client.get(f"/jobs/{finished_job.pk}/results.xlsx").content))["Results"]
    assert sheet.cell(2, column + 1).value == "1 session behind; close not final"


def test_job_page_sorts_by_score_and_filters_by_verdict(client, finished_job):
    ascending = client.get(f"/jobs/{finished_job.pk}/", {"sort": "score"}).context["results"]
    assert [r.symbol for r in ascending][:2] == ["M&M.NS", "RELIANCE.NS"]
    buys = client.get(f"/jobs/{finished_job.pk}/", {"verdict": "Buy"}).context["results"]
    assert [r.symbol for r in buys] == ["RELIANCE.NS"]
    failed = client.get(f"/jobs/{finished_job.pk}/", {"verdict": "error"}).context["results"]
    assert [r.symbol for r in failed] == ["TCS.NS"]


def test_running_job_page_has_cancel_and_says_results_are_coming(client):
    job = make_job(["TCS.NS"], status=JobStatus.PROCESSING, heartbeat_at=datetime.now(UTC))
    html = client.get(f"/jobs/{job.pk}/").content.decode()
    assert "Cancel</button>" in html
    assert "No results yet" in html
    assert 'hx-trigger="every 1s"' in html


def test_failed_job_page_explains_the_failure(client):
    job = make_job(["TCS.NS"], status=JobStatus.FAILED, status_reason="Market data source unavailable: DNS")
    html = client.get(f"/jobs/{job.pk}/").content.decode()
    assert "Market data source unavailable: DNS" in html
    assert "This job failed and stored no results." in html
    assert "Download CSV" not in html


def test_stale_job_page_warns_about_the_silent_worker(client):
    old = datetime.now(UTC) - timedelta(hours=1)
    job = make_job(["TCS.NS"], status=JobStatus.PROCESSING, heartbeat_at=old)
    assert "No heartbeat from its worker" in client.get(f"/jobs/{job.pk}/").content.decode()


def test_unknown_job_page_is_the_404_page(client):
    response = client.get(f"/jobs/{uuid.uuid4()}/")
    assert response.status_code == 404
    assert "No job with id" in response.content.decode()


# --- Job list ----------------------------------------------------------------------------------------


def test_job_list_puts_active_jobs_first_and_refreshes_while_any_runs(client):
    done = make_job(["TCS.NS"], status=JobStatus.COMPLETED, completed=1)
    running = make_job(["RELIANCE.NS"], status=JobStatus.PROCESSING)
    AnalysisJob.objects.filter(pk=running.pk).update(created_at=datetime.now(UTC) - timedelta(days=1))
    response = client.get("/jobs/")
    assert [job.pk for job in response.context["page"]] == [running.pk, done.pk]
    assert 'hx-trigger="every 2s"' in response.content.decode()


def test_job_list_filters_by_status_and_stops_refreshing_when_idle(client):
    make_job(["TCS.NS"], status=JobStatus.COMPLETED, completed=1)
    make_job(["RELIANCE.NS"], status=JobStatus.FAILED)
    response = client.get("/jobs/", {"status": "failed"})
    assert [job.status for job in response.context["page"]] == ["failed"]
    assert "every 2s" not in response.content.decode()


def test_job_list_marks_backtests_among_analyses(client):
    analysis = make_job(["TCS.NS"], status=JobStatus.COMPLETED, completed=1)
    backtest = make_job(["RELIANCE.NS"], status=JobStatus.COMPLETED, completed=1)
    AnalysisJob.objects.filter(pk=backtest.pk).update(kind=JobKind.BACKTEST)
    rows = {
        row.split('data-job-id="', 1)[1][:36]: row
        for row in client.get("/jobs/").content.decode().split("<tr ")[1:]
        if 'data-job-id="' in row
    }
    assert '<span class="badge kind">Backtest</span>' in rows[str(backtest.pk)]
    assert "Backtest" not in rows[str(analysis.pk)]


def test_job_list_empty_state(client):
    assert "No jobs yet." in client.get("/jobs/").content.decode()


# --- Exports ------------------------------------------------------------------------------------------


def test_csv_export_has_one_row_per_result_best_first_and_defuses_formulas(client, finished_job):
    response = client.get(f"/jobs/{finished_job.pk}/results.csv")
    assert response["Content-Type"].startswith("text/csv")
    assert "attachment;" in response["Content-Disposition"]
    rows = list(csv.reader(io.StringIO(b"".join(response.streaming_content).decode())))
    assert rows[0] == list(exports.COLUMNS)
    assert [row[0] for row in rows[1:]] == ["RELIANCE.NS", "M&M.NS", "TCS.NS"]
    assert rows[1][1:3] == ["Buy", "0.35"] and rows[1][4] == "100.00"
    assert rows[3][-1] == "'=HYPERLINK(evil) no data"


def test_excel_export_has_the_same_rows_with_numbers_as_numbers(client, finished_job):
    response = client.get(f"/jobs/{finished_job.pk}/results.xlsx")
    assert response["Content-Type"] == exports.XLSX_CONTENT_TYPE
    sheet = load_workbook(io.BytesIO(response.content), read_only=True)["Results"]
    rows = list(sheet.iter_rows(values_only=True))
    assert rows[0] == exports.COLUMNS
    assert rows[1][0] == "RELIANCE.NS" and rows[1][4] == 100.0 and rows[1][8] == 200
    assert len(rows) == 4


def test_exports_follow_the_filter_and_sort_on_screen(client, finished_job):
    page = client.get(f"/jobs/{finished_job.pk}/", {"verdict": "Buy", "sort": "symbol"}).content.decode()
    assert f'href="/jobs/{finished_job.pk}/results.csv?verdict=Buy&amp;sort=symbol"' in page
    csv_rows = csv_of(client.get(f"/jobs/{finished_job.pk}/results.csv", {"verdict": "Buy"}))
    assert [row[0] for row in csv_rows[1:]] == ["RELIANCE.NS"]
    by_symbol = csv_of(client.get(f"/jobs/{finished_job.pk}/results.csv", {"sort": "symbol"}))
    assert [row[0] for row in by_symbol[1:]] == ["M&M.NS", "RELIANCE.NS", "TCS.NS"]
    failed = load_workbook(
        io.BytesIO(client.get(f"/jobs/{finished_job.pk}/results.xlsx", {"verdict": "error"}).content)
    )["Results"]
    assert [row[0] for row in failed.iter_rows(min_row=2, values_only=True)] == ["TCS.NS"]


def test_excel_export_has_date_cells_a_frozen_filterable_header_and_widths(client, finished_job):
    sheet = load_workbook(io.BytesIO(client.get(f"/jobs/{finished_job.pk}/results.xlsx").content))["Results"]
    header = [cell.value for cell in sheet[1]]
    last_bar, analysed = sheet.cell(2, header.index("last_bar") + 1), sheet.cell(2, header.index("analysed_at_ist") + 1)
    assert last_bar.is_date and last_bar.value == datetime(2025, 11, 28)
    assert analysed.is_date and isinstance(analysed.value, datetime)
    assert sheet.freeze_panes == "A2"
    assert sheet.auto_filter.ref == f"A1:P{sheet.max_row}"
    assert sheet.column_dimensions["A"].width == 16 and sheet.column_dimensions["P"].width == 50


def test_csv_export_writes_times_in_ist(client, finished_job):
    from stocks.models import AnalysisResult

    AnalysisResult.objects.filter(job=finished_job).update(created_at=datetime(2025, 1, 2, 4, 0, tzinfo=UTC))
    rows = csv_of(client.get(f"/jobs/{finished_job.pk}/results.csv"))
    assert {row[exports.COLUMNS.index("analysed_at_ist")] for row in rows[1:]} == {"2025-01-02 09:30:00"}
    assert rows[1][exports.COLUMNS.index("last_bar")] == "2025-11-28"


def csv_of(response) -> list[list[str]]:
    return list(csv.reader(io.StringIO(b"".join(response.streaming_content).decode())))


def test_exports_of_a_job_without_results_have_only_the_header(client):
    job = make_job(["TCS.NS"])
    body = b"".join(client.get(f"/jobs/{job.pk}/results.csv").streaming_content).decode()
    assert body.strip() == ",".join(exports.COLUMNS)


@pytest.mark.django_db(transaction=True)
def test_a_job_the_broker_refused_is_reported_as_not_started(client, no_broker):
    no_broker.side_effect = ConnectionError("redis down")
    response = client.post(
        "/analyze/", {"action": "selected", "symbols": ["TCS.NS"], "capital": "100000", "strategy": "1"}
    )
    assert response.status_code == 302
    texts = [str(m) for m in get_messages(response.wsgi_request)]
    assert any("could not start" in t and "redis down" in t for t in texts), texts
    assert not any(t.startswith("Analysis started") for t in texts)


def test_created_but_not_enqueued_has_one_definition():
    from jobs.exceptions import JobNotEnqueued
    from jobs.selectors import check_job_enqueued

    check_job_enqueued(job=make_job(["TCS.NS"], enqueued=True))
    check_job_enqueued(job=make_job(["TCS.NS"], status=JobStatus.FAILED, enqueued=True, analysis_key="b"))
    refused = make_job(["TCS.NS"], status=JobStatus.FAILED, status_reason="redis down", analysis_key="c")
    with pytest.raises(JobNotEnqueued) as raised:
        check_job_enqueued(job=refused)
    assert raised.value.status_code == 503 and raised.value.details["reason"] == "redis down"
