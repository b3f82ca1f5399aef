"""`manage.py backtest SYMBOL... --strategy N --source demo|csv:DIR`: print a backtest's table."""

import numpy as np
from django.core.management.base import BaseCommand, CommandError

from backtests.services import build_costs, fetch_for_backtest
from stocks import backtest, market_data
from stocks.analysis import TradeParams
from stocks.exceptions import InvalidSymbol, InvalidTradeParameters, UnknownStrategy
from stocks.indicators import MIN_BARS
from stocks.strategies import STRATEGIES, get_strategy
from stocks.universe import normalize_symbols


class Command(BaseCommand):
    help = "Backtest a strategy's verdicts on symbols and print the table per verdict bucket (nothing is stored)."

    def add_arguments(self, parser):
        parser.add_argument("symbols", nargs="+", help="Yahoo or bare NSE symbols (RELIANCE.NS, TCS)")
        parser.add_argument("--strategy", type=int, default=1, help="1-5, or 0 for every strategy")
        parser.add_argument("--source", default=None, help="yfinance, demo or csv:DIR (default THETOOL_DATA_SOURCE)")
        parser.add_argument("--capital", type=float, default=100_000.0)
        parser.add_argument("--risk-percent", type=float, default=2.0)
        parser.add_argument("--max-holding", type=int, default=backtest.DEFAULT_MAX_HOLDING)
        parser.add_argument("--min-signals", type=int, default=backtest.DEFAULT_MIN_SIGNALS)
        parser.add_argument("--start", default=None, help="First signal day, YYYY-MM-DD")
        parser.add_argument("--end", default=None, help="Last signal day, YYYY-MM-DD")
        parser.add_argument("--brokerage-percent", type=float, default=None, help="Override the 0.03%% default")

    def handle(self, *args, **options):
        try:
            strategies = list(STRATEGIES.values()) if options["strategy"] == 0 else [get_strategy(options["strategy"])]
            symbols = normalize_symbols(options["symbols"])
            params = TradeParams(capital=options["capital"], risk_percent=options["risk_percent"])
            overrides = (
                {"brokerage_percent": options["brokerage_percent"]} if options["brokerage_percent"] is not None else {}
            )
            costs = build_costs(overrides)
            source = options["source"] or None
            kind = market_data.source_kind(source)
            start = np.datetime64(options["start"], "D") if options["start"] else None
            end = np.datetime64(options["end"], "D") if options["end"] else None
        except (UnknownStrategy, InvalidSymbol, InvalidTradeParameters, ValueError) as exc:
            raise CommandError(getattr(exc, "message", str(exc))) from None
        histories, errors = fetch_for_backtest(symbols=symbols, source=source or "")
        for symbol, error in errors.items():
            self.stderr.write(f"{symbol}: {error}")
        for strategy in strategies:
            report = backtest.build_report(
                histories=histories,
                strategy=strategy,
                params=params,
                costs=costs,
                source=kind,
                start=start,
                end=end,
                max_holding=options["max_holding"],
                min_signals=options["min_signals"],
            )
            for outcome in report.symbols:
                if not outcome.scored_days:
                    self.stderr.write(
                        f"{outcome.symbol}: no day could be scored (live analysis needs {MIN_BARS} bars, "
                        f"every reading defined and no suspect price jump)"
                    )
            self.stdout.write(backtest.format_table(report) + "\n")
