"""Probes for load balancers and Kubernetes: /healthz (liveness) and /readyz (readiness); /metrics.

All three are public on purpose (`login_not_required`): a probe or a scraper has no session;
/metrics has its own bearer token instead. None reveals a
secret: no connection strings, hosts of the database or broker, or settings, only yes/no, counts
and ages. /healthz touches nothing but the process; /readyz reads the database and the broker.
"""

import hmac
import logging

from django.conf import settings
from django.contrib.auth.decorators import login_not_required
from django.db import connection
from django.http import HttpResponse, JsonResponse
from django.utils import timezone
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_safe

from thetool.api import error_body

logger = logging.getLogger("thetool.health")

# Seconds a load balancer should wait before asking again after a 503.
RETRY_AFTER_SECONDS = 10
LOOPBACK_ADDRESSES = {"127.0.0.1", "::1"}


@login_not_required
@never_cache
@require_safe
def healthz(request):
    """Liveness: the process answers. No database, so a database outage does not restart every web process."""
    return JsonResponse({"status": "ok"})


@login_not_required
@never_cache
@require_safe
def readyz(request):
    """Readiness: 200 when the database and broker answer and a worker (`run_worker`) is alive, else 503."""
    report = check_readiness()
    if report["ready"]:
        return JsonResponse({"status": "ready", **report})
    failing = [name for name in ("database", "broker", "cluster") if not report[name]["ok"]]
    body = error_body("not_ready", f"Not ready: {', '.join(failing)} failing", details=report)
    response = JsonResponse(body, status=503)
    response["Retry-After"] = str(RETRY_AFTER_SECONDS)
    return response


def check_readiness() -> dict:
    now = timezone.now()
    database = _check_database()
    broker = _check_broker()
    if database["ok"]:
        cluster, jobs = _check_cluster_and_jobs(now=now)
    else:
        cluster = {"ok": False, "error": "unknown: the database is unreachable"}
        jobs = None
    return {
        "ready": database["ok"] and broker["ok"] and cluster["ok"],
        "checked_at": now.isoformat(),
        "database": database,
        "broker": broker,
        "cluster": cluster,
        "jobs": jobs,
    }


def _failure(exc: Exception) -> str:
    # The exception type and first line only: driver messages can name hosts, never passwords.
    return f"{type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''}".strip()


def _check_database() -> dict:
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
            cursor.fetchone()
    except Exception as exc:
        logger.warning("Readiness: database unreachable: %s", _failure(exc))
        connection.close_if_unusable_or_obsolete()
        return {"ok": False, "error": _failure(exc)}
    return {"ok": True, "vendor": connection.vendor}


def _check_broker() -> dict:
    from django_q.brokers import get_broker

    try:
        broker = get_broker()
        broker.ping()
        size = broker.queue_size()
    except Exception as exc:
        logger.warning("Readiness: broker unreachable: %s", _failure(exc))
        return {"ok": False, "error": _failure(exc)}
    return {"ok": True, "kind": type(broker).__name__, "queued_tasks": size}


def _check_cluster_and_jobs(*, now) -> tuple[dict, dict | None]:
    from jobs import ops

    try:
        cluster = ops.get_worker_status(now=now)
        jobs = ops.get_queue_summary(now=now)
    except Exception as exc:
        logger.warning("Readiness: could not read cluster or job state: %s", _failure(exc))
        return {"ok": False, "error": _failure(exc)}, None
    cluster["ok"] = cluster.pop("alive")
    return cluster, jobs


@login_not_required
@never_cache
@require_safe
def metrics(request):
    """Prometheus exposition. Needs `Authorization: Bearer <THETOOL_METRICS_TOKEN>` when that is set;
    without a token it answers only in DEBUG or to a loopback address (a scraper on the same host)."""
    from prometheus_client import CONTENT_TYPE_LATEST

    from jobs.metrics import render_metrics

    refusal = _refuse_metrics(request)
    if refusal is not None:
        return refusal
    return HttpResponse(render_metrics(), content_type=CONTENT_TYPE_LATEST)


def _refuse_metrics(request) -> JsonResponse | None:
    token = settings.THETOOL_METRICS_TOKEN
    if token:
        scheme, _, given = request.headers.get("Authorization", "").partition(" ")
        if scheme.lower() == "bearer" and hmac.compare_digest(given.strip().encode(), token.encode()):
            return None
        response = JsonResponse(
            error_body("not_authenticated", "Send Authorization: Bearer <THETOOL_METRICS_TOKEN>"), status=401
        )
        response["WWW-Authenticate"] = 'Bearer realm="metrics"'
        return response
    if settings.DEBUG or request.META.get("REMOTE_ADDR", "") in LOOPBACK_ADDRESSES:
        return None
    return JsonResponse(
        error_body(
            "permission_denied", "Metrics are served to loopback only; set THETOOL_METRICS_TOKEN to scrape remotely"
        ),
        status=403,
    )
