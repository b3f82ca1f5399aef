"""manage.py run_due_scans [--refresh-quotes]: fire every scheduled scan that is due, once.

`manage.py run_worker` does this on every reaper tick; this command is for cron, or to run the
loop by hand. Safe beside running workers: each scan is claimed with a conditional UPDATE.
"""

from django.core.management.base import BaseCommand
from django.utils import timezone

from stocks.services import refresh_quotes
from watchlists.services import run_due_scans


class Command(BaseCommand):
    help = "Fire the scheduled end-of-day scans that are due (NSE sessions only) and print their jobs."

    def add_arguments(self, parser):
        parser.add_argument(
            "--refresh-quotes",
            action="store_true",
            help="Also recompute the screener's price columns (from cached bars, or from a demo/csv source)",
        )

    def handle(self, *args, **options):
        runs = run_due_scans(now=timezone.now())
        for run in runs:
            joined = " (joined the identical running job)" if run.joined_running_job else ""
            self.stdout.write(f"Scan {run.scan_id} for {run.session}: job {run.job_id}{joined}")
        self.stdout.write(f"{len(runs)} scan(s) fired.")
        if options.get("refresh_quotes"):
            self.stdout.write(f"{refresh_quotes()} price line(s) refreshed.")
