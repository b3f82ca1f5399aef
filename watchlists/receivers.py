"""Watchlists' answers to what the jobs app announces (jobs.signals)."""

from watchlists import services


def run_scans_on_worker_tick(sender, **kwargs) -> None:
    """Fire the end-of-day scans that are due, at each tick of a worker's reaper thread."""
    services.run_due_scans()
