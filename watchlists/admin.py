from django.contrib import admin

from watchlists.models import SavedScreen, ScanRun, ScheduledScan, Watchlist, WatchlistItem


class WatchlistItemInline(admin.TabularInline):
    model = WatchlistItem
    raw_id_fields = ["stock"]
    extra = 0


@admin.register(Watchlist)
class WatchlistAdmin(admin.ModelAdmin):
    list_display = ["name", "owner", "updated_at"]
    search_fields = ["name", "owner__username"]
    inlines = [WatchlistItemInline]


@admin.register(SavedScreen)
class SavedScreenAdmin(admin.ModelAdmin):
    list_display = ["name", "owner", "query", "updated_at"]
    search_fields = ["name", "owner__username"]


class ScanRunInline(admin.TabularInline):
    model = ScanRun
    fields = ["session", "job", "joined_running_job", "created_at"]
    readonly_fields = fields
    extra = 0
    can_delete = False


@admin.register(ScheduledScan)
class ScheduledScanAdmin(admin.ModelAdmin):
    list_display = ["name", "owner", "target", "strategy_id", "run_at", "next_run_at", "enabled", "last_error"]
    list_filter = ["enabled", "target"]
    raw_id_fields = ["watchlist", "saved_screen", "last_job"]
    inlines = [ScanRunInline]
