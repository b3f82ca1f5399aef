"""A job's results as CSV or Excel: one row per symbol, the same columns in both.

The caller passes the results the page shows (its verdict filter and sort, from
`jobs.selectors.filter_job_results`), so a download is what the trader sees. Rows are read with
`.iterator()`. CSV streams; the Excel sheet has real date cells, a frozen header row, an
autofilter and column widths.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from datetime import date
from zoneinfo import ZoneInfo

from django.db.models import QuerySet
from openpyxl import Workbook
from openpyxl.utils import get_column_letter

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
    "data_flags",
    "analysed_at_ist",
    "error",
)

# Excel column widths (characters) for the columns that need more than the default.
WIDTHS = {
    "symbol": 16,
    "verdict": 12,
    "data_source": 11,
    "last_bar": 12,
    "data_flags": 24,
    "analysed_at_ist": 19,
    "error": 50,
}
DEFAULT_WIDTH = 10
TIME_FORMAT = "%Y-%m-%d %H:%M:%S"

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
        _date_or_none((result.provenance or {}).get("last_bar")),
        # The data-quality flags as the pages label them ("2 sessions behind; no trades 4 sessions").
        "; ".join(note.label for note in result.data_notes),
        # Naive wall-clock time in IST: spreadsheets have no time zones, and the column name says IST.
        result.created_at.astimezone(IST).replace(tzinfo=None, microsecond=0),
        result.error,
    ]


def _date_or_none(raw) -> date | None:
    """The last bar's date ("2025-11-28" in provenance) as a date; None when absent or malformed."""
    try:
        return date.fromisoformat(str(raw)[:10]) if raw else None
    except ValueError:
        return None


def _safe_text(value):
    """Neutralise text that a spreadsheet would execute; numbers and None pass through."""
    if isinstance(value, str) and value.startswith(FORMULA_PREFIXES):
        return "'" + value
    return value


def rows(results: QuerySet[AnalysisResult]) -> Iterator[list]:
    """`results`, in their order, as safe plain values."""
    for result in results.iterator(chunk_size=500):
        yield [_safe_text(value) for value in result_row(result)]


class _Echo:
    """A file-like object whose write() returns the line, so csv.writer can feed a stream."""

    def write(self, value: str) -> str:
        return value


def _csv_value(value):
    if value is None:
        return ""
    return value.strftime(TIME_FORMAT) if hasattr(value, "hour") else value


def csv_lines(*, results: QuerySet[AnalysisResult]) -> Iterator[str]:
    """CSV text line by line (header first), for a StreamingHttpResponse."""
    writer = csv.writer(_Echo())
    yield writer.writerow(COLUMNS)
    for row in rows(results):
        yield writer.writerow([_csv_value(value) for value in row])


def xlsx_bytes(*, results: QuerySet[AnalysisResult]) -> bytes:
    """An .xlsx workbook with one "Results" sheet: numbers as numbers, dates as date cells (openpyxl
    formats date and datetime values itself), the header frozen and filterable, readable widths.

    Write-only mode keeps memory flat (~0.3 s for 2,192 rows); it takes the panes and widths before
    the rows and the filter range after them.
    """
    workbook = Workbook(write_only=True)
    sheet = workbook.create_sheet("Results")
    sheet.freeze_panes = "A2"
    for index, column in enumerate(COLUMNS, start=1):
        sheet.column_dimensions[get_column_letter(index)].width = WIDTHS.get(column, DEFAULT_WIDTH)
    sheet.append(list(COLUMNS))
    last_row = 1
    for row in rows(results):
        sheet.append([float(value) if hasattr(value, "as_tuple") else value for value in row])
        last_row += 1
    sheet.auto_filter.ref = f"A1:{get_column_letter(len(COLUMNS))}{last_row}"
    buffer = io.BytesIO()
    workbook.save(buffer)
    return buffer.getvalue()
