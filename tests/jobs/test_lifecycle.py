"""One home for each rule: the lifecycle table drives every status change; one definition of "stale"."""

from datetime import timedelta
from itertools import product

import pytest
from django.core import checks
from django.utils import timezone

from jobs.exceptions import InvalidJobTransition
from jobs.models import ALLOWED_TRANSITIONS, AnalysisJob, JobStatus
from tests.factories import make_job

pytestmark = pytest.mark.django_db

PAIRS = list(product(JobStatus.values, JobStatus.values))


@pytest.mark.parametrize(("source", "target"), PAIRS, ids=[f"{s}->{t}" for s, t in PAIRS])
def test_transition_changes_a_status_exactly_when_the_table_allows_it(source, target):
    job = make_job(["TCS.NS"], status=source)
    changed = AnalysisJob.objects.filter(pk=job.pk).transition(to=target, status_reason="moved")
    job.refresh_from_db()
    allowed = target in ALLOWED_TRANSITIONS[JobStatus(source)]
    assert changed == (1 if allowed else 0)
    assert (job.status, job.status_reason) == ((target, "moved") if allowed else (source, ""))


def test_a_status_that_nothing_may_reach_is_a_named_error(monkeypatch):
    monkeypatch.setitem(ALLOWED_TRANSITIONS, JobStatus.QUEUED, {JobStatus.PROCESSING})
    monkeypatch.setitem(ALLOWED_TRANSITIONS, JobStatus.PROCESSING, {JobStatus.COMPLETED})
    with pytest.raises(InvalidJobTransition):
        AnalysisJob.objects.transition(to=JobStatus.CANCELLED)


def test_a_new_edge_in_the_table_is_all_it_takes(monkeypatch):
    job = make_job(["TCS.NS"], status=JobStatus.FAILED)
    assert AnalysisJob.objects.filter(pk=job.pk).transition(to=JobStatus.QUEUED) == 0
    monkeypatch.setitem(ALLOWED_TRANSITIONS, JobStatus.FAILED, {JobStatus.QUEUED})
    assert AnalysisJob.objects.filter(pk=job.pk).transition(to=JobStatus.QUEUED) == 1


STALE_CASES = {
    # name: (status, heartbeat age, enqueued age, created age) in seconds; None = never
    "processing, fresh heartbeat": (JobStatus.PROCESSING, 10, 500, 500),
    "processing, heartbeat just past the limit": (JobStatus.PROCESSING, 61, 500, 500),
    "queued, never handed to the broker, young": (JobStatus.QUEUED, None, None, 30),
    "queued, never handed to the broker, old": (JobStatus.QUEUED, None, None, 500),
    "queued, handed to the broker again just now": (JobStatus.QUEUED, None, 5, 500),
    "completed long ago": (JobStatus.COMPLETED, 500, 500, 500),
}


@pytest.mark.parametrize("case", list(STALE_CASES))
def test_the_stale_property_and_the_stale_queryset_agree(case, settings):
    settings.THETOOL_JOB_STALE_SECONDS = 60
    status, beat, enqueued, created = STALE_CASES[case]
    now = timezone.now()

    def ago(seconds):
        return None if seconds is None else now - timedelta(seconds=seconds)

    job = make_job(["TCS.NS"], status=status, heartbeat_at=ago(beat), enqueued_at=ago(enqueued))
    AnalysisJob.objects.filter(pk=job.pk).update(created_at=ago(created))
    job.refresh_from_db()
    in_queryset = AnalysisJob.objects.stale(now=now).filter(pk=job.pk).exists()
    expected = case in (
        "processing, heartbeat just past the limit",
        "queued, never handed to the broker, old",
    )
    assert job.is_stale_at(now=now) is in_queryset is expected


def run_job_checks():
    return [m for m in checks.run_checks() if m.id.startswith("jobs.")]


def test_a_stale_limit_shorter_than_the_worst_gap_between_heartbeats_is_refused(settings):
    settings.THETOOL_JOB_STALE_SECONDS = 30
    settings.THETOOL_JOB_HEARTBEAT_SECONDS = 20
    assert [m.id for m in run_job_checks()] == ["jobs.E003"]
    settings.THETOOL_JOB_HEARTBEAT_SECONDS = 15
    assert run_job_checks() == []


def test_the_default_heartbeat_is_a_quarter_of_the_stale_limit_and_passes(settings):
    settings.THETOOL_JOB_STALE_SECONDS = 60
    settings.THETOOL_JOB_HEARTBEAT_SECONDS = 0
    assert run_job_checks() == []


def test_a_reaper_slower_than_the_recovery_promise_is_warned_about(settings):
    settings.THETOOL_REAPER_INTERVAL_SECONDS = 30
    settings.THETOOL_WORKER_ALIVE_SECONDS = 90  # outlasts two ticks (jobs.E004)
    assert [m.id for m in run_job_checks()] == ["jobs.W002"]


def test_the_django_q_checks_still_refuse_redelivery_of_a_running_task(settings):
    settings.Q_CLUSTER = {**settings.Q_CLUSTER, "timeout": 600, "retry": 300, "max_attempts": 0}
    assert {m.id for m in run_job_checks()} >= {"jobs.E001", "jobs.E002"}
