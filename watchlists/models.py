"""A trader's daily loop: watchlists, saved screens and the end-of-day scans that analyse them.

Watchlists and saved screens belong to one account (sign-in is required for them, even with open
access: an anonymous list would belong to nobody). Scans run ordinary analysis jobs, so the jobs'
deduplication applies; what changed is read from the stored results (watchlists.selectors).
"""

import uuid
from datetime import time

from django.conf import settings
from django.db import models
from django.db.models import Q

DEFAULT_SCAN_TIME = time(16, 15)  # IST, 45 minutes after NSE's 15:30 close: the day's bar is final


class Watchlist(models.Model):
    owner = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="watchlists")
    name = models.CharField(max_length=100)
    stocks = models.ManyToManyField("stocks.Stock", through="WatchlistItem", related_name="watchlists")
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["name", "id"]
        constraints = [
            # A user tells lists apart by name: two "Banks" lists would be ambiguous on every page.
            models.UniqueConstraint(fields=["owner", "name"], name="watchlist_name_per_owner"),
        ]

    def __str__(self):
        return self.name


class WatchlistItem(models.Model):
    watchlist = models.ForeignKey(Watchlist, on_delete=models.CASCADE, related_name="items")
    stock = models.ForeignKey("stocks.Stock", on_delete=models.CASCADE, related_name="+")
    added_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["stock__symbol"]
        constraints = [
            # Adding a stock twice (two tabs, a retried request) keeps one row.
            models.UniqueConstraint(fields=["watchlist", "stock"], name="watchlist_stock_once"),
        ]

    def __str__(self):
        return f"{self.watchlist_id}: {self.stock_id}"


class SavedScreen(models.Model):
    """A named screener query string ("verdict=Buy&rsi_max=40"), reopened at /?<query>.

    Anyone with the share link (its `share_token`) may read it; only its owner changes it.
    """

    owner = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="saved_screens")
    name = models.CharField(max_length=100)
    query = models.CharField(max_length=2000, blank=True, help_text="The screener's query string, without '?'")
    share_token = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["name", "id"]
        constraints = [models.UniqueConstraint(fields=["owner", "name"], name="saved_screen_name_per_owner")]

    def __str__(self):
        return self.name


class ScanTarget(models.TextChoices):
    WATCHLIST = "watchlist", "A watchlist"
    SCREEN = "screen", "A saved screen"
    UNIVERSE = "universe", "Every active stock"


class ScheduledScan(models.Model):
    """Analyse a watchlist, a saved screen or the universe after the close of every NSE session.

    `next_run_at` (UTC) is the next session's close-plus-`run_at` moment from the NSE calendar, so
    weekends and holidays are never due. The due-scan runner claims a scan by moving `next_run_at`
    forward with a conditional UPDATE: of two workers only the one whose UPDATE matched fires it.
    """

    owner = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="scheduled_scans")
    name = models.CharField(max_length=100)
    target = models.CharField(max_length=10, choices=ScanTarget.choices)
    watchlist = models.ForeignKey(Watchlist, null=True, blank=True, on_delete=models.CASCADE, related_name="scans")
    saved_screen = models.ForeignKey(SavedScreen, null=True, blank=True, on_delete=models.CASCADE, related_name="scans")
    strategy_id = models.PositiveSmallIntegerField(default=1)
    run_at = models.TimeField(default=DEFAULT_SCAN_TIME, help_text="Asia/Kolkata time on each NSE session day")
    enabled = models.BooleanField(default=True)
    next_run_at = models.DateTimeField(db_index=True, help_text="UTC; on an NSE session day")
    last_run_at = models.DateTimeField(null=True, blank=True)
    last_job = models.ForeignKey("jobs.AnalysisJob", null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    last_error = models.TextField(blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["next_run_at", "id"]
        constraints = [
            # The target names exactly the one thing it scans.
            models.CheckConstraint(
                condition=(
                    Q(target="watchlist", watchlist__isnull=False, saved_screen__isnull=True)
                    | Q(target="screen", watchlist__isnull=True, saved_screen__isnull=False)
                    | Q(target="universe", watchlist__isnull=True, saved_screen__isnull=True)
                ),
                name="scan_target_matches",
            ),
        ]

    def __str__(self):
        return self.name


class ScanRun(models.Model):
    """One firing of a scan: the session it was for and the job it ran (or joined)."""

    scan = models.ForeignKey(ScheduledScan, on_delete=models.CASCADE, related_name="runs")
    session = models.DateField(help_text="The NSE session whose close the scan analysed")
    job = models.ForeignKey("jobs.AnalysisJob", null=True, on_delete=models.SET_NULL, related_name="+")
    joined_running_job = models.BooleanField(default=False)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            # Belt and braces under the runner's claim: a scan fires once per session.
            models.UniqueConstraint(fields=["scan", "session"], name="scan_run_once_per_session"),
        ]

    def __str__(self):
        return f"scan {self.scan_id} for {self.session}"
