import json

from django.core.management.base import BaseCommand, CommandError
from django.utils import timezone

from jobs.ops import get_jobs_report


class Command(BaseCommand):
    help = (
        "Workers alive, active jobs, duplicates per hour, stale jobs, failures by reason and the oldest queued "
        "job: the deployment guide's SQL checks, as a table or JSON."
    )

    def add_arguments(self, parser):
        parser.add_argument("--json", action="store_true", dest="as_json", help="Print one JSON document")
        parser.add_argument("--hours", type=int, default=24, help="Window for duplicates and failures (default 24)")

    def handle(self, *args, as_json: bool, hours: int, **options):
        if hours < 1:
            raise CommandError("--hours must be at least 1")
        report = get_jobs_report(now=timezone.now(), hours=hours)
        if as_json:
            self.stdout.write(json.dumps(report, indent=2, default=str))
            return
        self._table(report)

    def _table(self, report: dict) -> None:
        write = self.stdout.write
        queue = report["queue"]
        write(f"Jobs report at {report['generated_at']} (UTC), last {report['hours']} h")
        write(
            f"Queued {queue['queued']}, processing {queue['processing']}, stale {queue['stale']}; "
            f"oldest queued: {_age(queue['oldest_queued_age_seconds'])}"
        )
        workers = report["workers"]
        reaper = workers["reaper_last_run_age_seconds"]
        write(
            f"Workers alive {workers['workers_alive']} ({workers['processes']} job processes); "
            f"reaper last ran: {_age(reaper) + ' ago' if reaper is not None else 'never'}"
            f"{'' if workers['alive'] else '  NOT READY'}"
        )
        for worker in report["live_workers"]:
            write(
                f"  {worker['host']}:{worker['pid']}  started {worker['started_at']}  "
                f"seen {_age(worker['last_seen_age_seconds'])} ago  processes {worker['processes']}"
            )
        write("\nActive jobs")
        write(f"  {'job id':36}  {'status':10}  {'progress':>11}  {'try':>3}  {'age':>7}  {'beat':>7}  {'dups':>5}")
        for job in report["active"]:
            flag = "  STALE" if job["stale"] else ""
            progress = f"{job['completed']}/{job['total']}"
            write(
                f"  {job['job_id']:36}  {job['status']:10}  {progress:>11}  {job['attempt']:>3}  "
                f"{_age(job['age_seconds']):>7}  {_age(job['heartbeat_age_seconds']):>7}  {job['duplicates']:>5}{flag}"
            )
        if not report["active"]:
            write("  (none)")
        write("\nDuplicates per hour (by the hour the job was created)")
        for row in report["duplicates_per_hour"]:
            write(f"  {row['hour']}  created {row['created']:>5}  duplicates {row['duplicates']:>6}")
        if not report["duplicates_per_hour"]:
            write("  (no jobs)")
        write("\nFailed jobs by reason")
        for reason, count in sorted(report["failures_by_reason"].items()):
            write(f"  {reason:20} {count:>6}")
        if not report["failures_by_reason"]:
            write("  (none)")


def _age(seconds) -> str:
    if seconds is None:
        return "-"
    seconds = int(seconds)
    if seconds < 120:
        return f"{seconds}s"
    if seconds < 7200:
        return f"{seconds // 60}m"
    return f"{seconds // 3600}h"
