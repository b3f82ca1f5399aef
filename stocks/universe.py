"""The stock universe: symbol normalisation, universe-file parsing and the bulk upsert into `Stock`.

Two file formats are understood (the header decides):
- NSE's own `EQUITY_L.csv`: SYMBOL, NAME OF COMPANY, SERIES, DATE OF LISTING, ... where every column
  name after the first starts with a space;
- the simple `symbol,name,yahoo_symbol` format (name and yahoo_symbol optional).
Bad rows are reported as strings ("line 7: ..."), never raised: one typo must not stop 2,000 good rows.
"""

import csv
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

from django.db import transaction
from django.utils import timezone

from stocks.exceptions import InvalidSymbol
from stocks.models import IndexMembership, Stock

# Yahoo's suffix for each exchange we accept; a bare symbol is an NSE symbol.
EXCHANGE_SUFFIXES = {".NS": "NSE", ".BO": "BSE"}
DEFAULT_SUFFIX = ".NS"
SYMBOL_MAX_LENGTH = 20  # the exchange symbol without suffix; NSE's longest today has 10 characters
ALLOWED_CHARACTERS = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789&-_.")
_BASE_PATTERN = re.compile(r"[A-Z0-9][A-Z0-9&_\-]*")
NAME_MAX_LENGTH = Stock._meta.get_field("name").max_length
SERIES_MAX_LENGTH = Stock._meta.get_field("series").max_length
DB_BATCH = 500  # rows per bulk statement / IN (...) list: stays far below every backend's parameter limit


# --- Symbols ---------------------------------------------------------------------------------


def _shown(raw) -> str:
    """The offending input for a message, cut short so a 10 kB string cannot flood a response."""
    text = repr(raw)
    return text if len(text) <= 40 else text[:37] + "...'"


def _symbol_problem(raw) -> str | None:
    """Why `raw` is not a valid symbol, or None. Runs on the trimmed text, before upper-casing."""
    if not isinstance(raw, str):
        return f"Symbol must be a string, got {type(raw).__name__} {_shown(raw)}."
    text = raw.strip()
    if not text:
        return "Symbol is empty."
    if len(text) > SYMBOL_MAX_LENGTH + 3:
        return f"Symbol {_shown(raw)} is too long (at most {SYMBOL_MAX_LENGTH} characters plus .NS or .BO)."
    if any(ch.isspace() for ch in text):
        return f"Symbol {_shown(raw)} contains a space."
    if not text.isascii():
        return f"Symbol {_shown(raw)} contains non-ASCII characters."
    bad = sorted({ch for ch in text.upper() if ch not in ALLOWED_CHARACTERS})
    if bad:
        listed = " ".join(bad)
        return f"Symbol {_shown(raw)} contains characters that are not allowed ({listed}); allowed: A-Z 0-9 & - _ ."
    return None


def _split_suffix(text: str) -> tuple[str, str]:
    """('M&M', '.NS') from 'M&M.NS' or 'M&M'; the suffix is validated by the caller."""
    base, dot, suffix = text.rpartition(".")
    if not dot:
        return text, DEFAULT_SUFFIX
    return base, "." + suffix


def normalize_symbol(raw: str) -> str:
    """The Yahoo symbol for user input: trimmed, upper-cased, `.NS` added to a bare NSE symbol.

    'reliance' -> 'RELIANCE.NS', ' m&m ' -> 'M&M.NS', 'bajaj-auto.ns' -> 'BAJAJ-AUTO.NS',
    '500325.bo' -> '500325.BO'. Raises InvalidSymbol with a message naming the problem.
    """
    problem = _symbol_problem(raw)
    if problem:
        raise InvalidSymbol(problem, details={"symbol": raw if isinstance(raw, str) else _shown(raw)})
    text = raw.strip().upper()
    base, suffix = _split_suffix(text)
    if suffix not in EXCHANGE_SUFFIXES:
        raise InvalidSymbol(
            f"Symbol {_shown(raw)} has an unsupported exchange suffix {suffix}; use .NS (NSE) or .BO (BSE).",
            details={"symbol": raw},
        )
    if not base:
        raise InvalidSymbol(f"Symbol {_shown(raw)} has no name before its suffix.", details={"symbol": raw})
    if len(base) > SYMBOL_MAX_LENGTH:
        raise InvalidSymbol(
            f"Symbol {_shown(raw)} is too long (at most {SYMBOL_MAX_LENGTH} characters before the suffix).",
            details={"symbol": raw},
        )
    if not _BASE_PATTERN.fullmatch(base):
        raise InvalidSymbol(
            f"Symbol {_shown(raw)} is malformed: it must start with a letter or digit and contain one dot at most.",
            details={"symbol": raw},
        )
    return base + suffix


def normalize_symbols(raw: list) -> list[str]:
    """Each symbol normalised, de-duplicated and sorted.

    Raises one InvalidSymbol listing every bad entry in `details["invalid"]` (with `details["reasons"]`
    in the same order), so a client can fix them all at once.
    """
    if not isinstance(raw, list | tuple):
        raise InvalidSymbol(f"Symbols must be a list, got {type(raw).__name__}.", details={"invalid": [_shown(raw)]})
    valid, invalid, reasons = set(), [], []
    for item in raw:
        try:
            valid.add(normalize_symbol(item))
        except InvalidSymbol as exc:
            # Keep JSON-friendly values as they came; anything else is shown by its repr.
            invalid.append(item if isinstance(item, str | int | float | bool | type(None)) else _shown(item))
            reasons.append(exc.message)
    if invalid:
        count = len(invalid)
        noun = "symbol is" if count == 1 else "symbols are"
        shown = ", ".join(_shown(item) for item in invalid[:10]) + (", ..." if count > 10 else "")
        raise InvalidSymbol(f"{count} {noun} invalid: {shown}", details={"invalid": invalid, "reasons": reasons})
    return sorted(valid)


def exchange_of(yahoo_symbol: str) -> str:
    """'NSE' or 'BSE' for a normalised Yahoo symbol."""
    return EXCHANGE_SUFFIXES[_split_suffix(yahoo_symbol)[1]]


# --- Universe files --------------------------------------------------------------------------


@dataclass(frozen=True)
class UniverseRow:
    """One stock as a universe file describes it. `None` means "the file does not say": keep what we have."""

    symbol: str  # exchange symbol without suffix, e.g. M&M
    yahoo_symbol: str  # e.g. M&M.NS
    name: str | None = None
    series: str | None = None
    exchange: str = "NSE"
    industry: str | None = None


@dataclass
class LoadSummary:
    created: int = 0
    updated: int = 0
    unchanged: int = 0
    deactivated: int = 0
    index_members: int = 0  # stocks listed in the index after loading an index constituent file
    skipped: list[str] = field(default_factory=list)  # one reason per skipped row

    def __str__(self) -> str:
        return (
            f"created {self.created}, updated {self.updated}, unchanged {self.unchanged}, "
            f"deactivated {self.deactivated}, skipped {len(self.skipped)}"
        )


_NSE_COLUMNS = {"SYMBOL", "NAME OF COMPANY"}
# NSE's index constituent files (ind_nifty50list.csv, ind_nifty500list.csv, ...).
_INDEX_COLUMNS = {"COMPANY NAME", "INDUSTRY", "SYMBOL"}
INDUSTRY_MAX_LENGTH = Stock._meta.get_field("industry").max_length


def parse_universe_file(path) -> tuple[list[UniverseRow], list[str]]:
    """Rows and per-line errors of a universe file (EQUITY_L.csv or symbol,name,yahoo_symbol).

    Raises OSError when the file cannot be read. A file whose header is neither format gives
    no rows and one error.
    """
    # utf-8-sig drops a BOM; undecodable bytes in a company name must not reject the whole file.
    with Path(path).open(encoding="utf-8-sig", errors="replace", newline="") as handle:
        return parse_universe_lines(handle)


def parse_universe_lines(lines: Iterable[str]) -> tuple[list[UniverseRow], list[str]]:
    """Like parse_universe_file, for text already in memory (e.g. a download)."""
    reader = csv.reader(lines)
    header = next(reader, None)
    if not header:
        return [], ["the file is empty"]
    # NSE's EQUITY_L.csv starts every column name after the first with a space.
    columns = [name.strip().upper() for name in header]
    if _INDEX_COLUMNS <= set(columns):
        mapping = {"symbol": "SYMBOL", "name": "COMPANY NAME", "series": "SERIES", "industry": "INDUSTRY"}
    elif _NSE_COLUMNS <= set(columns):
        mapping = {"symbol": "SYMBOL", "name": "NAME OF COMPANY", "series": "SERIES"}
    elif "SYMBOL" in columns:
        mapping = {"symbol": "SYMBOL", "name": "NAME", "yahoo_symbol": "YAHOO_SYMBOL"}
    else:
        return [], [
            f"unrecognised header {header!r}: expected NSE's EQUITY_L.csv, an NSE index "
            "constituent file (Company Name,Industry,Symbol,...) or symbol,name,yahoo_symbol"
        ]
    positions = {key: columns.index(column) for key, column in mapping.items() if column in columns}
    return _rows_from_records(reader, positions)


def _rows_from_records(reader, positions: dict[str, int]) -> tuple[list[UniverseRow], list[str]]:
    rows, errors = [], []
    seen_symbols, seen_yahoo = {}, {}
    for record in reader:
        line = reader.line_num
        if not any(cell.strip() for cell in record):
            continue  # blank lines (a trailing newline) are not errors
        values = {key: record[index].strip() if index < len(record) else "" for key, index in positions.items()}
        try:
            row = _row_from_values(values)
        except InvalidSymbol as exc:
            errors.append(f"line {line}: {exc.message}")
            continue
        if row.symbol in seen_symbols:
            errors.append(f"line {line}: duplicate symbol {row.symbol} (first on line {seen_symbols[row.symbol]})")
            continue
        if row.yahoo_symbol in seen_yahoo:
            errors.append(
                f"line {line}: duplicate Yahoo symbol {row.yahoo_symbol} (first on line {seen_yahoo[row.yahoo_symbol]})"
            )
            continue
        seen_symbols[row.symbol], seen_yahoo[row.yahoo_symbol] = line, line
        rows.append(row)
    return rows, errors


def _row_from_values(values: dict[str, str]) -> UniverseRow:
    """One UniverseRow from a record's trimmed cells; raises InvalidSymbol for a bad symbol."""
    raw_symbol = values.get("symbol", "")
    symbol = normalize_symbol(raw_symbol)
    base, _ = _split_suffix(symbol)
    yahoo_symbol = normalize_symbol(values["yahoo_symbol"]) if values.get("yahoo_symbol") else symbol
    name = values.get("name") or None
    industry = values.get("industry") or None
    series = (values.get("series") or "").upper() or None
    if series and len(series) > SERIES_MAX_LENGTH:
        raise InvalidSymbol(f"series {series!r} of {base} is longer than {SERIES_MAX_LENGTH} characters")
    return UniverseRow(
        symbol=base,
        yahoo_symbol=yahoo_symbol,
        name=name[:NAME_MAX_LENGTH] if name else None,
        series=series,
        exchange=exchange_of(yahoo_symbol),
        industry=industry[:INDUSTRY_MAX_LENGTH] if industry else None,
    )


# --- Loading ---------------------------------------------------------------------------------


def _changes(stock: Stock, row: UniverseRow) -> dict:
    """Field values the row would change on an existing stock (reactivation included)."""
    wanted = {"yahoo_symbol": row.yahoo_symbol, "exchange": row.exchange, "is_active": True}
    if row.name is not None:
        wanted["name"] = row.name
    if row.series is not None:
        wanted["series"] = row.series
    if row.industry is not None:
        wanted["industry"] = row.industry
    return {name: value for name, value in wanted.items() if getattr(stock, name) != value}


def _new_stock(row: UniverseRow) -> Stock:
    return Stock(
        symbol=row.symbol,
        yahoo_symbol=row.yahoo_symbol,
        name=row.name or "",
        series=row.series if row.series is not None else "EQ",
        exchange=row.exchange,
        industry=row.industry or "",
        is_active=True,
    )


@dataclass
class _Plan:
    create: list[Stock] = field(default_factory=list)
    update: list[Stock] = field(default_factory=list)
    update_fields: set[str] = field(default_factory=set)
    deactivate_ids: list[int] = field(default_factory=list)
    listed: set[str] = field(default_factory=set)  # every symbol the file lists and was not skipped


def _plan_load(rows: Iterable[UniverseRow], summary: LoadSummary, deactivate_missing: bool) -> _Plan:
    """Decide, in memory, what to create, update and deactivate; record skips in the summary."""
    existing = {stock.symbol: stock for stock in Stock.objects.all()}
    yahoo_owner = {stock.yahoo_symbol: stock.symbol for stock in existing.values()}
    plan, in_file = _Plan(), set()
    for row in rows:
        if row.symbol in in_file:
            summary.skipped.append(f"{row.symbol}: listed twice; the first entry was used")
            continue
        owner = yahoo_owner.get(row.yahoo_symbol)
        if owner is not None and owner != row.symbol:
            summary.skipped.append(f"{row.symbol}: Yahoo symbol {row.yahoo_symbol} already belongs to {owner}")
            continue
        in_file.add(row.symbol)
        yahoo_owner[row.yahoo_symbol] = row.symbol
        stock = existing.get(row.symbol)
        if stock is None:
            plan.create.append(_new_stock(row))
            continue
        changes = _changes(stock, row)
        if not changes:
            summary.unchanged += 1
            continue
        for name, value in changes.items():
            setattr(stock, name, value)
        plan.update.append(stock)
        plan.update_fields.update(changes)
    plan.listed = in_file
    if deactivate_missing:
        plan.deactivate_ids = [s.pk for s in existing.values() if s.is_active and s.symbol not in in_file]
    return plan


def load_universe_rows(
    *, rows: Iterable[UniverseRow], deactivate_missing: bool = False, index_name: str | None = None
) -> LoadSummary:
    """Upsert stocks by symbol in a few bulk statements; optionally deactivate stocks not in `rows`.

    Re-running with the same rows changes nothing (everything counts as unchanged). A row whose Yahoo
    symbol belongs to another stock is skipped with a reason. With `index_name` ("NIFTY 500") the rows
    are that index's constituents: its membership becomes exactly the stocks of the file (an index is
    rebalanced twice a year, so stocks that left it leave the membership). Deactivation with no rows at all is
    refused (ValueError): an empty or unreadable file must not switch off the whole universe.
    """
    rows = list(rows)
    if deactivate_missing and not rows:
        raise ValueError("Refusing to deactivate every stock: the universe file has no valid rows.")
    summary = LoadSummary()
    plan = _plan_load(rows, summary, deactivate_missing)
    now = timezone.now()
    for stock in plan.update:
        stock.updated_at = now  # bulk_update skips auto_now
    # One short transaction: the whole file lands or nothing does (SQLite holds its write lock here).
    with transaction.atomic():
        Stock.objects.bulk_create(plan.create, batch_size=DB_BATCH)
        if plan.update:
            fields = sorted(plan.update_fields | {"updated_at"})
            Stock.objects.bulk_update(plan.update, fields, batch_size=DB_BATCH)
        for start in range(0, len(plan.deactivate_ids), DB_BATCH):
            batch = plan.deactivate_ids[start : start + DB_BATCH]
            Stock.objects.filter(pk__in=batch).update(is_active=False, updated_at=now)
        if index_name:
            summary.index_members = _replace_index_members(index_name=index_name, symbols=plan.listed)
    summary.created, summary.updated = len(plan.create), len(plan.update)
    summary.deactivated = len(plan.deactivate_ids)
    return summary


def _replace_index_members(*, index_name: str, symbols: set[str]) -> int:
    """Make `index_name`'s membership exactly `symbols` (inside the caller's transaction)."""
    stock_ids = set(Stock.objects.filter(symbol__in=symbols).values_list("pk", flat=True))
    IndexMembership.objects.filter(index_name=index_name).exclude(stock_id__in=stock_ids).delete()
    present = set(IndexMembership.objects.filter(index_name=index_name).values_list("stock_id", flat=True))
    IndexMembership.objects.bulk_create(
        [IndexMembership(index_name=index_name, stock_id=pk) for pk in stock_ids - present], batch_size=DB_BATCH
    )
    return len(stock_ids)
