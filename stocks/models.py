from django.db import models
from django.db.models import Q

from stocks import analysis, verdicts


class Stock(models.Model):
    """One listed security of the universe. `yahoo_symbol` (RELIANCE.NS) is what jobs and results use."""

    symbol = models.CharField(max_length=32, unique=True, help_text="NSE symbol, e.g. RELIANCE or M&M")
    name = models.CharField(max_length=200, blank=True)
    yahoo_symbol = models.CharField(max_length=40, unique=True, help_text="e.g. RELIANCE.NS")
    exchange = models.CharField(max_length=10, default="NSE")
    series = models.CharField(max_length=10, blank=True, default="EQ")
    is_active = models.BooleanField(default=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["symbol"]

    def __str__(self):
        return f"{self.yahoo_symbol} {self.name}".strip()


class PriceCache(models.Model):
    """Daily bars of one symbol from one source, final through one NSE session.

    `fetched_on` is the last completed NSE session at fetch time (stocks.market_data.cache), not the
    UTC day: a second analysis in the same session reads this row instead of calling the source again.
    Bars are stored as compact column arrays (see stocks.market_data).
    """

    symbol = models.CharField(max_length=40)
    source = models.CharField(max_length=200)
    fetched_on = models.DateField(help_text="The (UTC) day the bars were fetched")
    bars = models.JSONField()
    bar_count = models.PositiveIntegerField()
    first_bar = models.DateField()
    last_bar = models.DateField()
    created_at = models.DateTimeField(auto_now_add=True)

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

    job = models.ForeignKey("jobs.AnalysisJob", null=True, blank=True, on_delete=models.CASCADE, related_name="results")
    symbol = models.CharField(max_length=40, db_index=True, help_text="Yahoo symbol, e.g. RELIANCE.NS")
    strategy_id = models.PositiveSmallIntegerField()
    score = models.FloatField(null=True, blank=True)
    verdict = models.CharField(max_length=12, choices=Verdict.choices, blank=True, db_index=True)
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
    indicators = models.JSONField(default=list, blank=True)
    provenance = models.JSONField(default=dict, blank=True, help_text="source, bars, first/last bar date, parameters")
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
