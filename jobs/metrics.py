"""Prometheus metrics of the job system, exported by one view (thetool.health.metrics).

Job and symbol numbers are read from the database at scrape time (`JobTableCollector`), so they
are the same whichever gunicorn worker or host answers the scrape: a counter kept in one process
would only know that process's requests. They are "counters" of what the job table holds: they go
down after `manage.py prune`, which Prometheus's rate() and increase() treat as a counter reset.

Request latency of the job API is a process-local histogram (it has no row to be read from). With
PROMETHEUS_MULTIPROC_DIR set (a directory shared by the gunicorn workers of one host, emptied before
they start), prometheus_client's multiprocess mode adds up every worker of that host instead.
"""

import os
import time

from django.utils import timezone
from prometheus_client import CollectorRegistry, Histogram, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, HistogramMetricFamily
from prometheus_client.multiprocess import MultiProcessCollector

from jobs import ops

JOB_DURATION_BUCKETS = [1, 5, 15, 30, 60, 120, 300, 600, 1800, 3600]
FIRST_PROGRESS_BUCKETS = [0.5, 1, 2, 5, 10, 30, 60, 300, 900]
REQUEST_BUCKETS = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10]

# URL names of the job API (jobs/urls.py); everything else is left out of the latency histogram.
JOB_API_URL_NAMES = ("api-analyze", "api-all-stocks", "api-job")

JOB_API_LATENCY = Histogram(
    "thetool_job_api_request_duration_seconds",
    "Latency of job API requests, by route and status (this process, or this host in multiprocess mode)",
    ["method", "route", "status"],
    buckets=REQUEST_BUCKETS,
)


class JobTableCollector:
    """Yields every job metric from a handful of aggregate queries over the job and result tables."""

    def collect(self):
        now = timezone.now()
        totals = ops.get_job_totals()
        for name, doc in [
            ("created", "Jobs created (new analyses, including forced ones)"),
            ("duplicates", "Identical requests answered with an already active job (sum of duplicate_count)"),
            ("forced", "Forced requests that replaced an active job"),
            ("cancelled", "Jobs cancelled (by request, or replaced by a forced request)"),
            ("completed", "Jobs completed"),
            ("recovered", "Jobs resumed after their worker died (claimed more than once)"),
        ]:
            metric = "thetool_job_duplicates" if name == "duplicates" else f"thetool_jobs_{name}"
            yield CounterMetricFamily(metric, doc, value=totals[name])

        failed = CounterMetricFamily("thetool_jobs_failed", "Jobs failed as a whole, by reason", labels=["reason"])
        by_reason = ops.get_job_failures_by_reason()
        for reason in [name for name, _ in ops.JOB_FAILURE_REASONS] + ["other"]:
            failed.add_metric([reason], by_reason.get(reason, 0))
        yield failed

        symbols = ops.get_symbol_totals()
        yield CounterMetricFamily("thetool_symbols_analysed", "Symbols analysed by jobs", value=symbols["analysed"])
        symbol_failures = CounterMetricFamily(
            "thetool_symbols_failed", "Symbols that failed in jobs, by reason", labels=["reason"]
        )
        for reason, count in symbols["failed"].items():
            symbol_failures.add_metric([reason], count)
        yield symbol_failures

        queue = ops.get_queue_summary(now=now)
        yield GaugeMetricFamily("thetool_jobs_queued", "Jobs waiting for a worker (queue depth)", value=queue["queued"])
        yield GaugeMetricFamily("thetool_jobs_processing", "Jobs being processed", value=queue["processing"])
        yield GaugeMetricFamily("thetool_jobs_stale", "Active jobs with no sign of life", value=queue["stale"])
        yield GaugeMetricFamily(
            "thetool_oldest_queued_job_age_seconds",
            "Age of the oldest queued job (0 when none)",
            value=queue["oldest_queued_age_seconds"] or 0,
        )
        workers = ops.get_worker_status(now=now)
        yield GaugeMetricFamily(
            "thetool_clusters_alive",
            "run_worker processes alive (each runs one django-q2 cluster), from the worker registry",
            value=workers["workers_alive"],
        )
        yield GaugeMetricFamily(
            "thetool_worker_processes",
            "django-q2 worker processes of the live run_worker processes",
            value=workers["processes"],
        )
        yield GaugeMetricFamily(
            "thetool_reaper_last_run_age_seconds",
            "Seconds since a worker's stale-job reaper last finished a pass (-1 never)",
            value=workers["reaper_last_run_age_seconds"] if workers["reaper_last_run_age_seconds"] is not None else -1,
        )
        yield self._duration_histogram()
        yield self._first_progress_histogram()

    def _duration_histogram(self) -> HistogramMetricFamily:
        counts, total, n = ops.count_by_bucket(rows=ops.select_job_durations(), buckets_seconds=JOB_DURATION_BUCKETS)
        return _histogram(
            "thetool_job_duration_seconds",
            "Completed jobs, from start to finish",
            JOB_DURATION_BUCKETS,
            counts,
            total,
            n,
        )

    def _first_progress_histogram(self) -> HistogramMetricFamily:
        counts, total, n = ops.count_by_bucket(
            rows=ops.select_times_to_first_progress(), buckets_seconds=FIRST_PROGRESS_BUCKETS
        )
        return _histogram(
            "thetool_job_time_to_first_progress_seconds",
            "From a job's creation to its first stored symbol",
            FIRST_PROGRESS_BUCKETS,
            counts,
            total,
            n,
        )


def _histogram(name, doc, bounds, counts, total, n) -> HistogramMetricFamily:
    buckets = [(_le(b), c) for b, c in zip(bounds, counts, strict=True)] + [("+Inf", n)]
    return HistogramMetricFamily(name, doc, buckets=buckets, sum_value=total)


def _le(bound: float) -> str:
    return str(float(bound))


def render_metrics() -> bytes:
    """The exposition text: job metrics from the database, then request latency (process or host)."""
    jobs_registry = CollectorRegistry()
    jobs_registry.register(JobTableCollector())
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        process_registry = CollectorRegistry()
        MultiProcessCollector(process_registry)
    else:
        from prometheus_client import REGISTRY as process_registry
    return generate_latest(jobs_registry) + generate_latest(process_registry)


class JobApiLatencyMiddleware:
    """Times job API requests (by URL name, so the label set stays small) into JOB_API_LATENCY."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        started = time.perf_counter()
        response = self.get_response(request)
        match = getattr(request, "resolver_match", None)
        name = match.url_name if match else None
        if name and name.startswith(JOB_API_URL_NAMES):
            JOB_API_LATENCY.labels(request.method, name, str(response.status_code)).observe(
                time.perf_counter() - started
            )
        return response
