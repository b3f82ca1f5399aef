"""Writes that keep the job tables small: pruning old finished jobs and their results (a service)."""

import logging
import re
from dataclasses import dataclass
from datetime import timedelta

from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from jobs.models import FINISHED_STATUSES, AnalysisJob
from stocks.models import AnalysisResult, LatestResult
from stocks.services import refresh_latest_results

logger = logging.getLogger("jobs")

_AGE = re.compile(r"^\s*(\d+)\s*([hdw])\s*$")
_UNIT = {"h": "hours", "d": "days", "w": "weeks"}


def parse_age(*, text: str) -> timedelta:
    """'90d', '12h' or '4w' as a timedelta; ValueError for anything else (or zero)."""
    match = _AGE.match(text or "")
    if not match or int(match.group(1)) == 0:
        raise ValueError(f"{text!r} is not an age like 90d, 12h or 4w")
    return timedelta(**{_UNIT[match.group(2)]: int(match.group(1))})


@dataclass
class PruneReport:
    cutoff: str
    jobs: int = 0
    results: int = 0
    dry_run: bool = False

    def __str__(self) -> str:
        verb = "Would delete" if self.dry_run else "Deleted"
        return f"{verb} {self.jobs} finished job(s) and {self.results} result(s) finished before {self.cutoff}"


def _old_finished_jobs(*, cutoff):
    # A finished job always has finished_at; created_at is the fallback for rows written before it existed.
    ended_before = Q(finished_at__lt=cutoff) | Q(finished_at__isnull=True, created_at__lt=cutoff)
    return AnalysisJob.objects.filter(ended_before, status__in=FINISHED_STATUSES)


def prune_finished_jobs(*, older_than: timedelta, dry_run: bool = False, batch_size: int = 1000) -> PruneReport:
    """Delete finished jobs (and their results) that ended more than `older_than` ago, in batches.

    Never an active job: the status is part of every DELETE's condition, so a job that a forced
    request or the reaper touches meanwhile is left alone. Each batch is its own short transaction
    (SQLite holds the write lock for a transaction's length).
    """
    cutoff = timezone.now() - older_than
    report = PruneReport(cutoff=cutoff.isoformat(timespec="seconds"), dry_run=dry_run)
    old = _old_finished_jobs(cutoff=cutoff)
    if dry_run:
        report.jobs = old.count()
        report.results = AnalysisResult.objects.filter(job__in=old).count()
        return report
    while True:
        ids = list(old.order_by("created_at").values_list("pk", flat=True)[:batch_size])
        if not ids:
            break
        with transaction.atomic():
            # Stocks whose latest result goes with these jobs fall back to their newest remaining one.
            orphaned = list(LatestResult.objects.filter(result__job_id__in=ids).values_list("stock_id", flat=True))
            results, _ = AnalysisResult.objects.filter(job_id__in=ids, job__status__in=FINISHED_STATUSES).delete()
            # Jobs superseded by these keep their row; their superseded_by becomes null (SET_NULL).
            jobs, _ = AnalysisJob.objects.filter(pk__in=ids, status__in=FINISHED_STATUSES).delete()
            refresh_latest_results(symbols=orphaned)
        report.results += results
        report.jobs += jobs
        logger.info("Pruned %d jobs and %d results (batch of %d)", jobs, results, len(ids))
    return report
