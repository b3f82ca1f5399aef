"""Retention of analysis results: every result for N days, then one per stock, strategy and period.

Daily scans add ~2,200 rows per strategy per trading day. Old history keeps its shape at a coarser
grain: past `keep_days`, each (symbol, strategy) keeps its newest result of every week (or month),
so the stock history and the backtest still read a series. Never deleted: results of active jobs
(a worker is still writing them) and results a LatestResult row points to (the page's "latest").
Periods are weeks or months of the Asia/Kolkata calendar, the market's own.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from stocks.models import AnalysisResult, LatestResult

logger = logging.getLogger(__name__)

THIN_TO_CHOICES = ("week", "month")


@dataclass
class ThinReport:
    cutoff: str
    thin_to: str
    dry_run: bool
    symbols: int = 0
    examined: int = 0
    deleted: int = 0


def _period_of(created_at: datetime, *, thin_to: str) -> tuple[int, int]:
    day = timezone.localtime(created_at).date()
    if thin_to == "week":
        year, week, _ = day.isocalendar()
        return year, week
    return day.year, day.month


def _deletable() -> Q:
    """Results a thinning may delete: no active job, and not any stock's latest."""
    # The job model through the results' own foreign key: stocks does not import the jobs app above it.
    jobs = AnalysisResult._meta.get_field("job").related_model
    return (Q(job__isnull=True) | Q(job__in=jobs.objects.finished())) & ~Q(
        pk__in=LatestResult.objects.values("result_id")
    )


def _surplus_ids(*, symbol: str, cutoff: datetime, thin_to: str) -> tuple[int, list[int]]:
    """(rows examined, ids to delete) of one symbol: all but the newest of each strategy and period."""
    rows = (
        AnalysisResult.objects.filter(symbol=symbol, created_at__lt=cutoff)
        .order_by("-created_at", "-id")
        .values_list("pk", "strategy_id", "created_at")
    )
    seen: set[tuple] = set()
    surplus = []
    examined = 0
    for pk, strategy_id, created_at in rows.iterator(chunk_size=2000):
        examined += 1
        key = (strategy_id, *_period_of(created_at, thin_to=thin_to))
        if key in seen:
            surplus.append(pk)
        else:
            seen.add(key)  # the newest of its period: kept
    return examined, surplus


def thin_results(
    *, keep_days: int, thin_to: str, now: datetime | None = None, dry_run: bool = False, batch_size: int = 1000
) -> ThinReport:
    """Delete results older than `keep_days` except the newest per symbol, strategy and `thin_to` period.

    Idempotent (a second run deletes nothing) and resumable: each symbol is thinned in its own
    short transactions (SQLite holds the write lock for a transaction's length), and every DELETE
    repeats the "no active job, not a latest" condition, so a job or pointer that changes meanwhile
    is left alone. `dry_run` counts what would go.
    """
    if thin_to not in THIN_TO_CHOICES:
        raise ValueError(f"thin_to must be one of {THIN_TO_CHOICES}, got {thin_to!r}")
    cutoff = (now or timezone.now()) - timedelta(days=keep_days)
    report = ThinReport(cutoff=cutoff.isoformat(timespec="seconds"), thin_to=thin_to, dry_run=dry_run)
    symbols = (
        AnalysisResult.objects.filter(created_at__lt=cutoff).values_list("symbol", flat=True).distinct().order_by()
    )
    for symbol in sorted(set(symbols)):
        examined, surplus = _surplus_ids(symbol=symbol, cutoff=cutoff, thin_to=thin_to)
        report.symbols += 1
        report.examined += examined
        for start in range(0, len(surplus), batch_size):
            doomed = AnalysisResult.objects.filter(_deletable(), pk__in=surplus[start : start + batch_size])
            if dry_run:
                report.deleted += doomed.count()
                continue
            with transaction.atomic():
                deleted, _ = doomed.delete()
            report.deleted += deleted
    logger.info("Thinned results older than %s to one per %s: deleted %d", report.cutoff, thin_to, report.deleted)
    return report
