"""Benchmark: the whole universe analysed from cached market data (issue target: < 5 s of CPU).

What a second same-day analysis of every stock costs: read 2,192 symbols' bars from the
PriceCache table (source yfinance, today), validate them, run the twelve indicators, score and
plan, in the batches a job uses. Yahoo is never called: the download function is replaced by one
that fails the run if it is reached.

Usage: .venv/bin/python bench/bench_universe.py [--symbols N]
Uses a throw-away SQLite database in a temporary directory; prints a markdown table.
"""

import argparse
import csv
import os
import platform
import resource
import sys
import tempfile
import time
import tracemalloc
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SHARED_SYMBOLS = ROOT.parent / "shared" / "data" / "nse_stocks_complete.csv"


def universe(count: int) -> list[str]:
    if SHARED_SYMBOLS.exists():
        with SHARED_SYMBOLS.open() as handle:
            symbols = [row["yahoo_symbol"] for row in csv.DictReader(handle)]
    else:
        symbols = [f"SYM{i:04d}.NS" for i in range(count)]
    return symbols[:count]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--symbols", type=int, default=2192)
    args = parser.parse_args()

    workdir = tempfile.mkdtemp(prefix="thetool-bench-")
    os.environ.update(
        DJANGO_SETTINGS_MODULE="thetool.settings",
        DATABASE_URL=f"sqlite:///{workdir}/bench.sqlite3",
        THETOOL_LOG_LEVEL="WARNING",
    )
    sys.path.insert(0, str(ROOT))
    import django

    django.setup()
    from django.core.management import call_command
    from django.utils import timezone

    from stocks import market_data
    from stocks.analysis import TradeParams, analyze
    from stocks.models import PriceCache
    from stocks.services import analyze_symbols
    from stocks.strategies import get_strategy

    call_command("migrate", verbosity=0)
    symbols = universe(args.symbols)
    today = market_data.final_session(timezone.now())  # the cache key: the last completed NSE session
    PriceCache.objects.bulk_create(
        [
            PriceCache(
                symbol=s,
                source="yfinance",
                fetched_on=today,
                bars=market_data.bars_to_json(h),
                bar_count=len(h),
                first_bar=h.dates[0].item(),
                last_bar=h.dates[-1].item(),
            )
            for s, h in ((s, market_data.demo_history(s)) for s in symbols)
        ],
        batch_size=500,
    )

    def no_network(*args, **kwargs):
        raise AssertionError("the benchmark must read the cache, not Yahoo")

    market_data.yahoo._download_yahoo = no_network
    params, strategy = TradeParams(capital=100000), get_strategy(1)

    # 1. Reading and validating the cache, alone.
    cpu, wall = time.process_time(), time.perf_counter()
    histories = market_data.fetch_histories(symbols, source="yfinance")
    read_cpu, read_wall = time.process_time() - cpu, time.perf_counter() - wall
    assert all(isinstance(h, market_data.PriceHistory) for h in histories.values())
    bars = len(next(iter(histories.values())))

    # 2. Analysis alone, on the histories already in memory.
    cpu = time.process_time()
    for history in histories.values():
        analyze(history, strategy, params)
    analyse_cpu = time.process_time() - cpu
    del histories

    # 3. End to end as a job does it: batches of 50 through the stock service.
    def run_like_a_job():
        found = []
        for start in range(0, len(symbols), 50):
            found += analyze_symbols(
                symbols=symbols[start : start + 50], strategy_id=1, params=params, source="yfinance"
            )
        return found

    cpu, wall = time.process_time(), time.perf_counter()
    outcomes = run_like_a_job()
    total_cpu, total_wall = time.process_time() - cpu, time.perf_counter() - wall
    failed = [o for o in outcomes if o.error]
    assert not failed, failed[:3]
    del outcomes

    # 4. The same run again under tracemalloc (which slows Python down, so it is not timed).
    tracemalloc.start()
    kept = run_like_a_job()
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    del kept

    n = len(symbols)
    print(f"Universe from cache: {n} symbols x {bars} bars, Python {platform.python_version()}, nproc {os.cpu_count()}")
    print()
    print("| Step | CPU | per symbol | wall |")
    print("|---|---|---|---|")
    rows = [
        ("read + validate cached bars (fetch_histories)", read_cpu, read_wall),
        ("analyse (12 indicators, score, plan)", analyse_cpu, None),
        ("**end to end, batches of 50 (analyze_symbols)**", total_cpu, total_wall),
    ]
    for label, cpu_seconds, wall_seconds in rows:
        wall_text = f"{wall_seconds:.2f} s" if wall_seconds is not None else ""
        print(f"| {label} | {cpu_seconds:.2f} s | {cpu_seconds / n * 1000:.2f} ms | {wall_text} |")
    print()
    print(
        f"Peak traced Python memory for the end-to-end run, all {n} outcomes kept: {peak / 2**20:.1f} MiB; "
        f"process max RSS: {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f} MiB"
    )
    print(f"Target: the whole universe from cached data in < 5 s of CPU -> {'met' if total_cpu < 5 else 'NOT met'}")


if __name__ == "__main__":
    main()
