"""Scheduled maintenance of stocks (django-q2 runs these by dotted path; no arguments to pickle)."""

from django.conf import settings

from stocks.retention import thin_results


def thin_results_daily() -> str:
    """The daily retention pass with the configured settings (schedule 'thin results', migration 0005)."""
    report = thin_results(keep_days=settings.THETOOL_RESULTS_KEEP_DAYS, thin_to=settings.THETOOL_RESULTS_THIN_TO)
    return f"deleted {report.deleted} of {report.examined} results older than {report.cutoff}"
