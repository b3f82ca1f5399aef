"""`manage.py analyze RELIANCE.NS TCS.NS [--strategy 2] [--capital 250000] [--source demo]`

Analyses synchronously (no job, no queue), prints an aligned table and stores the results.
"""

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from stocks import services, strategies, universe
from stocks.analysis import TradeParams
from stocks.market_data import SourceUnavailable, source_kind
from thetool.exceptions import ApplicationError

COLUMNS = (
    # (header, width, align)
    ("Symbol", 16, "<"),
    ("Verdict", 11, "<"),
    ("Score", 7, ">"),
    ("Entry", 11, ">"),
    ("Stop", 11, ">"),
    ("Target", 11, ">"),
    ("R:R", 5, ">"),
    ("Size", 7, ">"),
    ("Limit", 7, "<"),  # which limit decided the size: the risk % or the max position %
    ("Risk INR", 10, ">"),
    ("Risk %", 6, ">"),
)
_LIMIT_LABELS = {"risk": "risk", "max_position": "max pos"}


def _money(value) -> str:
    return "-" if value is None else f"{value:,.2f}"


def _row(cells) -> str:
    return "  ".join(f"{cell:{align}{width}}" for cell, (_, width, align) in zip(cells, COLUMNS, strict=True)).rstrip()


def _result_cells(result) -> tuple:
    return (
        result.symbol,
        result.verdict,
        f"{result.score:+.3f}",
        _money(result.entry),
        _money(result.stop_loss),
        _money(result.target),
        "-" if result.risk_reward is None else f"{result.risk_reward:.2f}",
        "-" if result.position_size is None else f"{result.position_size:,}",
        _LIMIT_LABELS.get(result.size_limited_by, "-"),
        _money(result.risk_amount),
        "-" if result.risk_taken_percent is None else f"{result.risk_taken_percent:.2f}",
    )


class Command(BaseCommand):
    help = "Analyse symbols now (no background job), print a table and store the results."

    def add_arguments(self, parser):
        parser.add_argument("symbols", nargs="+", help="NSE or Yahoo symbols: RELIANCE, TCS.NS, M&M.NS")
        parser.add_argument("--strategy", type=int, default=1, help="Strategy id (default 1, Balanced)")
        parser.add_argument("--capital", type=float, default=100_000.0, help="Capital in INR (default 100000)")
        parser.add_argument("--risk-percent", type=float, default=2.0, help="Risk per trade in %% (default 2)")
        parser.add_argument(
            "--max-position-percent", type=float, default=None, help="Cap per position in %% (default: strategy's)"
        )
        parser.add_argument("--source", default=None, help="yfinance, demo or csv:DIR (default THETOOL_DATA_SOURCE)")

    def handle(self, *args, **options):
        source = options["source"] or settings.THETOOL_DATA_SOURCE
        try:
            symbols = universe.normalize_symbols(options["symbols"])
            strategy = strategies.get_strategy(options["strategy"])
            params = TradeParams(
                capital=options["capital"],
                risk_percent=options["risk_percent"],
                max_position_percent=options["max_position_percent"],
            )
            kind = self._source_kind(source)
            results = services.analyze_and_store(
                symbols=symbols, strategy_id=strategy.id, params=params, source=options["source"]
            )
        except SourceUnavailable as exc:
            raise CommandError(f"The data source {source} is unavailable: {exc.message}") from exc
        except ApplicationError as exc:
            raise CommandError(_describe(exc)) from exc
        self._print_report(results, strategy=strategy, params=params, kind=kind)

    @staticmethod
    def _source_kind(source: str) -> str:
        try:
            return source_kind(source)
        except (ValueError, ApplicationError) as exc:
            raise CommandError(f"Unknown data source {source!r}: use yfinance, demo or csv:DIR") from exc

    def _print_report(self, results, *, strategy, params, kind):
        write = self.stdout.write
        max_position = params.max_position_percent or strategy.max_position_percent
        if kind == "demo":
            write(self.style.WARNING("DEMO DATA: synthetic prices, not real quotes. Do not trade on these results."))
        write(
            f"Strategy {strategy.id} ({strategy.name}), capital {params.capital:,.2f} INR, "
            f"risk {params.risk_percent:g}%, max position {max_position:g}%, "
            f"source {kind.upper() if kind == 'demo' else kind}"
        )
        analysed = [result for result in results if not result.error]
        failed = [result for result in results if result.error]
        if analysed:
            write("")
            write(_row([header for header, _, _ in COLUMNS]))
            write(_row(["-" * width for _, width, _ in COLUMNS]))
            for result in analysed:
                line = _row(_result_cells(result))
                write(f"{line}  DEMO" if result.is_demo else line)
        if failed:
            write("")
            write(self.style.ERROR(f"Errors ({len(failed)}):"))
            for result in failed:
                write(f"  {result.symbol:<16}  {result.error}")
        write("")
        noun = "result" if len(results) == 1 else "results"
        write(f"Stored {len(results)} {noun}: {len(analysed)} analysed, {len(failed)} failed.")


def _describe(exc: ApplicationError) -> str:
    """The error's message, plus one line per reason when it lists several (invalid symbols)."""
    reasons = exc.details.get("reasons") or []
    return "\n".join([exc.message, *(f"  {reason}" for reason in reasons)])
