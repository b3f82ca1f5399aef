from django.core.management.base import BaseCommand

from jobs.worker import run_worker


class Command(BaseCommand):
    help = (
        "Run the job worker: a django-q2 cluster plus the stale-job reaper. Stops within "
        "THETOOL_WORKER_STOP_SECONDS on SIGTERM or SIGINT (to this process or its whole group), handing "
        "running jobs back to the queue so they resume where they stopped. Use this, not qcluster."
    )

    def handle(self, *args, **options):
        code = run_worker()
        if code:
            raise SystemExit(code)
