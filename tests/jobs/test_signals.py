"""jobs tells the apps built on it what happened (jobs.signals, jobs.kinds) without importing them."""

import threading
from unittest import mock

import pytest

from jobs import execution, kinds, signals, tasks, worker
from jobs.models import AnalysisJob, JobKind, JobStatus
from tests.factories import make_job

pytestmark = pytest.mark.django_db


def test_every_reaper_tick_runs_each_duty_and_a_failing_one_does_not_stop_the_others(settings, caplog):
    settings.THETOOL_REAPER_INTERVAL_SECONDS = 0.05
    ran = threading.Event()

    def broken(sender, **kwargs):
        raise RuntimeError("scan table locked")

    def healthy(sender, **kwargs):
        ran.set()

    supervisor = worker.WorkerSupervisor()
    signals.worker_tick.connect(broken, weak=False, dispatch_uid="test-broken")
    signals.worker_tick.connect(healthy, weak=False, dispatch_uid="test-healthy")
    try:
        with (
            mock.patch.object(execution, "recover_stale_jobs"),
            mock.patch.object(worker, "refresh_quotes") as refresh_quotes,
            mock.patch.object(worker.WorkerSupervisor, "_register", return_value=None),
            mock.patch.object(worker.WorkerSupervisor, "_report_seen", return_value=None),
        ):
            thread = threading.Thread(target=supervisor._reap_forever)
            thread.start()
            assert ran.wait(timeout=10), "the healthy duty never ran"
            supervisor.reaper_stop.set()
            thread.join(timeout=10)
    finally:
        signals.worker_tick.disconnect(dispatch_uid="test-broken")
        signals.worker_tick.disconnect(dispatch_uid="test-healthy")
    assert refresh_quotes.called
    assert "failed" in caplog.text and "scan table locked" in caplog.text


def test_end_of_day_scans_listen_to_the_worker_tick():
    with mock.patch("watchlists.services.run_due_scans") as run_due_scans:
        signals.worker_tick.send(sender=worker.WorkerSupervisor)

    run_due_scans.assert_called_once_with()


def test_a_completed_job_is_announced_once_and_alerts_enqueue_their_check():
    job = make_job(["TCS.NS"])
    attempt = execution.claim_job(job_id=job.pk)
    heard = []

    def listener(sender, *, job_id, **kwargs):
        heard.append(job_id)

    signals.job_completed.connect(listener, weak=False, dispatch_uid="test-listener")
    try:
        with mock.patch("alerts.services.enqueue_job_completed") as enqueue:
            assert execution.execute_job(job_id=job.pk, attempt=attempt) == "completed"
    finally:
        signals.job_completed.disconnect(dispatch_uid="test-listener")
    assert heard == [job.pk]
    enqueue.assert_called_once_with(job_id=job.pk)


def test_a_job_of_a_kind_nobody_registered_fails_with_the_reason(monkeypatch):
    job = make_job(["TCS.NS"])
    AnalysisJob.objects.filter(pk=job.pk).update(kind=JobKind.BACKTEST)
    monkeypatch.setattr(kinds, "_executors", {})

    assert tasks.run_analysis_job(str(job.pk)) == "failed"

    job.refresh_from_db()
    assert (
        job.status == JobStatus.FAILED and "No executor is registered for jobs of kind 'backtest'" in job.status_reason
    )


def test_backtests_register_the_executor_of_their_kind():
    from backtests.execution import execute_backtest

    assert kinds.executor_for(JobKind.BACKTEST) is execute_backtest
