"""System checks that refuse a configuration which would run a job twice at once or lose it for long."""

from django.conf import settings
from django.core import checks

from jobs.models import heartbeat_interval

# The promise the reaper keeps: a dead worker's job is re-queued within the stale limit + this.
RECOVERY_SLACK_SECONDS = 15


@checks.register(checks.Tags.compatibility)
def check_q_cluster(app_configs, **kwargs):
    conf = getattr(settings, "Q_CLUSTER", {})
    errors = []
    timeout, retry = conf.get("timeout"), conf.get("retry", 60)
    if not timeout or timeout >= retry:
        errors.append(
            checks.Error(
                f"Q_CLUSTER timeout ({timeout}) must be set and below retry ({retry}): otherwise the broker "
                "delivers a still-running job task again.",
                hint="Set THETOOL_Q_TIMEOUT below THETOOL_Q_RETRY.",
                id="jobs.E001",
            )
        )
    max_attempts = conf.get("max_attempts", 0)
    if not 1 <= max_attempts <= 5:
        errors.append(
            checks.Error(
                f"Q_CLUSTER max_attempts is {max_attempts}; use 1-5 (0 means a poison task is retried forever).",
                hint="Set THETOOL_Q_MAX_ATTEMPTS between 1 and 5; job recovery lives in the job table.",
                id="jobs.E002",
            )
        )
    if settings.THETOOL_JOB_STALE_SECONDS >= retry:
        errors.append(
            checks.Warning(
                "THETOOL_JOB_STALE_SECONDS is not below the broker's retry: the reaper will be slower than redelivery.",
                id="jobs.W001",
            )
        )
    return errors


@checks.register(checks.Tags.compatibility)
def check_job_liveness(app_configs, **kwargs):
    """The stale limit must outlast the worst-case gap between two heartbeats of a healthy job.

    A running job beats from a thread every THETOOL_JOB_HEARTBEAT_SECONDS, during fetches too. One
    beat can be late by up to an interval (a busy database, a long GIL-holding call), so the worst
    gap between two recorded beats is two intervals: a shorter stale limit would re-queue healthy jobs.
    """
    errors = []
    stale, interval = settings.THETOOL_JOB_STALE_SECONDS, heartbeat_interval()
    if stale < 2 * interval:
        errors.append(
            checks.Error(
                f"THETOOL_JOB_STALE_SECONDS ({stale}) is shorter than the worst-case time between two "
                f"heartbeats of a running job (2 x THETOOL_JOB_HEARTBEAT_SECONDS = {2 * interval:g}s): healthy "
                "jobs would be taken for dead and re-queued.",
                hint="Raise THETOOL_JOB_STALE_SECONDS or lower THETOOL_JOB_HEARTBEAT_SECONDS (0: stale / 4).",
                id="jobs.E003",
            )
        )
    if settings.THETOOL_REAPER_INTERVAL_SECONDS > RECOVERY_SLACK_SECONDS:
        errors.append(
            checks.Warning(
                f"THETOOL_REAPER_INTERVAL_SECONDS ({settings.THETOOL_REAPER_INTERVAL_SECONDS:g}) is above "
                f"{RECOVERY_SLACK_SECONDS}s: a dead worker's job waits longer than the stale limit + "
                f"{RECOVERY_SLACK_SECONDS}s to be re-queued.",
                id="jobs.W002",
            )
        )
    if settings.THETOOL_WORKER_ALIVE_SECONDS < 2 * settings.THETOOL_REAPER_INTERVAL_SECONDS:
        # The reaper thread writes the worker's registry row once a tick; one late tick must not make
        # a healthy worker (and /readyz) look dead.
        errors.append(
            checks.Error(
                f"THETOOL_WORKER_ALIVE_SECONDS ({settings.THETOOL_WORKER_ALIVE_SECONDS:g}) is shorter than two "
                f"reaper ticks (2 x THETOOL_REAPER_INTERVAL_SECONDS = "
                f"{2 * settings.THETOOL_REAPER_INTERVAL_SECONDS:g}s): live workers would be counted as gone.",
                hint="Raise THETOOL_WORKER_ALIVE_SECONDS or lower THETOOL_REAPER_INTERVAL_SECONDS.",
                id="jobs.E004",
            )
        )
    return errors
