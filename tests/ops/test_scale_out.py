"""Scale-out, for real: 2 gunicorn instances + 2 workers (`manage.py run_worker`) on one PostgreSQL database.

200 concurrent requests from 20 separate processes, over 20 symbol sets, spread over both
instances, while no worker runs (the workers start after the storm, so every job stays active):
exactly 20 jobs, 20 answers 201 and 180 answers 200 with the same job ids, no 5xx. Then two
workers run the jobs to completion, each symbol is stored once, /readyz on either instance counts
both workers from the registry, and /metrics and the dashboard report 20 created and 180 duplicates.
"""

import json
import multiprocessing
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections import Counter, defaultdict
from contextlib import ExitStack, contextmanager
from pathlib import Path

import pytest
from django.conf import settings
from django.contrib.auth.models import User
from django.test import Client

from jobs.models import AnalysisJob, JobStatus
from stocks.models import AnalysisResult
from tests.cluster import LOG_DIR, cluster_env, running_cluster, wait_for
from tests.conftest import require_service

pytestmark = [pytest.mark.postgres, pytest.mark.cluster, pytest.mark.django_db(transaction=True)]

SETS = 20
CLIENT_PROCESSES = 20
REQUESTS_PER_PROCESS = 10  # 20 x 10 = 200 requests, 10 per symbol set
SYMBOL_SETS = [[f"SCALE{k:02d}A.NS", f"SCALE{k:02d}B.NS", f"SCALE{k:02d}C.NS"] for k in range(SETS)]
METRICS_TOKEN = "scale-out-test-token"


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@contextmanager
def gunicorn_instance(name: str):
    """One gunicorn instance (2 workers x 2 threads) on the test database; stopped via its master."""
    port = _free_port()
    LOG_DIR.mkdir(parents=True, exist_ok=True)
    log_path = LOG_DIR / f"{name}-{int(time.time() * 1000)}.log"
    env = cluster_env(THETOOL_METRICS_TOKEN=METRICS_TOKEN)
    command = [
        *(sys.executable, "-m", "gunicorn", "thetool.wsgi"),
        *("--bind", f"127.0.0.1:{port}", "--workers", "2", "--threads", "2", "--timeout", "60"),
    ]
    with open(log_path, "w") as log:
        process = subprocess.Popen(
            command, cwd=settings.BASE_DIR, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
        )
        try:
            wait_for(
                lambda: _get(f"http://127.0.0.1:{port}/healthz")[0] == 200,
                timeout=60,
                interval=0.2,
                message=lambda: f"{name} to answer\n{Path(log_path).read_text()}",
            )
            yield f"http://127.0.0.1:{port}"
        finally:
            process.send_signal(signal.SIGTERM)
            try:
                process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait(timeout=10)


def _get(url: str, headers: dict | None = None) -> tuple[int, str]:
    request = urllib.request.Request(url, headers=headers or {})
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, response.read().decode()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read().decode()
    except OSError:
        return 0, ""


def _client_process(index: int, bases: list[str], gate, out) -> None:
    """One client process: waits at the gate, then sends its 10 requests (one per symbol set, alternating instances)."""
    gate.wait()
    answers = []
    for i in range(REQUESTS_PER_PROCESS):
        number = index * REQUESTS_PER_PROCESS + i
        symbol_set = (index + i * 2) % SETS
        base = bases[number % len(bases)]
        body = json.dumps({"symbols": SYMBOL_SETS[symbol_set]}).encode()
        request = urllib.request.Request(
            f"{base}/api/stocks/analyze-all-stocks", data=body, headers={"Content-Type": "application/json"}
        )
        try:
            with urllib.request.urlopen(request, timeout=60) as response:
                status, payload = response.status, json.loads(response.read())
        except urllib.error.HTTPError as exc:
            status, payload = exc.code, {"body": exc.read().decode()[:300]}
        except OSError as exc:
            status, payload = 0, {"body": repr(exc)}
        answers.append((symbol_set, base, status, payload.get("job_id"), payload))
    out.put(answers)


def storm(bases: list[str]) -> list[tuple]:
    """200 requests from 20 processes released at once; returns (set, instance, status, job_id, body) each."""
    context = multiprocessing.get_context("fork")  # the children only speak HTTP, never to the database
    gate, out = context.Barrier(CLIENT_PROCESSES), context.Queue()
    processes = [
        context.Process(target=_client_process, args=(index, bases, gate, out)) for index in range(CLIENT_PROCESSES)
    ]
    for process in processes:
        process.start()
    answers = []
    for _ in processes:
        answers.extend(out.get(timeout=90))
    for process in processes:
        process.join(timeout=10)
    return answers


def test_two_instances_two_workers_200_concurrent_requests_make_exactly_20_jobs():
    require_service("PostgreSQL", "127.0.0.1", 5432)
    started = time.monotonic()
    with ExitStack() as stack:
        bases = [stack.enter_context(gunicorn_instance(f"scale-web-{n}")) for n in (1, 2)]
        storm_started = time.monotonic()
        answers = storm(bases)
        storm_seconds = time.monotonic() - storm_started

        statuses = Counter(status for _, _, status, _, _ in answers)
        assert len(answers) == 200
        assert not [a for a in answers if a[2] >= 500 or a[2] == 0], "no 5xx, no dropped connection"
        assert statuses == {201: 20, 200: 180}, statuses
        assert Counter(base for _, base, _, _, _ in answers) == {bases[0]: 100, bases[1]: 100}
        ids_per_set = defaultdict(set)
        for symbol_set, _, status, job_id, body in answers:
            ids_per_set[symbol_set].add(job_id)
            assert body["is_duplicate"] is (status == 200)
        assert all(len(ids) == 1 for ids in ids_per_set.values()), "every answer for a set names the same job"
        assert AnalysisJob.objects.count() == 20
        assert set(AnalysisJob.objects.values_list("status", flat=True)) == {JobStatus.QUEUED}, "workers were paused"
        assert {str(pk) for pk in AnalysisJob.objects.values_list("pk", flat=True)} == {
            next(iter(ids)) for ids in ids_per_set.values()
        }

        # Now the workers: two run_worker processes share the queue and run every job once.
        clusters = [stack.enter_context(running_cluster(f"scale-worker-{n}")) for n in (1, 2)]
        wait_for(
            lambda: AnalysisJob.objects.filter(status=JobStatus.COMPLETED).count() == 20,
            timeout=90,
            interval=0.5,
            message=lambda: f"20 completed jobs\n{clusters[0].log()[-3000:]}",
        )
        assert AnalysisResult.objects.count() == 20 * 3
        assert AnalysisResult.objects.values("job", "symbol").distinct().count() == 20 * 3
        assert set(AnalysisJob.objects.values_list("attempt", flat=True)) == {1}

        status, text = _get(f"{bases[0]}/metrics", {"Authorization": f"Bearer {METRICS_TOKEN}"})
        assert status == 200
        metrics = dict(line.rsplit(" ", 1) for line in text.splitlines() if line and not line.startswith("#"))
        assert float(metrics["thetool_jobs_created_total"]) == 20
        assert float(metrics["thetool_job_duplicates_total"]) == 180
        assert float(metrics["thetool_jobs_completed_total"]) == 20
        assert float(metrics["thetool_symbols_analysed_total"]) == 60
        assert _get(f"{bases[1]}/metrics")[0] == 401, "the token protects every instance"
        assert float(metrics["thetool_clusters_alive"]) == 2
        for base in bases:
            status, text = _get(f"{base}/readyz")
            assert status == 200, text
            assert json.loads(text)["cluster"]["workers_alive"] == 2, "every instance sees both workers"

    client = Client()
    client.force_login(User.objects.create_user("scale-ops", password="pw-for-tests-only", is_staff=True))
    html = client.get("/admin/dashboard/?range=24h").content.decode()
    assert 'data-metric="created">20<' in html
    assert 'data-metric="duplicates">180<' in html
    print(f"\nscale-out: storm of 200 requests {storm_seconds:.1f} s; whole test {time.monotonic() - started:.1f} s")
