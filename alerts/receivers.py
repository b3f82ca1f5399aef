"""Alerts' answers to what the jobs app announces (jobs.signals)."""

from alerts import services


def alert_on_completed_job(sender, *, job_id, **kwargs) -> None:
    """Compare the job's results with the previous ones: one call, run on django-q2 after commit."""
    services.enqueue_job_completed(job_id=job_id)
