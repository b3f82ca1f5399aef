from django.core.management.base import BaseCommand, CommandError

from jobs.housekeeping import parse_age, prune_finished_jobs


class Command(BaseCommand):
    help = (
        "Delete finished (completed, failed, cancelled) jobs that ended more than --older-than ago, with "
        "their results, in batches. Active jobs are never deleted."
    )

    def add_arguments(self, parser):
        parser.add_argument("--older-than", required=True, help="Age like 90d, 12h or 4w")
        parser.add_argument("--dry-run", action="store_true", help="Count what would be deleted; delete nothing")
        parser.add_argument("--batch-size", type=int, default=1000, help="Jobs per delete transaction")

    def handle(self, *args, older_than, dry_run, batch_size, **options):
        try:
            age = parse_age(text=older_than)
        except ValueError as exc:
            raise CommandError(str(exc)) from None
        if batch_size < 1:
            raise CommandError("--batch-size must be at least 1")
        self.stdout.write(str(prune_finished_jobs(older_than=age, dry_run=dry_run, batch_size=batch_size)))
