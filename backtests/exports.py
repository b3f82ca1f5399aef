"""A backtest's table as CSV or Excel: one row per verdict bucket, with what it rests on on every row."""

import csv
import io

from openpyxl import Workbook

from backtests.models import BacktestResult
from jobs.exports import FORMULA_PREFIXES
from jobs.models import AnalysisJob
from stocks.backtest import PAST_RESULTS_NOTE

COLUMNS = (
    "strategy_id", "verdict", "signals", "trades", "too_few_signals", "hit_rate", "hit_rate_ci_low",
    "hit_rate_ci_high", "fwd5_mean", "fwd10_mean", "fwd20_mean", "fwd20_median", "expectancy_percent",
    "expectancy_ci_low", "expectancy_ci_high", "expectancy_inr", "max_drawdown_percent", "buy_and_hold_percent",
    "first_day", "last_day", "data_source", "synthetic", "costs", "note",
)  # fmt: skip


def bucket_row(job: AnalysisJob, bucket: BacktestResult) -> list:
    stats = bucket.stats
    hit_ci = stats.get("hit_rate_ci") or [None, None]
    exp_ci = stats.get("expectancy_ci") or [None, None]
    costs = "; ".join(f"{key}={value:g}" for key, value in bucket.costs.items())
    return [
        bucket.strategy_id, bucket.verdict, bucket.signals, bucket.trades, bucket.too_few_signals, bucket.hit_rate,
        hit_ci[0], hit_ci[1], stats["forward_mean"]["5"], stats["forward_mean"]["10"], stats["forward_mean"]["20"],
        stats["forward_median"]["20"], bucket.expectancy_percent, exp_ci[0], exp_ci[1], stats.get("expectancy_inr"),
        stats.get("max_drawdown_percent"), bucket.buy_and_hold_percent, bucket.first_day, bucket.last_day,
        job.data_source, job.data_source == "demo", costs, PAST_RESULTS_NOTE,
    ]  # fmt: skip


def _safe(value):
    # A cell starting like a formula is run by spreadsheet programs (CSV injection): quote it.
    if isinstance(value, str) and value.startswith(FORMULA_PREFIXES):
        return "'" + value
    return value


def csv_text(*, job: AnalysisJob, buckets) -> str:
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(COLUMNS)
    for bucket in buckets:
        writer.writerow([_safe(value) for value in bucket_row(job, bucket)])
    return out.getvalue()


def xlsx_bytes(*, job: AnalysisJob, buckets) -> bytes:
    workbook = Workbook()
    sheet = workbook.active
    sheet.title = "Backtest"
    sheet.append(COLUMNS)
    for bucket in buckets:
        sheet.append([_safe(value) for value in bucket_row(job, bucket)])
    sheet.freeze_panes = "A2"
    out = io.BytesIO()
    workbook.save(out)
    return out.getvalue()
