"""Server-rendered job pages: start an analysis, follow its progress, cancel it, read and export results.

Every form is a plain POST with CSRF protection that redirects with a message (works without
JavaScript). htmx requests (the `HX-Request` header) get an HTML fragment instead of a redirect,
so the page updates in place.
"""

from __future__ import annotations

import logging
from decimal import Decimal
from urllib.parse import urlsplit

from django import forms
from django.contrib import messages
from django.core.paginator import Paginator
from django.http import Http404, HttpResponse, QueryDict, StreamingHttpResponse
from django.shortcuts import redirect, render
from django.urls import Resolver404, resolve, reverse
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.http import require_GET, require_POST

from jobs import exports, selectors, services
from jobs.admission import request_job_for_client
from jobs.exceptions import InvalidJobId, JobNotEnqueued, JobNotFound
from jobs.models import AnalysisJob, JobStatus
from jobs.permissions import ensure_may_manage_job
from stocks import strategies
from stocks.models import Verdict
from thetool.exceptions import ApplicationError

logger = logging.getLogger("jobs")

JOBS_PAGE_SIZE = 25
RESULTS_PAGE_SIZE = 100

# Which page a cancel came from (the URL name its `next` field resolves to), for the job's record.
CANCEL_ORIGINS = {
    "stock-list": "the All stocks page",
    "stock-detail": "a stock page",
    "job-list": "the jobs list",
    "job-detail": "the job page",
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


def page_of_fragment(request, *, default: str) -> str:
    """The path of the page an htmx fragment is for (htmx sends it as HX-Current-URL), else `default`.

    A fragment's Cancel button returns to, and records, that page rather than the fragment's URL.
    """
    current = urlsplit(request.headers.get("HX-Current-URL", ""))
    if not current.path or (current.netloc and current.netloc != request.get_host()):
        return default
    return f"{current.path}?{current.query}" if current.query else current.path


def requested_by(request) -> str:
    user = request.user
    return f"page:{user.get_username() if user.is_authenticated else 'anonymous'}"


def _job_or_404(job_id) -> AnalysisJob:
    try:
        return selectors.get_job(job_id)
    except (JobNotFound, InvalidJobId) as exc:
        raise Http404(exc.message) from None


def _local_next(request, *, default: str) -> str:
    """The form's `next` field when it is a local URL (never another site), else `default`."""
    target = request.POST.get("next") or default
    if not url_has_allowed_host_and_scheme(target, allowed_hosts={request.get_host()}):
        return default
    return target.split("#")[0]


def _back_url(request, job: AnalysisJob | None, *, choices: dict | None = None) -> str:
    """Where the Analyze form goes back to: its local `next`, else the stocks page.

    The tracked job rides along as ?job=<id>, so the page shows its progress after the redirect,
    and so do the strategy and capital just used (`choices`), so a page without JavaScript keeps
    what the trader picked instead of falling back to the defaults.
    """
    path, _, query = _local_next(request, default=reverse("stock-list")).partition("?")
    params = QueryDict(query, mutable=True)
    for key, value in {**(choices or {}), **({"job": job.pk} if job else {})}.items():
        params[key] = str(value)
    encoded = params.urlencode(safe="/")
    return f"{path}?{encoded}" if encoded else path


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
        page_url = page_of_fragment(request, default=reverse("stock-list"))
        return render(request, "jobs/_analysis_status.html", {"job": job, "page_url": page_url})
    choices = {key: form.cleaned_data[key] for key in ("strategy", "capital")} if form.is_valid() else None
    return redirect(_back_url(request, job, choices=choices))


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
    try:
        selectors.check_job_enqueued(job=job)
    except JobNotEnqueued:
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
    page_url = page_of_fragment(request, default=reverse("job-detail", args=[job.pk]))
    response = render(request, "jobs/_progress.html", {"job": job, "page_url": page_url})
    if is_htmx(request) and not job.is_active:
        response["HX-Trigger"] = "job-finished"
    return response


def cancel_origin(path: str) -> str:
    """Which page a cancel was pressed on, named for the job's record ("a page" when unknown)."""
    try:
        name = resolve(path.partition("?")[0]).url_name
    except Resolver404:
        name = None
    return CANCEL_ORIGINS.get(name, "a page")


@require_POST
def cancel(request, job_id):
    """Cancel, then back to the page the button was on (its `next`), else the job page."""
    job = _job_or_404(job_id)
    back = _local_next(request, default=reverse("job-detail", args=[job.pk]))
    reason = f"Cancelled from {cancel_origin(back)}"
    try:
        ensure_may_manage_job(user=request.user, job=job, action="cancel")
        services.cancel_job(job_id=job.pk, reason=reason, cancelled_by=requested_by(request))
    except ApplicationError as exc:
        messages.warning(request, exc.message)
    else:
        messages.success(request, f"Job {job.pk} cancelled.")
    return redirect(back)


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
        "mine": mine,
        "status": status,
        "statuses": JobStatus.values,
        "any_active": any(job.is_active for job in page),
        "strategies": strategies.STRATEGIES,
    }
    return render(request, "jobs/job_list.html", context)


@require_GET
def job_detail(request, job_id):
    job = _job_or_404(job_id)
    verdict, sort = _result_view(request)
    results = selectors.filter_job_results(job=job, verdict=verdict, sort=sort)
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


def _result_view(request) -> tuple[str, str]:
    """The verdict filter and sort on the job page's query string (unknown values: none, default)."""
    verdict = request.GET.get("verdict", "")
    verdict = verdict if verdict in Verdict.values or verdict == selectors.FAILED_RESULTS else ""
    sort = request.GET.get("sort", selectors.DEFAULT_RESULT_SORT)
    return verdict, sort if sort in selectors.RESULT_SORTS else selectors.DEFAULT_RESULT_SORT


def _attachment(response: HttpResponse, job: AnalysisJob, extension: str) -> HttpResponse:
    response["Content-Disposition"] = f'attachment; filename="thetool-job-{str(job.pk)[:8]}-results.{extension}"'
    return response


@require_GET
def export_csv(request, job_id):
    job = _job_or_404(job_id)
    verdict, sort = _result_view(request)  # export what the page shows
    results = selectors.filter_job_results(job=job, verdict=verdict, sort=sort)
    response = StreamingHttpResponse(exports.csv_lines(results=results), content_type="text/csv; charset=utf-8")
    return _attachment(response, job, "csv")


@require_GET
def export_xlsx(request, job_id):
    job = _job_or_404(job_id)
    verdict, sort = _result_view(request)  # export what the page shows
    results = selectors.filter_job_results(job=job, verdict=verdict, sort=sort)
    response = HttpResponse(exports.xlsx_bytes(results=results), content_type=exports.XLSX_CONTENT_TYPE)
    return _attachment(response, job, "xlsx")
