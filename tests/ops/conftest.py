"""Factories for the operations tests: jobs in any state, reaper runs, results."""

import uuid
from datetime import timedelta
from decimal import Decimal

import pytest
from django.utils import timezone
from django_q.models import Task

from jobs.models import AnalysisJob, JobStatus
from jobs.ops import REAPER_FUNC


def make_job(*, status=JobStatus.QUEUED, age_seconds: float = 0, symbols=("RELIANCE.NS",), **fields) -> AnalysisJob:
    """A job created `age_seconds` ago; timestamps that Django sets itself are moved with an UPDATE."""
    now = timezone.now()
    created_at = now - timedelta(seconds=age_seconds)
    job = AnalysisJob.objects.create(
        analysis_key=fields.pop("analysis_key", uuid.uuid4().hex),
        status=status,
        symbols=list(symbols),
        total=fields.pop("total", len(symbols)),
        capital=Decimal("100000"),
        risk_percent=Decimal("2"),
        data_source="demo",
        **fields,
    )
    AnalysisJob.objects.filter(pk=job.pk).update(created_at=created_at)
    job.refresh_from_db()
    return job


def record_reaper_run(*, seconds_ago: float = 5) -> Task:
    """What a cluster leaves behind when its scheduler runs the stale-job reaper."""
    stopped = timezone.now() - timedelta(seconds=seconds_ago)
    return Task.objects.create(
        id=uuid.uuid4().hex,
        name="reaper",
        func=REAPER_FUNC,
        started=stopped - timedelta(seconds=0.1),
        stopped=stopped,
        success=True,
    )


@pytest.fixture
def demo_source(settings):
    settings.THETOOL_DATA_SOURCE = "demo"
