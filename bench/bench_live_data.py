"""Benchmark: a cold universe job through the real yfinance against the fake Yahoo (tests/fakeyahoo.py).

Measures, for N symbols (default 2,192) with 100 ms of latency per request: the wall time and the
chart requests of a cold fetch + analysis (empty price cache and timezone cache), the same again in
the same NSE session (0 requests expected), and a profile of where the CPU goes (yfinance parsing
per symbol, validation, demo-bar generation for comparison).

Usage: .venv/bin/python bench/bench_live_data.py [--symbols N] [--latency 0.1] [--concurrency 8]
Uses a throw-away SQLite database and yfinance cache in a temporary directory; prints markdown.
"""

import argparse
import cProfile
import io
import os
import pstats
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--symbols", type=int, default=2192)
    parser.add_argument("--latency", type=float, default=0.1)
    parser.add_argument("--concurrency", type=int, default=8)
    parser.add_argument("--profile-symbols", type=int, default=200)
    args = parser.parse_args()

    workdir = Path(tempfile.mkdtemp(prefix="thetool-bench-live-"))
    os.environ.update(
        DJANGO_SETTINGS_MODULE="thetool.settings",
        DATABASE_URL=f"sqlite:///{workdir}/bench.sqlite3",
        THETOOL_LOG_LEVEL="ERROR",
        THETOOL_DATA_SOURCE="yfinance",
        THETOOL_YFINANCE_CACHE_DIR=str(workdir / "yfinance"),
        THETOOL_YAHOO_CONCURRENCY=str(args.concurrency),
        THETOOL_YAHOO_REQUESTS_PER_MINUTE="1000000",  # the fake does not throttle here: measure our own cost
    )
    sys.path.insert(0, str(ROOT))
    import warnings

    warnings.filterwarnings("ignore")
    import django

    django.setup()
    from django.core.management import call_command

    from stocks import market_data
    from stocks.analysis import TradeParams
    from stocks.services import analyze_symbols
    from tests.fakeyahoo import FakeYahoo, point_yfinance_at

    call_command("migrate", verbosity=0)
    call_command("createcachetable", verbosity=0)
    symbols = [f"SYM{i:04d}.NS" for i in range(args.symbols)]
    params = TradeParams(capital=100000)

    def run(names):
        started, cpu = time.perf_counter(), time.process_time()
        outcomes = []
        for start in range(0, len(names), 500):  # a job's batches
            outcomes += analyze_symbols(symbols=names[start : start + 500], strategy_id=1, params=params)
        return time.perf_counter() - started, time.process_time() - cpu, outcomes

    print(
        f"| measure ({args.symbols} symbols, {args.latency * 1000:.0f} ms latency, "
        f"concurrency {args.concurrency}) | value |"
    )
    print("|---|---|")
    with FakeYahoo(latency=args.latency) as fake, point_yfinance_at(fake, cache_dir=workdir / "yfinance"):
        wall, cpu, outcomes = run(symbols)
        ok = sum(outcome.analysis is not None for outcome in outcomes)
        print(f"| cold: wall / CPU | {wall:.1f} s / {cpu:.1f} s |")
        print(f"| cold: analysed | {ok} of {len(outcomes)} |")
        print(
            f"| cold: chart requests (tz probes + histories) | {fake.data_requests} "
            f"({fake.counts['tz']} + {fake.counts['history']}) |"
        )
        fake.reset_counts()
        wall, cpu, outcomes = run(symbols)
        print(f"| same session again: wall / CPU | {wall:.1f} s / {cpu:.1f} s |")
        print(f"| same session again: chart requests | {fake.data_requests} |")

        # Profile a cold fetch of fresh symbols (their timezones are unknown too).
        fresh = [f"PRO{i:04d}.NS" for i in range(args.profile_symbols)]
        fake.latency = 0.0
        profile = cProfile.Profile()
        profile.enable()
        cpu = time.process_time()
        market_data.fetch_histories(fresh)
        fetch_cpu = time.process_time() - cpu
        profile.disable()
        cpu = time.process_time()
        for name in fresh:
            market_data.demo_history(name)
        demo_cpu = time.process_time() - cpu
    print(f"| fetch CPU per symbol, no latency (main thread) | {fetch_cpu / len(fresh) * 1000:.1f} ms |")
    print(f"| demo-bar generation per symbol | {demo_cpu / len(fresh) * 1000:.2f} ms |")
    out = io.StringIO()
    pstats.Stats(profile, stream=out).sort_stats("cumulative").print_stats(12)
    print("\nProfile of the fetch (main thread; yfinance runs in fetch threads, see tottime of wait):\n")
    print("```\n" + out.getvalue().strip() + "\n```")


if __name__ == "__main__":
    main()
