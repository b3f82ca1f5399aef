"""django-q2 tasks. Thin: they take ids and plain values (arguments are pickled) and call services."""

import logging

from django.conf import settings
from django_q.exceptions import TimeoutException

from jobs import execution
from jobs.exceptions import WorkerShutdown
from jobs.models import AnalysisJob, JobKind
from stocks.market_data import SourceUnavailable

logger = logging.getLogger("jobs")


def _executor_for(job_id: str):
    """The function that runs a job of this kind (claiming, fencing and failure handling are shared)."""
    kind = AnalysisJob.objects.filter(pk=job_id).values_list("kind", flat=True).first()
    if kind == JobKind.BACKTEST:
        from backtests.execution import execute_backtest  # the backtests app builds on jobs, not the reverse

        return execute_backtest
    return execution.execute_job


def run_analysis_job(job_id: str) -> str:
    """Run one analysis job to its end. Safe to deliver twice: only one claim succeeds."""
    attempt = execution.claim_job(job_id=job_id)
    if attempt is None:
        logger.info("Job %s not claimed: finished, cancelled or held by a live worker; nothing to do", job_id)
        return "not claimed"
    try:
        return _executor_for(job_id)(job_id=job_id, attempt=attempt)
    except SourceUnavailable as exc:
        execution.fail_job(job_id=job_id, attempt=attempt, reason=f"Market data source unavailable: {exc}")
        return "failed"
    except TimeoutException:
        # Derives from SystemExit: `except Exception` would miss it and leave the job processing.
        execution.fail_job(
            job_id=job_id,
            attempt=attempt,
            reason=f"Exceeded the task time limit of {settings.Q_CLUSTER['timeout']}s (THETOOL_Q_TIMEOUT)",
        )
        raise
    except Exception as exc:
        logger.exception("Job %s attempt %d crashed", job_id, attempt)
        execution.fail_job(job_id=job_id, attempt=attempt, reason=f"Unexpected error: {type(exc).__name__}: {exc}")
        return "failed"
    except BaseException as exc:
        # Shutdown (WorkerShutdown from run_worker's SIGTERM handler, SystemExit, KeyboardInterrupt):
        # hand the job back now, so it resumes on another worker without waiting for the reaper.
        reason = "Worker shut down mid-job; re-queued to resume where it stopped"
        if isinstance(exc, WorkerShutdown):
            reason = f"Worker shut down mid-job ({exc}); re-queued to resume where it stopped"
        execution.release_job(job_id=job_id, attempt=attempt, reason=reason)
        raise
