from django.core.management.base import BaseCommand

from jobs.execution import recover_stale_jobs


class Command(BaseCommand):
    help = (
        "Re-queue analysis jobs whose worker stopped beating (they resume where they stopped), hand "
        "waiting jobs to the queue again, and fail jobs that used all their attempts. run_worker runs "
        "this every THETOOL_REAPER_INTERVAL_SECONDS; operators can run it now."
    )

    def add_arguments(self, parser):
        parser.add_argument("job_ids", nargs="*", help="Only these jobs (default: all stale jobs)")

    def handle(self, *args, job_ids, **options):
        report = recover_stale_jobs(job_ids=job_ids or None)
        self.stdout.write(str(report))
        for label, ids in (
            ("re-queued", report.requeued),
            ("re-enqueued", report.reenqueued),
            ("failed", report.failed),
        ):
            for job_id in ids:
                self.stdout.write(f"  {label}: {job_id}")
