"""django-q2 tasks. Thin: they take ids and plain values (arguments are pickled) and call services."""

import logging
import time
from collections.abc import Callable

from django.conf import settings
from django_q.exceptions import TimeoutException

from jobs import execution, kinds
from jobs.models import AnalysisJob, JobKind
from stocks.market_data import SourceUnavailable
from thetool import shutdown
from thetool.shutdown import WorkerShutdown

logger = logging.getLogger("jobs")


def run_analysis_job(job_id: str) -> str:
    """Run one analysis job to its end, or start a large one and go on with its chunks.

    Safe to deliver twice: only one claim succeeds. A delivery that finds the job held by a live worker
    goes on with the job's queued chunks, if it has any (a chunk's task may have started the job).
    """
    outcome = _start_job(job_id)
    if outcome not in ("fanned out", "not claimed"):
        return outcome
    # Outside the job's guard: a chunk that fails or is handed back is that chunk's business.
    return _go_on_with_chunks(job_id, outcome)


def _start_job(job_id: str) -> str:
    """Claim the job and run it (a small job, another kind) or make sure its chunks are queued (a large one)."""
    attempt = execution.claim_job(job_id=job_id)
    if attempt is None:
        logger.info("Job %s not claimed: finished, cancelled or held by a live worker", job_id)
        return "not claimed"

    def work() -> str:
        job = AnalysisJob.objects.get(pk=job_id)
        if job.kind != JobKind.ANALYSIS:
            execute = kinds.executor_for(job.kind)  # registered by the app that owns the kind
            if execute is None:
                raise RuntimeError(f"No executor is registered for jobs of kind {job.kind!r}")
            return execute(job_id=job_id, attempt=attempt)
        # Chunks made when the job was requested are used even if this worker's THETOOL_JOB_CHUNK_SIZE differs.
        if job.fans_out or job.chunks.exists():
            return execution.fan_out_job(job_id=job_id, attempt=attempt)
        return execution.execute_job(job_id=job_id, attempt=attempt)

    return _run_guarded(
        work,
        name=f"Job {job_id} attempt {attempt}",
        fail=lambda reason: execution.fail_job(job_id=job_id, attempt=attempt, reason=reason),
        release=lambda reason: execution.release_job(job_id=job_id, attempt=attempt, reason=reason),
    )


def run_job_chunk(job_id: str, index: int) -> str:
    """Analyse one chunk of a fanned-out job, then the job's next queued chunks for a while.

    Safe to deliver twice: only one claim succeeds. A delivery whose chunk another worker already
    took goes on with the job's queued chunks all the same. A chunk is handed to the queue with its
    job (jobs.services.hand_over), so it may arrive before the job's own task has been taken: it then
    starts the job as that task would (one claim decides who), and runs its chunk.
    """
    outcome = _run_chunk(job_id, index)
    if outcome == "not claimed" and execution.is_waiting_to_start(job_id=job_id):
        logger.info("Job %s chunk %d delivered before its job started; starting the job", job_id, index)
        started = _start_job(job_id)
        if started not in ("fanned out", "not claimed"):
            return started  # the job failed or was handed back while starting
        outcome = _run_chunk(job_id, index)
    return _go_on_with_chunks(job_id, outcome)


def _go_on_with_chunks(job_id: str, outcome: str) -> str:
    """Claim the job's next queued chunk straight away while this task has time (THETOOL_JOB_CONTINUE_SECONDS).

    Every chunk also has its own task on the broker (delivered later, it finds its chunk taken and
    goes on in turn); going on here saves a broker round trip per chunk (a poll, a dequeue, a result
    row), so the workers stay on one job until it is done. After THETOOL_JOB_CONTINUE_SECONDS the
    worker returns to the queue, so other queued tasks are not held back for longer.
    """
    deadline = time.monotonic() + settings.THETOOL_JOB_CONTINUE_SECONDS
    while outcome in ("fanned out", "chunk done", "not claimed") and time.monotonic() < deadline:
        index = execution.next_queued_chunk(job_id=job_id)
        if index is None:
            break
        outcome = _run_chunk(job_id, index)
    return outcome


def _run_chunk(job_id: str, index: int) -> str:
    attempt = execution.claim_chunk(job_id=job_id, index=index)
    if attempt is None:
        logger.info("Job %s chunk %d not claimed: done, job finished or held by a live worker", job_id, index)
        return "not claimed"
    return _run_guarded(
        lambda: execution.execute_chunk(job_id=job_id, index=index, attempt=attempt),
        name=f"Job {job_id} chunk {index} attempt {attempt}",
        fail=lambda reason: execution.fail_job_from_chunk(job_id=job_id, index=index, attempt=attempt, reason=reason),
        release=lambda reason: execution.release_chunk(job_id=job_id, index=index, attempt=attempt, reason=reason),
    )


def _run_guarded(work: Callable[[], str], *, name: str, fail: Callable[[str], bool], release) -> str:
    """How a job or a chunk ends when its work raises: the same rules for both."""
    try:
        return work()
    except SourceUnavailable as exc:
        fail(f"Market data source unavailable: {exc}")
        return "failed"
    except TimeoutException:
        # Derives from SystemExit: `except Exception` would miss it and leave the job processing.
        fail(f"Exceeded the task time limit of {settings.Q_CLUSTER['timeout']}s (THETOOL_Q_TIMEOUT)")
        raise
    except Exception as exc:
        logger.exception("%s crashed", name)
        fail(f"Unexpected error: {type(exc).__name__}: {exc}")
        return "failed"
    except BaseException as exc:
        # Shutdown (WorkerShutdown from a checkpoint after run_worker's SIGTERM, SystemExit,
        # KeyboardInterrupt): hand the work back now (a chunk, not its whole job), so it resumes on
        # another worker without waiting for the reaper.
        shutdown.handing_back()
        reason = "Worker shut down mid-job; re-queued to resume where it stopped"
        if isinstance(exc, WorkerShutdown):
            reason = f"Worker shut down mid-job ({exc}); re-queued to resume where it stopped"
        release(reason)
        raise
