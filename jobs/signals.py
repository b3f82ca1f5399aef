"""What the jobs app tells the apps built on it, without importing them (they import jobs; jobs never imports them).

- `job_completed(job_id)`: a job has just become completed, sent once per job by the worker that
  decided it (after the status UPDATE). Alerts listen (`alerts.apps`).
- `worker_tick()`: every tick of `manage.py run_worker`'s reaper thread
  (THETOOL_REAPER_INTERVAL_SECONDS), outside the job queue. End-of-day scans listen
  (`watchlists.apps`); a receiver that fails is logged and the others still run.
"""

from django.dispatch import Signal

job_completed = Signal()
worker_tick = Signal()
