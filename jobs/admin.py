"""Operators' view of jobs: active ones first, stale ones marked, fixed only through actions."""

from django.contrib import admin, messages
from django.contrib.admin.utils import flatten_fieldsets
from django.urls import reverse
from django.utils import timezone
from django.utils.html import format_html, format_html_join

from jobs import execution, selectors, services
from jobs.models import AnalysisJob
from stocks.admin import StrategyFilter, strategy_name
from thetool.exceptions import ApplicationError


class StaleFilter(admin.SimpleListFilter):
    title = "worker health"
    parameter_name = "health"

    def lookups(self, request, model_admin):
        return [("stale", "Stale (no recent heartbeat)")]

    def queryset(self, request, queryset):
        if self.value() == "stale":
            return queryset.stale()
        return queryset


class MineFilter(admin.SimpleListFilter):
    title = "requested by"
    parameter_name = "mine"

    def lookups(self, request, model_admin):
        return [("true", "My jobs")]

    def queryset(self, request, queryset):
        if self.value() == "true":
            return selectors.jobs_requested_by(queryset, user=request.user)
        return queryset


@admin.register(AnalysisJob)
class AnalysisJobAdmin(admin.ModelAdmin):
    list_display = [
        "short_id",
        "kind",
        "status",
        "progress",
        "strategy",
        "created",
        "heartbeat",
        "duplicates",
        "requested_by",
    ]
    list_filter = ["status", "kind", MineFilter, StaleFilter, StrategyFilter, "data_source", "is_all_stocks"]
    search_fields = ["id", "symbols", "requested_by", "requested_by_user__username"]
    list_per_page = 50
    actions = ["cancel_jobs", "recover_jobs_now", "rerun_jobs"]
    fieldsets = [
        (None, {"fields": ["id", "kind", "status", "status_reason", "progress", "errors", "results_link"]}),
        (
            "Analysis",
            {
                "fields": [
                    "symbol_list",
                    "total",
                    "strategy_id",
                    "capital",
                    "risk_percent",
                    "max_position_percent",
                    "data_source",
                    "is_all_stocks",
                    "analysis_key",
                ]
            },
        ),
        (
            "Execution",
            {
                "fields": [
                    "attempt",
                    "enqueued",
                    "enqueued_at",
                    "task_id",
                    "heartbeat",
                    "started_at",
                    "finished_at",
                    "created_at",
                ]
            },
        ),
        (
            "Requests",
            {"fields": ["requested_by_user", "requested_by", "duplicate_count", "last_duplicate_at", "superseded_by"]},
        ),
    ]
    # Everything shown is read-only: jobs change only through the actions.
    readonly_fields = flatten_fieldsets(fieldsets)

    def get_ordering(self, request):
        # The changelist sorts by this (by default the model's -created_at, which silently undid an
        # active-first get_queryset); a click on a column header still overrides it.
        return selectors.active_first_ordering()

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        # Read-only: every change goes through an action (cancel, recover now, re-run).
        return False

    # Each action needs its own model permission (jobs.cancel_analysisjob, ...), granted per staff
    # user or group; superusers have them all. Django hides an action its user may not run.
    def has_cancel_permission(self, request):
        return request.user.has_perm("jobs.cancel_analysisjob")

    def has_recover_permission(self, request):
        return request.user.has_perm("jobs.recover_analysisjob")

    def has_rerun_permission(self, request):
        return request.user.has_perm("jobs.rerun_analysisjob")

    @admin.display(description="Job")
    def short_id(self, job):
        return str(job.pk)[:8]

    @admin.display(description="Progress")
    def progress(self, job):
        return format_html(
            '<span title="{}%" style="white-space:nowrap"><progress max="{}" value="{}" style="width:6em">'
            "</progress> {}/{}</span>",
            job.progress_percent,
            job.total or 1,
            job.completed,
            job.completed,
            job.total,
        )

    @admin.display(description="Strategy", ordering="strategy_id")
    def strategy(self, job):
        return strategy_name(job.strategy_id)

    @admin.display(description="Created (IST)", ordering="created_at")
    def created(self, job):
        """When, and how long ago: a queued job's wait reads at a glance."""
        seconds = int((timezone.now() - job.created_at).total_seconds())
        return format_html(
            '<span style="white-space:nowrap">{} · {} ago</span>',
            timezone.localtime(job.created_at).strftime("%d %b %H:%M"),
            _duration(seconds),
        )

    @admin.display(description="Duplicates", ordering="duplicate_count")
    def duplicates(self, job):
        return job.duplicate_count

    @admin.display(description="Heartbeat")
    def heartbeat(self, job):
        if not job.is_active:
            return "—"
        age = selectors.heartbeat_age_seconds(job)
        text = "never" if age is None else f"{_duration(age)} ago"
        if selectors.is_stale(job):
            return format_html('<strong style="color:#b00">STALE: {}</strong>', text)
        return text

    @admin.display(description="Symbols")
    def symbol_list(self, job):
        shown = ", ".join(job.symbols[:200])
        more = f" … and {job.total - 200} more" if job.total > 200 else ""
        return f"{shown}{more}"

    @admin.display(description="Errors per symbol")
    def errors(self, job):
        rows = selectors.job_errors(job)
        if not rows:
            return "none"
        return format_html(
            "<ul>{}</ul>", format_html_join("", "<li><b>{}</b>: {}</li>", ((r["symbol"], r["error"]) for r in rows))
        )

    @admin.display(description="Results")
    def results_link(self, job):
        url = reverse("admin:stocks_analysisresult_changelist") + f"?job__id__exact={job.pk}"
        return format_html('<a href="{}">{} results</a>', url, job.completed)

    @admin.action(description="Cancel selected jobs", permissions=["cancel"])
    def cancel_jobs(self, request, queryset):
        done = 0
        for job in queryset:
            try:
                services.cancel_job(job_id=job.pk, cancelled_by=f"admin:{request.user.get_username()}")
                done += 1
            except ApplicationError as exc:
                self.message_user(request, exc.message, messages.WARNING)
        if done:
            self.message_user(request, f"Cancelled {done} job(s).", messages.SUCCESS)

    @admin.action(description="Recover selected stale jobs now", permissions=["recover"])
    def recover_jobs_now(self, request, queryset):
        report = execution.recover_stale_jobs(job_ids=list(queryset.values_list("pk", flat=True)))
        self.message_user(request, f"Recovery: {report}.", messages.INFO)

    @admin.action(description="Re-run selected jobs (forced new job)", permissions=["rerun"])
    def rerun_jobs(self, request, queryset):
        for job in queryset:
            try:
                new_job = services.rerun_job(
                    job_id=job.pk, requested_by=f"admin:{request.user.get_username()}", requested_by_user=request.user
                )
                self.message_user(request, f"Job {job.pk} re-run as {new_job.pk}.", messages.SUCCESS)
            except ApplicationError as exc:
                self.message_user(request, f"Job {job.pk}: {exc.message}", messages.ERROR)


def _duration(seconds: int) -> str:
    if seconds < 120:
        return f"{seconds}s"
    if seconds < 7200:
        return f"{seconds // 60}m"
    if seconds < 172800:
        return f"{seconds // 3600}h"
    return f"{seconds // 86400}d"
