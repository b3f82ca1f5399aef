from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from stocks.retention import THIN_TO_CHOICES, thin_results


class Command(BaseCommand):
    help = (
        "Keep every analysis result for --keep-days (THETOOL_RESULTS_KEEP_DAYS), then only the newest per stock, "
        "strategy and --thin-to period (THETOOL_RESULTS_THIN_TO). Never touches results of active jobs or a "
        "stock's latest result. Also runs daily from the django-q2 schedule 'thin results'."
    )

    def add_arguments(self, parser):
        parser.add_argument("--keep-days", type=int, default=None, help="Days of full history to keep")
        parser.add_argument("--thin-to", choices=THIN_TO_CHOICES, default=None, help="week or month")
        parser.add_argument("--dry-run", action="store_true", help="Count what would be deleted; delete nothing")

    def handle(self, *args, keep_days, thin_to, dry_run, **options):
        keep_days = settings.THETOOL_RESULTS_KEEP_DAYS if keep_days is None else keep_days
        if keep_days < 1:
            raise CommandError("--keep-days must be at least 1")
        report = thin_results(keep_days=keep_days, thin_to=thin_to or settings.THETOOL_RESULTS_THIN_TO, dry_run=dry_run)
        self.stdout.write(str(report))
