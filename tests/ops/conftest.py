"""Factories for the operations tests: jobs in any state, registered workers and their reaper runs."""

import uuid
from datetime import timedelta
from decimal import Decimal

import pytest
from django.utils import timezone

from jobs.models import AnalysisJob, JobStatus, WorkerProcess


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


def record_reaper_run(*, seconds_ago: float = 5, seen_seconds_ago: float = 1, **fields) -> WorkerProcess:
    """A live worker in the registry whose reaper finished a pass `seconds_ago` (what `run_worker` writes)."""
    now = timezone.now()
    defaults = {
        "host": "worker-1",
        "pid": 1000 + WorkerProcess.objects.count(),
        "started_at": now - timedelta(seconds=max(seconds_ago, seen_seconds_ago) + 600),
        "last_seen_at": now - timedelta(seconds=seen_seconds_ago),
        "last_reap_at": now - timedelta(seconds=seconds_ago),
        "processes": 2,
    }
    return WorkerProcess.objects.create(**{**defaults, **fields})


@pytest.fixture
def demo_source(settings):
    settings.THETOOL_DATA_SOURCE = "demo"
