"""Benchmark: `manage.py load_universe` on the whole NSE list (target: < 5 s for 2,192 rows).

Loads the list into a fresh database (where the migration already put the NIFTY 50, so 50 rows are
matched and the rest created), then loads it again (every row unchanged). Reports wall clock, CPU
and the number of SQL queries of each run. The suite checks only that the load is done in bulk (a
bounded number of queries); how fast it is belongs here, where a loaded machine cannot fail a build.

Usage: .venv/bin/python bench/bench_load_universe.py [--rows N]
Reads ../shared/data/nse_stocks_complete.csv when present, else writes a synthetic list of N rows.
Uses a throw-away SQLite database in a temporary directory; prints a markdown table.
"""

import argparse
import io
import os
import platform
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SHARED_LIST = ROOT.parent / "shared" / "data" / "nse_stocks_complete.csv"
TARGET_SECONDS = 5.0


def universe_file(workdir: str, rows: int) -> Path:
    if SHARED_LIST.exists():
        return SHARED_LIST
    path = Path(workdir) / "universe.csv"
    lines = ["symbol,name,yahoo_symbol"] + [f"SYM{i:04d},Company {i},SYM{i:04d}.NS" for i in range(rows)]
    path.write_text("\n".join(lines) + "\n")
    return path


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=2192, help="rows of the synthetic list (no shared file)")
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
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from stocks.models import Stock

    call_command("migrate", verbosity=0)
    path = universe_file(workdir, args.rows)

    def timed_load() -> tuple[float, float, int, str]:
        out = io.StringIO()
        cpu, wall = time.process_time(), time.perf_counter()
        with CaptureQueriesContext(connection) as queries:
            call_command("load_universe", str(path), stdout=out)
        summary = out.getvalue().strip().split(": ", 1)[-1]  # the counts, not the file path
        return time.perf_counter() - wall, time.process_time() - cpu, len(queries), summary

    first = timed_load()
    second = timed_load()
    rows = Stock.objects.count()

    print(f"load_universe: {rows} stocks from {path.name}, Python {platform.python_version()}, nproc {os.cpu_count()}")
    print()
    print("| Run | wall | CPU | SQL queries | summary |")
    print("|---|---|---|---|---|")
    for label, (wall, cpu, queries, summary) in (("first load", first), ("re-run (all unchanged)", second)):
        print(f"| {label} | {wall:.2f} s | {cpu:.2f} s | {queries} | {summary} |")
    print()
    print(f"Target: {rows} rows in < {TARGET_SECONDS:.0f} s -> {'met' if first[0] < TARGET_SECONDS else 'NOT met'}")


if __name__ == "__main__":
    main()
