"""System checks that refuse a django-q2 configuration which would run a job twice at once."""

from django.conf import settings
from django.core import checks


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
