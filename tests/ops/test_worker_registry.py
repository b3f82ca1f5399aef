"""The worker registry with a real `run_worker`: /readyz turns ready from its row, and the row says when it stopped."""

import os
import socket

import pytest
from django.test import Client

from jobs.models import WorkerProcess
from tests.cluster import running_cluster, wait_for

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.cluster]


def readyz_status() -> int:
    return Client().get("/readyz").status_code


def test_readyz_turns_ready_when_a_real_worker_registers_and_reaps(settings):
    settings.THETOOL_WORKER_ALIVE_SECONDS = 30
    assert readyz_status() == 503, "no worker yet"

    with running_cluster("registry", THETOOL_REAPER_INTERVAL_SECONDS=0.5, THETOOL_Q_WORKERS=1) as cluster:
        row = wait_for(
            lambda: WorkerProcess.objects.filter(pid=cluster.process.pid, last_reap_at__isnull=False).first(),
            timeout=60,
            message=lambda: f"the worker's row with a reaper pass\n{cluster.log()[-3000:]}",
        )
        assert (row.host, row.processes, row.stopped_at) == (socket.gethostname(), 1, None)
        assert row.started_at <= row.last_seen_at
        wait_for(lambda: readyz_status() == 200, timeout=30, message="/readyz to turn ready")
        body = Client().get("/readyz").json()
        assert body["cluster"]["workers_alive"] == 1
        assert body["cluster"]["reaper_last_run_age_seconds"] is not None

        seen = row.last_seen_at
        wait_for(
            lambda: WorkerProcess.objects.get(pk=row.pk).last_seen_at > seen,
            timeout=30,
            message="a later tick to update the row",
        )
        cluster.signal_main()
        cluster.process.wait(timeout=30)

    stopped = WorkerProcess.objects.get(pk=row.pk)
    assert stopped.stopped_at is not None, cluster.log()[-3000:]
    assert readyz_status() == 503, "a stopped worker is not a live one"
    assert stopped.pid != os.getpid()
