"""Server-rendered job pages: start an analysis, follow its progress, cancel it, read and export results.

Every form is a plain POST with CSRF protection that redirects with a message (works without
JavaScript). htmx requests (the `HX-Request` header) get an HTML fragment instead of a redirect,
so the page updates in place.
"""

from __future__ import annotations

import logging
from decimal import Decimal

from django import forms
from django.contrib import messages
from django.core.paginator import Paginator
from django.db.models import F
from django.http import Http404, HttpResponse, StreamingHttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.http import require_GET, require_POST

from jobs import exports, selectors, services
from jobs.admission import request_job_for_client
from jobs.exceptions import InvalidJobId, JobNotFound
from jobs.models import AnalysisJob, JobStatus
from jobs.permissions import ensure_may_manage_job
from stocks import strategies
from stocks.models import Verdict
from thetool.exceptions import ApplicationError

logger = logging.getLogger("jobs")

JOBS_PAGE_SIZE = 25
RESULTS_PAGE_SIZE = 100
# Failed symbols have no score: they sort last both ways (PostgreSQL and SQLite disagree otherwise).
RESULT_SORTS = {
    "-score": (F("score").desc(nulls_last=True), "symbol"),
    "score": (F("score").asc(nulls_last=True), "symbol"),
    "symbol": ("symbol",),
    "-symbol": ("-symbol",),
}


class AnalyzeForm(forms.Form):
    """Capital, strategy and which button was pressed; the symbols come from the checkboxes."""

    action = forms.ChoiceField(choices=[("selected", "Analyze Selected"), ("all", "Analyze All")])
    capital = forms.DecimalField(min_value=Decimal("1"), max_digits=16, decimal_places=2, initial=Decimal("100000"))
    strategy = forms.TypedChoiceField(coerce=int, choices=[])

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["strategy"].choices = [(s.id, s.name) for s in strategies.STRATEGIES.values()]


def is_htmx(request) -> bool:
    return request.headers.get("HX-Request") == "true"


def requested_by(request) -> str:
    user = request.user
    return f"page:{user.get_username() if user.is_authenticated else 'anonymous'}"


def _job_or_404(job_id) -> AnalysisJob:
    try:
        return selectors.get_job(job_id)
    except (JobNotFound, InvalidJobId) as exc:
        raise Http404(exc.message) from None


def _back_url(request, job: AnalysisJob | None) -> str:
    """Where a form goes back to: its `next` field when it is a local URL, else the stocks page.

    The tracked job rides along as ?job=<id>, so the page shows its progress after the redirect.
    """
    target = request.POST.get("next") or reverse("stock-list")
    if not url_has_allowed_host_and_scheme(target, allowed_hosts={request.get_host()}):
        target = reverse("stock-list")
    target = target.split("#")[0]
    if job is None:
        return target
    path, _, query = target.partition("?")
    kept = [part for part in query.split("&") if part and not part.startswith("job=")]
    return f"{path}?{'&'.join([*kept, f'job={job.pk}'])}"


def started_message(job: AnalysisJob, created: bool) -> str:
    if created:
        return f"Analysis started. Job ID: {job.pk}"
    return f"Analysis already running for these stocks. Job ID: {job.pk} (Progress: {job.completed}/{job.total})"


@require_POST
def analyze(request):
    """Analyze Selected / Analyze All. A duplicate request is good news (the running job), never an error."""
    form = AnalyzeForm(request.POST)
    job = None
    if not form.is_valid():
        errors = "; ".join(f"{field}: {' '.join(errs)}" for field, errs in form.errors.items())
        messages.error(request, f"Analysis not started. {errors}")
    else:
        job = _request_job(request, form.cleaned_data, symbols=request.POST.getlist("symbols"))
    if is_htmx(request):
        return render(request, "jobs/_analysis_status.html", {"job": job})
    return redirect(_back_url(request, job))


def _request_job(request, data: dict, *, symbols: list[str]) -> AnalysisJob | None:
    if data["action"] == "selected" and not symbols:
        # An empty list means "every stock" to the service: never let an empty selection do that.
        messages.error(request, "Select at least one stock, or use Analyze All.")
        return None
    try:
        job, created = request_job_for_client(
            request=request,
            symbols=symbols if data["action"] == "selected" else None,
            capital=data["capital"],
            strategy_id=data["strategy"],
            requested_by=requested_by(request),
        )
    except ApplicationError as exc:
        messages.error(request, f"Analysis not started. {exc.message}")
        return None
    if created and job.status == JobStatus.FAILED:
        # The row exists but the broker refused it: say so instead of "started".
        messages.error(request, f"Analysis could not start. Job {job.pk}: {job.status_reason}")
        return job
    (messages.success if created else messages.info)(request, started_message(job, created))
    return job


@require_GET
def job_progress(request, job_id):
    """The progress fragment. While the job is active it polls itself; once finished it stops and,
    for an htmx poll, fires `job-finished` so the page refreshes its results."""
    job = _job_or_404(job_id)
    response = render(request, "jobs/_progress.html", {"job": job})
    if is_htmx(request) and not job.is_active:
        response["HX-Trigger"] = "job-finished"
    return response


@require_POST
def cancel(request, job_id):
    job = _job_or_404(job_id)
    try:
        ensure_may_manage_job(user=request.user, job=job, action="cancel")
        services.cancel_job(job_id=job.pk, reason="Cancelled from the job page", cancelled_by=requested_by(request))
    except ApplicationError as exc:
        messages.warning(request, exc.message)
    else:
        messages.success(request, f"Job {job.pk} cancelled.")
    return redirect("job-detail", job_id=job.pk)


@require_GET
def job_list(request):
    status = request.GET.get("status", "")
    status = status if status in JobStatus.values else ""
    mine = request.GET.get("mine") == "true"
    jobs = selectors.jobs_active_first(status=status or None)
    if mine:
        jobs = selectors.jobs_requested_by(jobs, user=request.user)
    page = Paginator(jobs, JOBS_PAGE_SIZE).get_page(request.GET.get("page"))
    context = {
        "page": page,
        "status": status,
        "mine": mine,
        "statuses": JobStatus.values,
        "any_active": any(job.is_active for job in page),
        "strategies": strategies.STRATEGIES,
    }
    return render(request, "jobs/job_list.html", context)


@require_GET
def job_detail(request, job_id):
    job = _job_or_404(job_id)
    verdict = request.GET.get("verdict", "")
    verdict = verdict if verdict in Verdict.values or verdict == "error" else ""
    sort = request.GET.get("sort", "-score")
    sort = sort if sort in RESULT_SORTS else "-score"
    results = selectors.job_results(job).order_by(*RESULT_SORTS[sort])
    if verdict == "error":
        results = results.exclude(error="")
    elif verdict:
        results = results.filter(verdict=verdict)
    context = {
        "job": job,
        "results": Paginator(results, RESULTS_PAGE_SIZE).get_page(request.GET.get("page")),
        "errors": selectors.job_errors(job),
        "verdict": verdict,
        "verdicts": Verdict.values,
        "sort": sort,
        "strategy": strategies.STRATEGIES.get(job.strategy_id),
        "heartbeat_age": selectors.heartbeat_age_seconds(job),
        "stale": selectors.is_stale(job),
    }
    return render(request, "jobs/job_detail.html", context)


def _attachment(response: HttpResponse, job: AnalysisJob, extension: str) -> HttpResponse:
    response["Content-Disposition"] = f'attachment; filename="thetool-job-{str(job.pk)[:8]}-results.{extension}"'
    return response


@require_GET
def export_csv(request, job_id):
    job = _job_or_404(job_id)
    response = StreamingHttpResponse(exports.csv_lines(job), content_type="text/csv; charset=utf-8")
    return _attachment(response, job, "csv")


@require_GET
def export_xlsx(request, job_id):
    job = _job_or_404(job_id)
    response = HttpResponse(exports.xlsx_bytes(job), content_type=exports.XLSX_CONTENT_TYPE)
    return _attachment(response, job, "xlsx")
