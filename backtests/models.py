"""Stored backtest results. A backtest is an AnalysisJob of kind "backtest"; these rows are its answer."""

from django.db import models

from jobs.models import AnalysisJob
from stocks.models import Verdict


class BacktestResult(models.Model):
    """One verdict bucket of one strategy in one backtest job, with its statistics."""

    job = models.ForeignKey(AnalysisJob, on_delete=models.CASCADE, related_name="backtest_results")
    strategy_id = models.PositiveSmallIntegerField()
    verdict = models.CharField(max_length=16, choices=Verdict.choices)
    position = models.PositiveSmallIntegerField(help_text="0 Strong Buy .. 4 Strong Sell, for ordering")
    signals = models.PositiveIntegerField(help_text="Scored days with this verdict in the period")
    trades = models.PositiveIntegerField(help_text="Completed trades (entered, and exited within the history)")
    too_few_signals = models.BooleanField()
    hit_rate = models.FloatField(null=True, blank=True, help_text="% of trades with a net gain")
    expectancy_percent = models.FloatField(null=True, blank=True, help_text="Mean net return per trade, %")
    stats = models.JSONField(help_text="Every statistic of stocks.backtest.BucketStats")
    # The whole backtest's frame, repeated on each bucket so one row says what it rests on.
    first_day = models.DateField(null=True, blank=True)
    last_day = models.DateField(null=True, blank=True)
    total_signals = models.PositiveIntegerField(default=0)
    buy_and_hold_percent = models.FloatField(null=True, blank=True)
    costs = models.JSONField(default=dict)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["job", "strategy_id", "position"]
        constraints = [
            # A re-delivered or resumed job writes each bucket once.
            models.UniqueConstraint(fields=["job", "strategy_id", "verdict"], name="backtest_one_row_per_bucket"),
        ]

    def __str__(self):
        return f"{self.job_id} strategy {self.strategy_id} {self.verdict}: {self.trades} trades"


class BacktestSymbol(models.Model):
    """One symbol of a backtest: how many days were scored, and its last signals with their outcome."""

    job = models.ForeignKey(AnalysisJob, on_delete=models.CASCADE, related_name="backtest_symbols")
    symbol = models.CharField(max_length=40, db_index=True)
    strategy_id = models.PositiveSmallIntegerField()
    error = models.TextField(blank=True, help_text="Why the symbol has no backtest (no bars, too few bars)")
    scored_days = models.PositiveIntegerField(default=0)
    first_day = models.DateField(null=True, blank=True)
    last_day = models.DateField(null=True, blank=True)
    buy_and_hold_percent = models.FloatField(null=True, blank=True)
    recent_signals = models.JSONField(default=list, help_text="Newest first: date, verdict, levels, exit, net return")

    class Meta:
        ordering = ["job", "symbol"]
        constraints = [
            models.UniqueConstraint(fields=["job", "symbol", "strategy_id"], name="backtest_one_row_per_symbol"),
        ]

    def __str__(self):
        return f"{self.job_id} {self.symbol}"
