"""Server-rendered backtest pages: a backtest's table and charts, its exports, and the run buttons."""

from django.contrib import messages
from django.http import Http404, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.http import require_GET, require_POST

from backtests import charts, exports, selectors, services
from jobs.admission import request_job_for_client
from jobs.exceptions import InvalidJobId, JobNotFound
from jobs.exports import XLSX_CONTENT_TYPE
from jobs.models import AnalysisJob
from jobs.pages import requested_by
from stocks import strategies
from stocks.backtest import HISTOGRAM_EDGES, PAST_RESULTS_NOTE
from thetool.exceptions import ApplicationError


def _backtest_or_404(job_id) -> AnalysisJob:
    try:
        return selectors.get_backtest_job(job_id)
    except (JobNotFound, InvalidJobId) as exc:
        raise Http404(exc.message) from None


@require_GET
def backtest_detail(request, job_id):
    job = _backtest_or_404(job_id)
    buckets = list(selectors.backtest_buckets(job))
    first = buckets[0] if buckets else None
    counts = [bucket.stats.get("return_histogram") or [] for bucket in buckets]
    totals = [sum(column) for column in zip(*counts, strict=True)] if counts and all(counts) else []
    context = {
        "job": job,
        "buckets": buckets,
        "first": first,
        "strategy": strategies.STRATEGIES.get(job.strategy_id),
        "synthetic": job.data_source == "demo",
        "note": PAST_RESULTS_NOTE,
        "equity": charts.equity_lines({bucket.verdict: bucket.stats.get("equity_curve", []) for bucket in buckets}),
        "histogram": charts.histogram_bars(totals, HISTOGRAM_EDGES),
        "symbols": selectors.backtest_symbols(job)[:500],
    }
    return render(request, "backtests/backtest_detail.html", context)


def _attachment(response: HttpResponse, job: AnalysisJob, extension: str) -> HttpResponse:
    response["Content-Disposition"] = f'attachment; filename="thetool-backtest-{str(job.pk)[:8]}.{extension}"'
    return response


@require_GET
def export_csv(request, job_id):
    job = _backtest_or_404(job_id)
    text = exports.csv_text(job=job, buckets=selectors.backtest_buckets(job))
    return _attachment(HttpResponse(text, content_type="text/csv; charset=utf-8"), job, "csv")


@require_GET
def export_xlsx(request, job_id):
    job = _backtest_or_404(job_id)
    data = exports.xlsx_bytes(job=job, buckets=selectors.backtest_buckets(job))
    return _attachment(HttpResponse(data, content_type=XLSX_CONTENT_TYPE), job, "xlsx")


@require_POST
def run_backtest(request):
    """Backtest one strategy (deduplicated): every active stock from the strategies page's button, or
    one stock (`symbol`) from that stock's page. A refusal goes back where the form was, with why."""
    symbol = request.POST.get("symbol", "").strip()
    back = request.POST.get("next", "")
    if not url_has_allowed_host_and_scheme(back, allowed_hosts={request.get_host()}):
        back = reverse("stock-list" if symbol else "strategy-list")
    try:
        strategy_id = int(request.POST.get("strategy", ""))
        job, created = request_job_for_client(
            request=request,
            service=services.request_backtest_job,
            symbols=[symbol] if symbol else None,
            strategy_id=strategy_id,
            requested_by=requested_by(request),
        )
    except (ValueError, ApplicationError) as exc:
        messages.error(request, f"Backtest not started. {getattr(exc, 'message', 'Choose a strategy.')}")
        return redirect(back)
    (messages.success if created else messages.info)(
        request, f"Backtest {'started' if created else 'already running'}: job {job.pk}"
    )
    return redirect(reverse("backtest-detail", args=[job.pk]))
