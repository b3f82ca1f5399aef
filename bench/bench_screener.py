"""Benchmark: the All-stocks screener's server time for each filter on 2,192 stocks (target < 100 ms).

Builds a throw-away database with 2,192 stocks, `--results` analyses per stock (spread over the five
strategies, with the twelve indicator readings a real result stores, written by
`stocks.services.record_results` as jobs write them: typed screener columns and LatestResult
pointers), a price line per stock and a 500-stock index, then requests `/` through Django's test
client with each filter and reports the median and worst of `--repeat` requests (the whole view:
query, paging, template) and the number of SQL queries of one request.

Usage: .venv/bin/python bench/bench_screener.py [--results 5] [--repeat 15]
SQLite in a temporary directory by default; set BENCH_DATABASE_URL=postgres://... for PostgreSQL
(a database of that name is created and dropped by the test runner's helpers: use a throw-away name).
"""

import argparse
import os
import platform
import random
import re
import statistics
import sys
import tempfile
import time
from decimal import Decimal
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
STOCKS = 2192
PRICE_AND_PLAN_COLUMNS = ("close", "change", "volume", "range52", "verdict", "score", "plan")

FILTERS = {
    "no filter": {},
    "verdict=Buy": {"verdict": "Buy"},
    "score 0.2..0.8": {"score_min": "0.2", "score_max": "0.8"},
    "RSI < 30": {"rsi_max": "30"},
    "close > EMA200": {"above_ema200": "1"},
    "ADX > 25": {"adx_min": "25"},
    "MACD hist < 0": {"macd": "negative"},
    "Bollinger above": {"bollinger": "above"},
    "CMF > 0": {"cmf": "positive"},
    "analysed within 7 days": {"fresh_days": "7"},
    "NIFTY 500": {"index": "NIFTY 500"},
    "industry": {"industry": "Information Technology"},
    "all combined": {
        "verdict": "Buy", "rsi_min": "30", "rsi_max": "70", "above_ema50": "1", "above_ema200": "1",
        "adx_min": "15", "macd": "positive", "cmf": "positive", "index": "NIFTY 500", "fresh_days": "30",
    },
    "sort by 1-day % (price columns)": {"sort": "-change", "col": list(PRICE_AND_PLAN_COLUMNS)},
}  # fmt: skip


def readings(rng: random.Random, names) -> list[dict]:
    close, ema50, ema200 = rng.uniform(50, 500), rng.uniform(50, 500), rng.uniform(50, 500)
    values = {
        "macd": rng.uniform(-5, 5), "adx": rng.uniform(5, 50), "ema": (ema50 - ema200) / ema200 * 100,
        "psar": close * 0.97, "rsi": rng.uniform(5, 95), "bollinger": rng.uniform(-0.3, 1.3),
        "cmf": rng.uniform(-0.4, 0.4),
    }  # fmt: skip
    details = {
        "ema": {"ema50": round(ema50, 2), "ema200": round(ema200, 2)}, "psar": {"close": round(close, 2)},
        "macd": {"hist": round(values["macd"], 4)}, "bollinger": {"percent_b": round(values["bollinger"], 4)},
    }  # fmt: skip
    return [
        {"name": n, "category": "x", "value": round(values.get(n, rng.uniform(-1, 1)), 4), "vote": 0,
         "confidence": 0.5, "rule": f"{n} rule text of a realistic length -> no vote", "details": details.get(n, {})}
        for n in names
    ]  # fmt: skip


def build(results_per_stock: int) -> None:
    from django.utils import timezone

    from stocks.indicators import INDICATOR_NAMES
    from stocks.models import AnalysisResult, IndexMembership, Stock, StockQuote
    from stocks.services import record_results

    rng = random.Random(7)
    Stock.objects.all().delete()
    industries = ["Financial Services", "Information Technology", "Capital Goods", "Healthcare", "FMCG"]
    Stock.objects.bulk_create(
        Stock(symbol=f"S{i:04d}", yahoo_symbol=f"S{i:04d}.NS", name=f"Company {i}", industry=industries[i % 5])
        for i in range(STOCKS)
    )
    stocks = list(Stock.objects.order_by("symbol"))
    IndexMembership.objects.bulk_create(IndexMembership(index_name="NIFTY 500", stock=s) for s in stocks[:500])
    verdicts = ["Strong Buy", "Buy", "Hold", "Sell", "Strong Sell"]
    now = timezone.now()
    rows = []
    for n in range(results_per_stock):
        for stock in stocks:
            score = rng.uniform(-1, 1)
            rows.append(
                AnalysisResult(
                    symbol=stock.yahoo_symbol, strategy_id=1 + n % 5, score=score, verdict=rng.choice(verdicts),
                    entry=Decimal("100.00"), stop_loss=Decimal("95.00"), target=Decimal("110.00"),
                    capital=Decimal("100000.00"), indicators=readings(rng, INDICATOR_NAMES), data_source="demo",
                )
            )  # fmt: skip
    # As the jobs store them: typed screener columns (set from the readings) and the LatestResult pointers.
    for start in range(0, len(rows), 500):
        record_results(results=rows[start : start + 500])
    assert not AnalysisResult.objects.filter(rsi__isnull=True).exists(), "typed columns not filled"
    assert not AnalysisResult.objects.filter(macd_hist__isnull=True).exists(), "typed columns not filled"
    StockQuote.objects.bulk_create(
        StockQuote(
            symbol=s.yahoo_symbol, as_of=now.date(), last_close=100.0, change_percent=rng.uniform(-5, 5),
            volume_ratio=rng.uniform(0.2, 4), high_52w=150.0, low_52w=60.0, from_high_percent=-33.3,
            from_low_percent=66.7,
        )
        for s in stocks
    )  # fmt: skip


def measure(client, params: dict, repeat: int) -> tuple[float, float, int, int]:
    from django.db import connection

    queries = []  # counted by a wrapper: the request_started signal resets connection.queries

    def count(execute, sql, params, many, context):
        queries.append(sql)
        return execute(sql, params, many, context)

    with connection.execute_wrapper(count):
        client.get("/", params)
    times = []
    for _ in range(repeat):
        started = time.perf_counter()
        response = client.get("/", params)
        times.append((time.perf_counter() - started) * 1000)
        assert response.status_code == 200, response.status_code
    shown = re.search(r'id="stock-count">([\d,]+)', response.content.decode())
    return statistics.median(times), max(times), int(shown.group(1).replace(",", "")), len(queries)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--results", type=int, default=5, help="analyses per stock (strategies 1..5 in turn)")
    parser.add_argument("--repeat", type=int, default=15)
    args = parser.parse_args()
    workdir = tempfile.mkdtemp(prefix="thetool-bench-")
    os.environ.update(
        DJANGO_SETTINGS_MODULE="thetool.settings",
        DATABASE_URL=os.environ.get("BENCH_DATABASE_URL", f"sqlite:///{workdir}/bench.sqlite3"),
        THETOOL_LOG_LEVEL="WARNING",
        THETOOL_DATA_SOURCE="demo",
    )
    sys.path.insert(0, str(ROOT))
    import django

    django.setup()
    from django.conf import settings
    from django.core.management import call_command
    from django.db import connection
    from django.test import Client

    settings.ALLOWED_HOSTS = ["*"]
    call_command("migrate", verbosity=0)
    started = time.perf_counter()
    build(args.results)
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("ANALYZE")  # fresh tables have no statistics yet; autovacuum would add them
    print(
        f"Built {STOCKS} stocks x {args.results} results in {time.perf_counter() - started:.1f} s "
        f"on {connection.vendor}"
    )
    client = Client()
    client.get("/")  # warm-up: templates, first query plans
    print(f"\n{platform.platform()}, Python {platform.python_version()}, {connection.vendor}, nproc {os.cpu_count()}\n")
    print(f"load average before: {' '.join(f'{x:.2f}' for x in os.getloadavg())}\n")
    print("| Filter | Matches | Median ms | Worst ms | Queries |\n|---|---|---|---|---|")
    for name, params in FILTERS.items():
        median, worst, count, queries = measure(client, params, args.repeat)
        print(f"| {name} | {count:,} | {median:.1f} | {worst:.1f} | {queries} |", flush=True)
    print(f"\nload average after: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")


if __name__ == "__main__":
    main()
