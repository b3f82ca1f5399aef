"""manage.py load_universe [PATH] [--download] [--deactivate-missing] [--index NAME]: import or refresh the
stock universe; with --index, PATH is an NSE index constituent file and sets that index's membership."""

from django.core.management.base import BaseCommand, CommandError

from stocks.market_data import SourceUnavailable, download_equity_list
from stocks.universe import load_universe_rows, parse_universe_file, parse_universe_lines

MAX_LISTED_SKIPS = 50


class Command(BaseCommand):
    help = (
        "Load stocks from NSE's EQUITY_L.csv or a symbol,name,yahoo_symbol CSV. Re-running updates rows "
        "(matched by symbol) and never duplicates them."
    )

    def add_arguments(self, parser):
        parser.add_argument("path", nargs="?", help="EQUITY_L.csv or symbol,name,yahoo_symbol CSV file")
        parser.add_argument(
            "--download", action="store_true", help="Fetch the current EQUITY_L.csv from NSE instead of a file"
        )
        parser.add_argument(
            "--deactivate-missing", action="store_true", help="Mark stocks that are not in the file inactive"
        )
        parser.add_argument(
            "--index",
            metavar="NAME",
            help='The file lists this index\'s constituents (e.g. "NIFTY 500"): its membership becomes the file',
        )

    def handle(self, *args, path=None, download=False, deactivate_missing=False, index=None, **options):
        if bool(path) == bool(download):
            raise CommandError("Give either a PATH or --download (not both).")
        rows, errors, origin = self._read(path, download)
        if not rows:
            shown = "; ".join(errors[:5]) or "no rows"
            raise CommandError(f"No valid rows in {origin}: {shown}")
        if index is not None and not index.strip():
            raise CommandError('--index needs an index name, e.g. --index "NIFTY 500".')
        index_name = index.strip().upper() if index else None
        summary = load_universe_rows(rows=rows, deactivate_missing=deactivate_missing, index_name=index_name)
        skipped = errors + summary.skipped
        self.stdout.write(
            f"Loaded {origin}: created {summary.created}, updated {summary.updated}, "
            f"unchanged {summary.unchanged}, deactivated {summary.deactivated}, skipped {len(skipped)}."
        )
        if index_name:
            self.stdout.write(f"{index_name}: {summary.index_members} stocks.")
        for reason in skipped[:MAX_LISTED_SKIPS]:
            self.stdout.write(self.style.WARNING(f"  skipped {reason}"))
        if len(skipped) > MAX_LISTED_SKIPS:
            self.stdout.write(self.style.WARNING(f"  ... and {len(skipped) - MAX_LISTED_SKIPS} more"))

    def _read(self, path, download):
        if download:
            try:
                text = download_equity_list()
            except SourceUnavailable as exc:
                raise CommandError(
                    f"{exc.message}. Are you offline? Download EQUITY_L.csv by hand and run load_universe PATH."
                ) from exc
            rows, errors = parse_universe_lines(text.splitlines())
            return rows, errors, "NSE's EQUITY_L.csv (downloaded)"
        try:
            rows, errors = parse_universe_file(path)
        except OSError as exc:
            raise CommandError(f"Cannot read {path}: {exc.strerror or exc}") from exc
        return rows, errors, path
