"""A job's results as CSV or Excel: one row per symbol, the same columns in both.

Rows are read with `.iterator()` and written as they come, so an all-stocks job (2,192 rows)
never sits in memory twice. Excel uses openpyxl's write-only mode (~0.4 s for 2,000 x 20 cells).
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from zoneinfo import ZoneInfo

from django.db.models import F
from openpyxl import Workbook

from jobs.models import AnalysisJob
from stocks.models import AnalysisResult

XLSX_CONTENT_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
IST = ZoneInfo("Asia/Kolkata")

COLUMNS = (
    "symbol",
    "verdict",
    "score",
    "signal",
    "entry",
    "stop_loss",
    "target",
    "risk_reward",
    "position_size",
    "capital",
    "strategy_id",
    "data_source",
    "last_bar",
    "analysed_at_ist",
    "error",
)

# A cell starting with one of these is run as a formula by spreadsheet programs (CSV injection).
FORMULA_PREFIXES = ("=", "+", "-", "@", "\t", "\r")


def result_row(result: AnalysisResult) -> list:
    """One result as plain values in COLUMNS order (numbers stay numbers, None stays empty)."""
    return [
        result.symbol,
        result.verdict,
        result.score,
        result.signal,
        result.entry,
        result.stop_loss,
        result.target,
        result.risk_reward,
        result.position_size,
        result.capital,
        result.strategy_id,
        result.data_source,
        (result.provenance or {}).get("last_bar", ""),
        result.created_at.astimezone(IST).strftime("%Y-%m-%d %H:%M:%S"),
        result.error,
    ]


def _safe_text(value):
    """Neutralise text that a spreadsheet would execute; numbers and None pass through."""
    if isinstance(value, str) and value.startswith(FORMULA_PREFIXES):
        return "'" + value
    return value


def rows(job: AnalysisJob) -> Iterator[list]:
    """The results of `job`, best score first, as safe plain values."""
    # Failed symbols (no score) last on every database.
    results = AnalysisResult.objects.filter(job=job).order_by(F("score").desc(nulls_last=True), "symbol")
    for result in results.iterator(chunk_size=500):
        yield [_safe_text(value) for value in result_row(result)]


class _Echo:
    """A file-like object whose write() returns the line, so csv.writer can feed a stream."""

    def write(self, value: str) -> str:
        return value


def csv_lines(job: AnalysisJob) -> Iterator[str]:
    """CSV text line by line (header first), for a StreamingHttpResponse."""
    writer = csv.writer(_Echo())
    yield writer.writerow(COLUMNS)
    for row in rows(job):
        yield writer.writerow(["" if value is None else value for value in row])


def xlsx_bytes(job: AnalysisJob) -> bytes:
    """An .xlsx workbook with one "Results" sheet; decimals are written as numbers."""
    workbook = Workbook(write_only=True)
    sheet = workbook.create_sheet("Results")
    sheet.append(list(COLUMNS))
    for row in rows(job):
        sheet.append([float(value) if hasattr(value, "as_tuple") else value for value in row])
    buffer = io.BytesIO()
    workbook.save(buffer)
    return buffer.getvalue()
