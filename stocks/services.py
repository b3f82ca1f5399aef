"""Analyse symbols and turn the outcomes into AnalysisResult rows.

The glue between the outside world (`stocks.market_data`), the pure engine (`stocks.analysis`,
`stocks.strategies`) and the database. The job worker and `manage.py analyze` both use it:

    outcomes = analyze_symbols(symbols=[...], strategy_id=1, params=TradeParams(capital=100000))
    rows = [build_result(o, strategy_id=1, capital=100000, job=job) for o in outcomes]

Modules are referenced through their module objects (`market_data.fetch_histories`,
`stocks.analysis.analyze`) so that tests can patch them at the process edge.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import timedelta
from decimal import ROUND_HALF_UP, Decimal

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.db import IntegrityError, connection, connections, models, transaction
from django.db.models import Max
from django.utils import timezone

from stocks import analysis as engine
from stocks import market_data, quality, strategies
from stocks.exceptions import InvalidTradeParameters
from stocks.market_data.cache import history_from_json
from stocks.models import ANY_STRATEGY, AnalysisResult, LatestResult, PriceCache, Stock, StockQuote
from stocks.quotes import compute_quote

logger = logging.getLogger(__name__)

CENT = Decimal("0.01")
SOURCE_KINDS = ("yfinance", "demo", "csv")


@dataclass(frozen=True)
class SymbolOutcome:
    """What happened to one symbol: an analysis, or the reason there is none (`error`)."""

    symbol: str
    analysis: engine.Analysis | None
    error: str = ""


def analyze_symbols(
    *,
    symbols: list[str],
    strategy_id: int,
    params: engine.TradeParams,
    source: str | None = None,
) -> list[SymbolOutcome]:
    """Analyse already-normalised Yahoo symbols; one outcome per symbol, in input order.

    Steps: resolve the strategy (UnknownStrategy before any fetch), fetch every symbol's bars in
    ONE bulk call, then run the engine per symbol. A bad symbol never kills the batch:
    MarketDataError becomes that symbol's error text, and any other exception is logged with its
    traceback and reported as a generic internal error. SourceUnavailable (the whole source is
    down) propagates so the caller can stop instead of failing every symbol. No database writes.
    """
    strategy = strategies.get_strategy(strategy_id)
    symbols = list(symbols)
    if not symbols:
        return []
    histories = market_data.fetch_histories(symbols, source=source)
    outcomes = [_analyze_one(symbol, histories.get(symbol), strategy, params) for symbol in symbols]
    _add_quality_flags(outcomes, histories)
    return outcomes


def _add_quality_flags(outcomes: list[SymbolOutcome], histories: dict) -> None:
    """provenance["quality"]: data as of, sessions behind the NSE calendar and a close not yet settled
    (live Yahoo bars only), zero-volume runs."""
    now = timezone.now()
    final = market_data.final_session(now)
    calendar = market_data.nse_calendar()
    in_settling_window = now < calendar.final_at(final)  # the newest session closed minutes ago
    for outcome in outcomes:
        history = histories.get(outcome.symbol)
        if outcome.analysis is None or not isinstance(history, market_data.PriceHistory):
            continue
        behind, settling = None, False
        if history.source == market_data.YFINANCE:
            last = history.dates[-1].astype("datetime64[D]").item()
            behind = len(calendar.sessions(last + timedelta(days=1), final)) if last < final else 0
            settling = (in_settling_window and last == final) or history.unsettled
        outcome.analysis.provenance["quality"] = quality.describe_quality(
            history, sessions_behind=behind, settling=settling
        )


def _analyze_one(symbol, history, strategy, params) -> SymbolOutcome:
    if history is None:
        # The adapter promises one entry per symbol; a missing one is reported, not guessed at.
        return SymbolOutcome(symbol=symbol, analysis=None, error=f"no data returned for {symbol}")
    if isinstance(history, market_data.MarketDataError):
        return SymbolOutcome(symbol=symbol, analysis=None, error=history.message)
    try:
        return SymbolOutcome(symbol=symbol, analysis=engine.analyze(history, strategy, params))
    except market_data.SourceUnavailable:
        raise
    except market_data.MarketDataError as exc:
        return SymbolOutcome(symbol=symbol, analysis=None, error=exc.message)
    except Exception:
        # A bug in the engine for one series must not cost the other 2,000 symbols their results.
        logger.error("Analysis of %s failed unexpectedly", symbol, exc_info=True)
        return SymbolOutcome(symbol=symbol, analysis=None, error=f"internal error analysing {symbol}")


def build_result(
    outcome: SymbolOutcome,
    *,
    strategy_id: int,
    capital,
    job=None,
    source: str | None = None,
) -> AnalysisResult:
    """An unsaved AnalysisResult for one outcome.

    `source` (optional) labels failed symbols with the data source they were fetched from;
    successful ones take it from the analysis provenance.
    """
    result = AnalysisResult(job=job, symbol=outcome.symbol, strategy_id=strategy_id, capital=to_cents(capital))
    found = outcome.analysis
    if found is None:
        result.error = outcome.error or f"no analysis for {outcome.symbol}"
        result.data_source = _source_label(source) if source else ""
        return result
    result.score = found.score
    result.verdict = found.verdict
    result.signal = found.signal
    result.entry = to_cents(found.entry)
    result.stop_loss = to_cents(found.stop_loss)
    result.target = to_cents(found.target)
    result.risk_reward = found.risk_reward
    result.position_size = found.position_size
    result.shares_by_risk = found.shares_by_risk
    result.shares_by_max_position = found.shares_by_max_position
    result.size_limited_by = found.size_limited_by
    result.risk_amount = to_cents(found.risk_amount)
    result.risk_taken_percent = found.risk_taken_percent
    result.indicators = list(found.indicators)
    result.provenance = dict(found.provenance)
    result.data_source = _source_label(found.provenance.get("source") or source or "")
    return result


def analyze_and_store(
    *,
    symbols: list[str],
    strategy_id: int,
    params: engine.TradeParams,
    source: str | None = None,
) -> list[AnalysisResult]:
    """Analyse synchronously and store one result per symbol (no job): `manage.py analyze`.

    Fetching and analysing happen outside any transaction; only the insert holds the write lock
    (SQLite runs in IMMEDIATE mode, where every atomic block blocks other writers).
    """
    outcomes = analyze_symbols(symbols=symbols, strategy_id=strategy_id, params=params, source=source)
    effective_source = source or settings.THETOOL_DATA_SOURCE
    results = [
        build_result(outcome, strategy_id=strategy_id, capital=params.capital, source=effective_source)
        for outcome in outcomes
    ]
    prepared = prepare_results(results)
    with transaction.atomic():
        return record_results(results=prepared).rows


@dataclass(frozen=True)
class PreparedResults:
    """Results with their INSERT statements already built: every value adapted, ids to come.

    Building the statements (each row's ~35 values through Django's field preparation) is most of
    an insert's cost. `prepare_results` does it before the transaction, so SQLite's write lock,
    which every worker shares, is held only while the statements run (bench/RESULTS.md, "Fan-out").
    """

    results: list[AnalysisResult]
    statements: list[tuple[str, tuple, list[AnalysisResult]]]


@dataclass(frozen=True)
class Recorded:
    """What `record_results` stored: every row (with its id) and how many of them are new."""

    rows: list[AnalysisResult]
    new: int
    new_ok: int  # new rows without an error


# Rows per INSERT on PostgreSQL: ~35 columns each, far under its 65,535 parameters. SQLite's
# backend lowers it to what its 999 parameters allow.
RESULT_INSERT_ROWS = 500


def prepare_results(results: list[AnalysisResult]) -> PreparedResults:
    """Build the multi-row INSERT ... RETURNING statements for `results`, outside any transaction.

    Each value goes through its field's own `pre_save` and `get_db_prep_save`, as Django's insert
    compiler does, without the compiler's per-value plumbing for expressions (results hold plain
    values), which cost as much as the preparation itself on a job's ~35 columns x 2,192 rows.

    On PostgreSQL this is also not Django 5.2's bulk_create form (INSERT ... SELECT FROM UNNEST of
    one array per column), where psycopg's client-side binding quotes every array element with a
    Python regex: measured as 58% of a batch's insert and a third of a whole job with the verbose
    JSON columns (bench/RESULTS.md, "Fan-out"). The plain multi-row VALUES form quotes each value
    with libpq's C escaping; RETURNING gives the ids.
    """
    # The connection itself, not the `connection` proxy: preparing ~35 values a row asks for it each time.
    db = connections[connection.alias]
    meta = AnalysisResult._meta
    fields = _insert_fields()
    quote = db.ops.quote_name
    head = f"INSERT INTO {quote(meta.db_table)} ({', '.join(quote(f.column) for f in fields)}) "
    returning, returning_params = db.ops.return_insert_columns([meta.pk])
    size = max(1, min(RESULT_INSERT_ROWS, db.ops.bulk_batch_size(fields, results)))
    row = [_placeholder(field, db) for field in fields]
    statements = []
    for start in range(0, len(results), size):
        batch = results[start : start + size]
        params = [
            field.get_db_prep_save(field.pre_save(obj, add=True), connection=db) for obj in batch for field in fields
        ]
        sql = f"{head}{db.ops.bulk_insert_sql(fields, [row] * len(batch))} {returning}"
        statements.append((sql, (*params, *returning_params), batch))
    return PreparedResults(results=list(results), statements=statements)


def _insert_fields() -> list:
    """The columns an INSERT of a result writes: every concrete field but the id."""
    meta = AnalysisResult._meta
    fields = [f for f in meta.concrete_fields if f is not meta.auto_field]
    custom = [f.name for f in fields if hasattr(f, "get_placeholder") and not isinstance(f, models.BinaryField)]
    if custom:  # a field with its own SQL per value would need Django's insert compiler
        raise ImproperlyConfigured(f"AnalysisResult fields with custom placeholders: {custom}")
    return fields


def _placeholder(field, db) -> str:
    # BinaryField's is the backend's binary_placeholder_sql (MySQL's "_binary %s"; "%s" elsewhere); never null here.
    return field.get_placeholder(b"", None, db) if hasattr(field, "get_placeholder") else "%s"


def record_results(*, results: list[AnalysisResult] | PreparedResults, ignore_conflicts: bool = False) -> Recorded:
    """Insert `results` and point each stock's LatestResult at them, in one transaction.

    The only way results are written, so "the latest result" can never disagree with the results
    table. `ignore_conflicts` makes a re-delivered job batch a no-op (the (job, symbol)
    constraint); the rows it skipped are read back so the pointer still goes to what is stored.
    Pass `prepare_results(...)` to build the statements before taking a lock.
    """
    prepared = results if isinstance(results, PreparedResults) else prepare_results(results)
    rows = prepared.results
    with transaction.atomic():
        try:
            # The usual case, a first delivery: one INSERT ... RETURNING per statement gives every id.
            with transaction.atomic():
                _execute_prepared(prepared)
            recorded = Recorded(rows=rows, new=len(rows), new_ok=sum(1 for r in rows if not r.error))
        except IntegrityError:
            if not ignore_conflicts:
                raise
            recorded = _insert_ignoring_conflicts(rows)
        point_latest_results(results=recorded.rows)
    return recorded


def _execute_prepared(prepared: PreparedResults) -> None:
    ids = []
    with connection.cursor() as cursor:
        for sql, params, batch in prepared.statements:
            cursor.execute(sql, params)
            returned = cursor.fetchall()
            if len(returned) != len(batch):  # never expected: RETURNING gives one row per VALUES row
                raise IntegrityError(f"INSERT returned {len(returned)} ids for {len(batch)} results")
            ids.append(returned)
    # Only once every statement ran: a failed batch leaves the results unsaved for the retry.
    for (_sql, _params, batch), returned in zip(prepared.statements, ids, strict=True):
        for result, (pk, *_rest) in zip(batch, returned, strict=True):
            result.pk = pk
            result._state.adding = False
            result._state.db = connection.alias


def _insert_ignoring_conflicts(results: list[AnalysisResult]) -> Recorded:
    """Insert what is new and read back every row: ignore_conflicts sets no ids (unique by job, symbol).

    Runs inside record_results' transaction, where the caller's lock (the job's or the chunk's
    row) keeps any other writer of these (job, symbol) pairs out, so "new" is exact.
    """
    for result in results:  # the failed attempt may have given some of them ids
        result.pk = None
        result._state.adding = True
    by_job: dict = {}
    for result in results:
        by_job.setdefault(result.job_id, []).append(result.symbol)
    existing = set()
    for job_id, symbols in by_job.items():
        if job_id is None:  # results of no job are not unique per symbol: never a conflict
            continue
        existing |= {
            (job_id, symbol)
            for symbol in AnalysisResult.objects.filter(job_id=job_id, symbol__in=symbols).values_list(
                "symbol", flat=True
            )
        }
    AnalysisResult.objects.bulk_create(results, ignore_conflicts=True)
    new = [r for r in results if (r.job_id, r.symbol) not in existing]
    stored = []
    for job_id, symbols in by_job.items():
        stored += AnalysisResult.objects.filter(job_id=job_id, symbol__in=symbols)
    return Recorded(rows=stored, new=len(new), new_ok=sum(1 for r in new if not r.error))


def _newest_key(result: AnalysisResult) -> tuple:
    return (result.created_at, result.pk)


# One statement per batch, on SQLite and PostgreSQL alike: the WHERE of DO UPDATE keeps a newer
# pointer, so no read of the current rows is needed (half the cost of a job batch, measured on
# SQLite, went to that read and to building LatestResult objects).
_UPSERT_LATEST = """
INSERT INTO {table} (symbol, strategy_id, result_id, verdict, score, error, data_source, created_at)
VALUES {values}
ON CONFLICT (symbol, strategy_id) DO UPDATE SET
    result_id = excluded.result_id, verdict = excluded.verdict, score = excluded.score,
    error = excluded.error, data_source = excluded.data_source, created_at = excluded.created_at
WHERE excluded.created_at > {table}.created_at
   OR (excluded.created_at = {table}.created_at AND excluded.result_id > {table}.result_id)
"""
_UPSERT_ROWS = 100  # 800 parameters: under SQLite's limit of 999


def point_latest_results(*, results: list[AnalysisResult]) -> None:
    """Upsert the LatestResult of each (symbol, strategy) in `results` to its newest stored row, and
    each symbol's ANY_STRATEGY row to its newest under any strategy.

    A row older than the current pointer (a re-delivered batch of an old job) leaves it alone.
    """
    newest: dict[tuple[str, int], AnalysisResult] = {}
    for result in results:
        for key in ((result.symbol, result.strategy_id), (result.symbol, ANY_STRATEGY)):
            if key not in newest or _newest_key(result) > _newest_key(newest[key]):
                newest[key] = result
    adapt = connection.ops.adapt_datetimefield_value
    rows = [
        (symbol, strategy_id, r.pk, r.verdict, r.score, r.error, r.data_source, adapt(r.created_at))
        for (symbol, strategy_id), r in newest.items()
    ]
    with connection.cursor() as cursor:
        for start in range(0, len(rows), _UPSERT_ROWS):
            chunk = rows[start : start + _UPSERT_ROWS]
            values = ", ".join(["(%s, %s, %s, %s, %s, %s, %s, %s)"] * len(chunk))
            sql = _UPSERT_LATEST.format(table=LatestResult._meta.db_table, values=values)
            cursor.execute(sql, [value for row in chunk for value in row])


def refresh_latest_results(*, symbols: list[str] | None = None, batch_size: int = 500) -> int:
    """Re-point LatestResult of `symbols` (all symbols when None) at their newest remaining result.

    For after results were deleted (a pruned job cascades to its LatestResult rows) and for the
    migration that fills the table: one index lookup (`result_symbol_latest`) per symbol and
    strategy, in batches of short transactions. Idempotent. Returns how many pointers it wrote.
    """
    pairs = AnalysisResult.objects.values_list("symbol", "strategy_id").distinct().order_by("symbol", "strategy_id")
    if symbols is not None:
        pairs = pairs.filter(symbol__in=symbols)
    pairs = list(pairs)
    written = 0
    for start in range(0, len(pairs), batch_size):
        newest = [
            AnalysisResult.objects.filter(symbol=symbol, strategy_id=strategy_id).order_by("-created_at", "-id").first()
            for symbol, strategy_id in pairs[start : start + batch_size]
        ]
        with transaction.atomic():
            point_latest_results(results=[result for result in newest if result is not None])
        written += len(newest)
    return written


def to_cents(value) -> Decimal | None:
    """A price or amount as a Decimal with 2 decimal places (half up), None stays None."""
    if value is None:
        return None
    return Decimal(str(value)).quantize(CENT, rounding=ROUND_HALF_UP)


def _source_label(source: str) -> str:
    """The short kind of a source ("yfinance", "demo", "csv"), as stored in `data_source`."""
    if not source:
        return ""
    if source in SOURCE_KINDS:  # PriceHistory.source is already a kind
        return source
    return market_data.source_kind(source)


def resize_position(*, result: AnalysisResult, capital: Decimal) -> int | None:
    """The share count `result`'s trade plan gives for `capital` (see replan_for_capital)."""
    plan = replan_for_capital(result=result, capital=capital)
    return plan.position_size if plan else None


def replan_for_capital(*, result: AnalysisResult, capital: Decimal) -> engine.TradePlan | None:
    """`result`'s trade plan for another capital, by the engine's own rule (plan_trade): the size,
    both limits (shares by risk, shares by max position) and which one bound it.

    Entry, stop and target do not depend on capital; only the sizing does. None when the result
    cannot be re-planned (a failure, old provenance without the parameters, or a capital out of
    bounds), so a page shows "—" rather than a wrong number.
    """
    if result.entry is None or not result.verdict:
        return None
    provenance = result.provenance or {}
    atr = next((i.get("details", {}).get("atr") for i in result.indicators if i.get("name") == "atr"), None)
    try:
        params = engine.TradeParams(
            capital=float(capital),
            risk_percent=float(provenance.get("risk_percent", 2.0)),
            max_position_percent=provenance.get("max_position_percent"),
        )
        plan = engine.plan_trade(
            entry_price=float(result.entry),
            atr_value=float(atr) if atr is not None else 0.0,
            verdict=result.verdict,
            strategy=strategies.get_strategy(result.strategy_id),
            params=params,
        )
    except (InvalidTradeParameters, market_data.MarketDataError, ValueError, TypeError, KeyError) as exc:
        logger.info("Cannot re-size %s for capital %s: %s", result.symbol, capital, exc)
        return None
    return plan


def refresh_quotes(*, symbols: list[str] | None = None) -> int:
    """Recompute StockQuote rows (the screener's price columns); returns how many were written.

    From each symbol's newest cached bars, when they are newer than its quote. With a source that
    keeps no price cache (`demo`, `csv:DIR`), also from that source: each active stock once a UTC day
    (the demo's bars change with the UTC day), or at once when its quote came from another source.
    Running it after every scan costs little. `symbols=None` looks at every cached or active symbol.
    """
    written = _quotes_from_cache(symbols)
    kind = market_data.source_kind()
    if kind != market_data.YFINANCE:
        written += _quotes_from_source(symbols, source=settings.THETOOL_DATA_SOURCE, kind=kind)
    return _store_quotes(written)


def _quotes_from_cache(symbols: list[str] | None) -> list[StockQuote]:
    cached = PriceCache.objects.all() if symbols is None else PriceCache.objects.filter(symbol__in=symbols)
    newest = dict(cached.values("symbol").annotate(newest=Max("fetched_at")).values_list("symbol", "newest"))
    known = dict(StockQuote.objects.filter(symbol__in=list(newest)).values_list("symbol", "updated_at"))
    stale = [symbol for symbol, at in newest.items() if symbol not in known or known[symbol] < at]
    written = []
    for symbol in stale:
        row = cached.filter(symbol=symbol).order_by("-fetched_at", "-id").values("source", "bars").first()
        try:
            quote = _quote_row(history_from_json(symbol, row["source"], row["bars"]))
        except market_data.MarketDataError as exc:
            logger.warning("No quote for %s: %s", symbol, exc.message)
            continue
        if quote is not None:
            written.append(quote)
    return written


def _quotes_from_source(symbols: list[str] | None, *, source: str, kind: str) -> list[StockQuote]:
    """Quotes of active stocks from a source without a price cache, for those not refreshed today from it."""
    midnight = timezone.now().replace(hour=0, minute=0, second=0, microsecond=0)
    fresh = StockQuote.objects.filter(source=kind, updated_at__gte=midnight).values("symbol")
    stocks = Stock.objects.filter(is_active=True).exclude(yahoo_symbol__in=fresh)
    if symbols is not None:
        stocks = stocks.filter(yahoo_symbol__in=symbols)
    missing = list(stocks.values_list("yahoo_symbol", flat=True))
    written = []
    for start in range(0, len(missing), 200):
        for symbol, outcome in market_data.fetch_histories(missing[start : start + 200], source=source).items():
            if isinstance(outcome, market_data.MarketDataError):
                # Asked again every tick (a CSV file may appear): not worth a line each time.
                logger.debug("No quote for %s from %s: %s", symbol, kind, outcome.message)
            elif (quote := _quote_row(outcome)) is not None:
                written.append(quote)
    return written


def _quote_row(history: market_data.PriceHistory) -> StockQuote | None:
    quote = compute_quote(history)
    if quote is None:
        return None
    return StockQuote(
        symbol=history.symbol,
        source=history.source,
        as_of=quote.as_of,
        last_close=quote.last_close,
        change_percent=quote.change_percent,
        volume_ratio=quote.volume_ratio,
        high_52w=quote.high_52w,
        low_52w=quote.low_52w,
        from_high_percent=quote.from_high_percent,
        from_low_percent=quote.from_low_percent,
    )


def _store_quotes(written: list[StockQuote]) -> int:
    fields = [f.name for f in StockQuote._meta.concrete_fields if f.name not in ("id", "symbol")]
    StockQuote.objects.bulk_create(
        written, update_conflicts=True, unique_fields=["symbol"], update_fields=fields, batch_size=500
    )
    return len(written)
