from django.db import models
from django.db.models import Q
from django.utils import timezone

from stocks import analysis, compact, quality, verdicts
from stocks.fields import BarsJSONField


class Stock(models.Model):
    """One listed security of the universe. `yahoo_symbol` (RELIANCE.NS) is what jobs and results use."""

    symbol = models.CharField(max_length=32, unique=True, help_text="NSE symbol, e.g. RELIANCE or M&M")
    name = models.CharField(max_length=200, blank=True)
    yahoo_symbol = models.CharField(max_length=40, unique=True, help_text="e.g. RELIANCE.NS")
    exchange = models.CharField(max_length=10, default="NSE")
    series = models.CharField(max_length=10, blank=True, default="EQ")
    is_active = models.BooleanField(default=True)
    industry = models.CharField(max_length=100, blank=True, db_index=True, help_text="NSE's macro sector, when loaded")
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["symbol"]

    def __str__(self):
        return f"{self.yahoo_symbol} {self.name}".strip()


class IndexMembership(models.Model):
    """A stock's membership of an NSE index ("NIFTY 50"), as of the last constituent file loaded.

    A row per (index, stock) rather than a JSON list: "in NIFTY 500" is then a plain SQL join on
    SQLite and PostgreSQL alike (SQLite has no JSON `contains`).
    """

    index_name = models.CharField(max_length=60, db_index=True)
    stock = models.ForeignKey(Stock, on_delete=models.CASCADE, related_name="index_memberships")
    loaded_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["index_name", "stock__symbol"]
        constraints = [
            # Loading the same constituent file twice never lists a stock twice in one index.
            models.UniqueConstraint(fields=["index_name", "stock"], name="index_membership_once"),
        ]

    def __str__(self):
        return f"{self.index_name}: {self.stock.symbol}"


class StockQuote(models.Model):
    """The screener's price line of one symbol (stocks.quotes), from its newest cached bars (or a demo/csv source).

    Stored apart from the bars so filters and sorts on price columns are plain SQL on 2,192 rows.
    """

    symbol = models.CharField(max_length=40, unique=True, help_text="Yahoo symbol, e.g. RELIANCE.NS")
    as_of = models.DateField(help_text="Date of the last bar")
    last_close = models.FloatField()
    change_percent = models.FloatField(null=True, blank=True)
    volume_ratio = models.FloatField(null=True, blank=True, help_text="Last volume / 20-session average")
    high_52w = models.FloatField()
    low_52w = models.FloatField()
    from_high_percent = models.FloatField(help_text="Close vs 52-week high, % (<= 0)")
    from_low_percent = models.FloatField(help_text="Close vs 52-week low, % (>= 0)")
    source = models.CharField(max_length=200, blank=True)
    updated_at = models.DateTimeField(auto_now=True)

    def __str__(self):
        return f"{self.symbol} {self.last_close} ({self.as_of})"


class PriceCache(models.Model):
    """Daily bars of one symbol from one source, final through one NSE session.

    `fetched_on` is the last completed NSE session at fetch time (stocks.market_data.cache), not the
    UTC day: a second analysis in the same session reads this row instead of calling the source again.
    Bars are stored as compact column arrays (see stocks.market_data).
    """

    symbol = models.CharField(max_length=40)
    source = models.CharField(max_length=200)
    fetched_on = models.DateField(help_text="The last completed NSE session when the bars were fetched")
    bars = BarsJSONField(help_text='Column arrays {"d", "o", "h", "l", "c", "v"}')
    bar_count = models.PositiveIntegerField()
    first_bar = models.DateField()
    last_bar = models.DateField()
    created_at = models.DateTimeField(auto_now_add=True)
    # When these bars were fetched (updated when a refetch replaces them): bars fetched before the
    # session's bar settled (NSECalendar.final_at) are fetched once more after it.
    fetched_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [
            # One cached fetch per symbol, source and day: concurrent workers upsert, never duplicate.
            models.UniqueConstraint(fields=["symbol", "source", "fetched_on"], name="price_cache_one_per_day"),
        ]

    def __str__(self):
        return f"{self.symbol} ({self.source}, {self.fetched_on})"


# The engine's verdicts as model choices: same names, values and labels ("Strong Buy"), one definition.
Verdict = models.TextChoices("Verdict", [(verdict.name, verdict.value) for verdict in verdicts.Verdict])


class SizeLimit(models.TextChoices):
    """Which limit decided a position's size (the engine's values, with labels for people)."""

    RISK = analysis.SIZE_LIMITED_BY_RISK, "Risk per trade"
    MAX_POSITION = analysis.SIZE_LIMITED_BY_MAX_POSITION, "Max position"


class AnalysisResult(models.Model):
    """The analysis of one symbol: verdict, trade plan, indicator evidence and data provenance.

    A failed symbol has `error` set and no verdict. Results belong to a job when one ran them;
    `manage.py analyze` stores results without a job.
    """

    # No index of its own: `result_one_per_job_symbol` (job, symbol) serves every lookup by job.
    job = models.ForeignKey(
        "jobs.AnalysisJob", null=True, blank=True, on_delete=models.CASCADE, related_name="results", db_index=False
    )
    # No index of its own: `result_symbol_latest` (symbol, -created_at) serves every symbol lookup.
    symbol = models.CharField(max_length=40, help_text="Yahoo symbol, e.g. RELIANCE.NS")
    strategy_id = models.PositiveSmallIntegerField()
    score = models.FloatField(null=True, blank=True)
    # Not indexed: pages filter verdicts on LatestResult, job pages within one job's rows.
    verdict = models.CharField(max_length=12, choices=Verdict.choices, blank=True)
    signal = models.CharField(max_length=4, blank=True, help_text="BUY, SELL or HOLD")
    entry = models.DecimalField(max_digits=14, decimal_places=2, null=True, blank=True)
    stop_loss = models.DecimalField(max_digits=14, decimal_places=2, null=True, blank=True)
    target = models.DecimalField(max_digits=14, decimal_places=2, null=True, blank=True)
    risk_reward = models.FloatField(null=True, blank=True)
    position_size = models.PositiveIntegerField(null=True, blank=True)
    # The two limits on the size and which one bound it (the smaller; "risk" on a tie), so a user sees
    # when the position cap, not the risk %, decided the size.
    shares_by_risk = models.PositiveIntegerField(
        null=True, blank=True, help_text="floor(capital x risk % / per-share risk)"
    )
    shares_by_max_position = models.PositiveIntegerField(
        null=True, blank=True, help_text="floor(capital x max position % / entry)"
    )
    size_limited_by = models.CharField(max_length=12, choices=SizeLimit.choices, blank=True)
    risk_amount = models.DecimalField(
        max_digits=16, decimal_places=2, null=True, blank=True, help_text="INR lost at the stop: size x per-share risk"
    )
    risk_taken_percent = models.FloatField(null=True, blank=True, help_text="risk_amount as % of capital")
    capital = models.DecimalField(max_digits=16, decimal_places=2)
    # The evidence, stored compactly (stocks.compact) and read through the `indicators` and
    # `provenance` properties: ~200 bytes instead of a ~1.6 KB JSON document per row.
    packed_readings = models.BinaryField(default=bytes, blank=True, help_text="Indicator readings, stocks.compact")
    packed_provenance = models.TextField(blank=True, default="", help_text="source, bars, bar dates, parameters")
    # Typed copies of the readings a screener filters and sorts on (None for a failed analysis).
    close = models.FloatField(null=True, blank=True, help_text="Last close")
    rsi = models.FloatField(null=True, blank=True, help_text="RSI 14")
    adx = models.FloatField(null=True, blank=True, help_text="ADX 14")
    macd_hist = models.FloatField(null=True, blank=True, help_text="MACD histogram 12/26/9")
    ema_trend = models.SmallIntegerField(null=True, blank=True, help_text="+1 EMA50 above EMA200, -1 below, 0 equal")
    ema50 = models.FloatField(null=True, blank=True, help_text="EMA 50 at the last bar")
    ema200 = models.FloatField(null=True, blank=True, help_text="EMA 200 at the last bar")
    bollinger_b = models.FloatField(null=True, blank=True, help_text="Bollinger %B 20/2")
    cmf = models.FloatField(null=True, blank=True, help_text="Chaikin Money Flow 20")
    last_bar = models.DateField(null=True, blank=True, help_text="Date of the last daily bar analysed")
    data_source = models.CharField(max_length=20, blank=True)
    error = models.TextField(blank=True)
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["symbol", "-created_at"], name="result_symbol_latest")]
        constraints = [
            # A job stores each symbol once, however often its task is delivered or resumed.
            models.UniqueConstraint(
                fields=["job", "symbol"], condition=Q(job__isnull=False), name="result_one_per_job_symbol"
            ),
            # A result is either an analysis (with a verdict) or a failure (with an error).
            models.CheckConstraint(
                condition=(~Q(verdict="") & Q(error="")) | (Q(verdict="") & ~Q(error="")),
                name="result_verdict_xor_error",
            ),
        ]

    def __str__(self):
        return f"{self.symbol}: {self.verdict or 'error'}"

    @property
    def is_demo(self) -> bool:
        return self.data_source == "demo"

    @property
    def indicators(self) -> list[dict]:
        """The indicator readings as the engine wrote them: `{name, category, value, vote, ...}`."""
        return compact.unpack_readings(self.packed_readings)

    @indicators.setter
    def indicators(self, readings: list[dict]) -> None:
        self.packed_readings = compact.pack_readings(list(readings or []))
        for field, value in compact.screener_columns(readings or []).items():
            setattr(self, field, value)

    @property
    def provenance(self) -> dict:
        return compact.unpack_provenance(self.packed_provenance)

    @provenance.setter
    def provenance(self, provenance: dict) -> None:
        self.packed_provenance = compact.pack_provenance(dict(provenance or {}))
        self.last_bar = compact.date_or_none((provenance or {}).get("last_bar"))

    @property
    def data_notes(self) -> list[quality.QualityNote]:
        """The data-quality flags of this result (stale bars, zero-volume runs, a close not final) as labels."""
        return quality.quality_notes(self.provenance.get("quality"))


# LatestResult.strategy_id of the row that follows the newest result of a stock under any strategy.
ANY_STRATEGY = 0


class LatestResult(models.Model):
    """The newest result of one stock under one strategy: "latest" answered by one row, not a search.

    Written only by `stocks.services.record_results`, in the same transaction as the results it
    points to. It copies what the All-stocks page and `/api/stocks/` filter, sort and show, so a
    page of stocks joins this small table (one row per stock and strategy) however long the
    history grows. `stock` joins on the Yahoo symbol without a database constraint: `manage.py
    analyze` may store results of symbols that are not (yet) in the universe.
    """

    stock = models.ForeignKey(
        Stock,
        to_field="yahoo_symbol",
        db_column="symbol",
        db_constraint=False,
        db_index=False,  # the (stock, strategy_id) constraint's index serves every lookup by stock
        on_delete=models.DO_NOTHING,
        related_name="latest_results",
    )
    # A strategy's id, or ANY_STRATEGY (0) for the newest result under any strategy (/api/stocks/).
    strategy_id = models.PositiveSmallIntegerField()
    # Deleting the result (a pruned job) deletes the pointer; services.refresh_latest_results re-points it.
    result = models.ForeignKey(AnalysisResult, on_delete=models.CASCADE, related_name="+")
    verdict = models.CharField(max_length=12, choices=Verdict.choices, blank=True)
    score = models.FloatField(null=True, blank=True)
    error = models.TextField(blank=True)
    data_source = models.CharField(max_length=20, blank=True)
    created_at = models.DateTimeField(help_text="When the result was analysed (its created_at)")

    class Meta:
        constraints = [
            # One newest result per stock and strategy: concurrent jobs upsert this row, never add one.
            models.UniqueConstraint(fields=["stock", "strategy_id"], name="latest_result_one_per_strategy"),
        ]

    def __str__(self):
        return f"{self.stock_id} strategy {self.strategy_id}: result {self.result_id}"
