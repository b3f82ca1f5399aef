"""Benchmark of the vectorised backtest (stocks.backtest) on already-fetched bars.

Run: .venv/bin/python bench/bench_backtest.py [--symbols 2192] [--bars 500]

Measures, with CPU time (`time.process_time`):
- per symbol at 500 bars: every day scored, planned, walked forward and costed, for 1 and for 5 strategies;
- the universe: 2,192 symbols x 500 bars x 5 strategies, plus the per-bucket statistics, with the
  tracemalloc peak and the process's max RSS (target: under 10 s of CPU);
- the speed-up over calling the live analysis (`analyze`) on every prefix, day by day.

Data: the demo source's deterministic synthetic bars (`stocks.market_data.demo_history`), one
symbol name per index. No network, no database.
"""

import argparse
import os
import platform
import resource
import sys
import time
import tracemalloc
from datetime import UTC, date, datetime
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "thetool.settings")

import django  # noqa: E402

django.setup()

from stocks import backtest  # noqa: E402
from stocks.analysis import TradeParams, analyze  # noqa: E402
from stocks.bars import PriceHistory  # noqa: E402
from stocks.market_data import demo_history  # noqa: E402
from stocks.strategies import STRATEGIES  # noqa: E402

PARAMS = TradeParams(capital=1_000_000)
COSTS = backtest.Costs()
ALL = list(STRATEGIES.values())


def histories(count: int, bars: int) -> list[PriceHistory]:
    return [demo_history(f"SYM{index:04d}.NS", today=date(2026, 11, 27), bars=bars) for index in range(count)]


def per_symbol_ms(sample: list[PriceHistory], strategies) -> float:
    best = float("inf")
    for _ in range(3):
        started = time.process_time()
        for history in sample:
            backtest.backtest_symbol(history=history, strategies=strategies, params=PARAMS, costs=COSTS)
        best = min(best, (time.process_time() - started) / len(sample) * 1000)
    return best


def universe(all_histories: list[PriceHistory], *, trace: bool) -> tuple[float, float, int]:
    """(CPU seconds, tracemalloc peak MiB, scored days) for every symbol x 5 strategies + the statistics.

    tracemalloc slows every allocation, so the CPU figure comes from a run without it.
    """
    if trace:
        tracemalloc.start()
    started = time.process_time()
    runs = {strategy.id: [] for strategy in ALL}
    for history in all_histories:
        for strategy_id, trades in backtest.backtest_symbol(
            history=history, strategies=ALL, params=PARAMS, costs=COSTS
        ).items():
            runs[strategy_id].append(trades)
    for trades in runs.values():
        backtest.summarise(trades=trades, capital=PARAMS.capital)
    cpu = time.process_time() - started
    peak = tracemalloc.get_traced_memory()[1] / 2**20 if trace else 0.0
    tracemalloc.stop()
    days = sum(len(trades.dates) for trades in runs[1])
    return cpu, peak, days


def live_day_by_day_ms(history: PriceHistory, strategy) -> tuple[float, int]:
    """CPU ms to analyse every scorable prefix of `history` with the live `analyze` (one strategy)."""
    _, _, _, days = backtest.score_days(history)
    arrays = (history.dates, history.open, history.high, history.low, history.close, history.volume)
    started = time.process_time()
    for day in days:
        prefix = PriceHistory(history.symbol, history.source, *(values[: day + 1] for values in arrays))
        analyze(prefix, strategy, PARAMS)
    return (time.process_time() - started) * 1000, len(days)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--symbols", type=int, default=2192)
    parser.add_argument("--bars", type=int, default=500)
    args = parser.parse_args()

    sample = histories(50, args.bars)
    one = per_symbol_ms(sample, [STRATEGIES[1]])
    five = per_symbol_ms(sample, ALL)
    live_ms, days = live_day_by_day_ms(sample[0], STRATEGIES[1])
    vector_ms = per_symbol_ms(sample[:1], [STRATEGIES[1]])

    all_histories = histories(args.symbols, args.bars)
    cpu, _, scored = universe(all_histories, trace=False)
    traced_cpu, peak, _ = universe(all_histories, trace=True)
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024

    print(f"Date: {datetime.now(UTC):%Y-%m-%d %H:%M} UTC")
    print(
        f"Machine: {platform.system()} {platform.machine()}, nproc {os.cpu_count()}, Python {platform.python_version()}"
    )
    print(f"per symbol, {args.bars} bars, 1 strategy: {one:.2f} ms")
    print(f"per symbol, {args.bars} bars, 5 strategies: {five:.2f} ms")
    print(f"universe {args.symbols} x {args.bars} bars x 5 strategies + statistics: CPU {cpu:.2f} s")
    print(f"  scored days per strategy: {scored:,}; tracemalloc peak {peak:.1f} MiB (that run: CPU {traced_cpu:.2f} s)")
    print(f"  max RSS {rss:.0f} MiB (Django, the 2,192 input histories and both runs' results)")
    print(
        f"live analyze() day by day, one symbol, {days} days, 1 strategy: {live_ms:.0f} ms; "
        f"vectorised {vector_ms:.2f} ms; speed-up x{live_ms / vector_ms:.0f}"
    )
    print(f"numpy {np.__version__}")


if __name__ == "__main__":
    main()
