"""Admin for the universe (editable) and for results and cached prices (read-only records)."""

import json

from django.contrib import admin
from django.urls import reverse
from django.utils.html import format_html

from stocks.models import AnalysisResult, PriceCache, Stock
from stocks.strategies import STRATEGIES
from stocks.templatetags.thetool_pages import signed


@admin.register(Stock)
class StockAdmin(admin.ModelAdmin):
    list_display = ("symbol", "yahoo_symbol", "name", "series", "is_active")
    list_filter = ("is_active", "series")
    search_fields = ("symbol", "yahoo_symbol", "name")
    list_per_page = 100
    readonly_fields = ("created_at", "updated_at")


class ReadOnlyAdmin(admin.ModelAdmin):
    """Records written by the system: viewable by staff, never added or edited by hand.

    Deleting stays possible for superusers (to clear bad or old data).
    """

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return request.user.is_superuser


class StrategyFilter(admin.SimpleListFilter):
    """By strategy name (the column holds only its id)."""

    title = "strategy"
    parameter_name = "strategy"

    def lookups(self, request, model_admin):
        return [(str(strategy.id), strategy.name) for strategy in STRATEGIES.values()]

    def queryset(self, request, queryset):
        if self.value() in {str(key) for key in STRATEGIES}:
            return queryset.filter(strategy_id=int(self.value()))
        return queryset


def strategy_name(strategy_id: int) -> str:
    strategy = STRATEGIES.get(strategy_id)
    return strategy.name if strategy else str(strategy_id)


@admin.register(AnalysisResult)
class AnalysisResultAdmin(ReadOnlyAdmin):
    list_display = (
        "symbol",
        "verdict",
        "signed_score",
        "strategy",
        "entry",
        "stop_loss",
        "target",
        "job_link",
        "data_source",
        "data_as_of",
        "created_at",
    )
    list_filter = ("verdict", StrategyFilter, "data_source")
    # "job__id" lets staff paste a job id from a log line or the API into the search box.
    search_fields = ("symbol", "job__id")
    date_hierarchy = "created_at"
    list_per_page = 100
    # The packed columns are bytes and compact JSON; staff read them unpacked.
    exclude = ("packed_readings", "packed_provenance")
    readonly_fields = ("indicator_readings", "data_provenance")

    @admin.display(description="Score", ordering="score")
    def signed_score(self, result):
        return (
            signed(result.score) if result.error == "" else format_html('<span title="{}">failed</span>', result.error)
        )

    @admin.display(description="Data as of", ordering="last_bar")
    def data_as_of(self, result):
        """The last bar's date, then the data-quality flags as the pages label them (details as tooltip)."""
        notes = result.data_notes
        if not notes:
            return result.last_bar or "-"
        return format_html(
            '{} <strong title="{}">{}</strong>',
            result.last_bar or "-",
            " ".join(note.detail for note in notes),
            "; ".join(note.label for note in notes),
        )

    @admin.display(description="Strategy", ordering="strategy_id")
    def strategy(self, result):
        return strategy_name(result.strategy_id)

    @admin.display(description="Indicators")
    def indicator_readings(self, result):
        return json.dumps(result.indicators, indent=1)

    @admin.display(description="Provenance")
    def data_provenance(self, result):
        return json.dumps(result.provenance, indent=1)

    @admin.display(description="Job", ordering="job")
    def job_link(self, result):
        if result.job_id is None:
            return "-"
        label = str(result.job_id)[:8]
        if not admin.site.is_registered(result._meta.get_field("job").related_model):
            return label
        return format_html('<a href="{}">{}</a>', reverse("admin:jobs_analysisjob_change", args=[result.job_id]), label)


@admin.register(PriceCache)
class PriceCacheAdmin(ReadOnlyAdmin):
    list_display = ("symbol", "source", "fetched_on", "bar_count", "first_bar", "last_bar", "fetched_at")
    list_filter = ("source", "fetched_on")
    search_fields = ("symbol",)
    # The bars themselves are hundreds of numbers: left out of the page on purpose.
    fields = ("symbol", "source", "fetched_on", "bar_count", "first_bar", "last_bar", "fetched_at", "created_at")
    list_per_page = 100
