"""Input validation and output shapes of the backtest API."""

from django.conf import settings
from django.urls import reverse
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from jobs.models import AnalysisJob, JobStatus
from jobs.serializers import NumberField, PlainNumberField, StrictBooleanField, StrictIntegerField, SymbolField
from stocks.backtest import PAST_RESULTS_NOTE


class BacktestRequestSerializer(serializers.Serializer):
    symbols = serializers.ListField(
        child=SymbolField(max_length=40),
        allow_empty=True,
        required=False,
        max_length=settings.THETOOL_MAX_SYMBOLS_PER_JOB,
        help_text="Yahoo or bare NSE symbols (RELIANCE.NS, TCS); [] means every active stock. "
        "Exactly one of `symbols` and `watchlist`.",
    )
    watchlist = StrictIntegerField(
        required=False,
        min_value=1,
        max_value=2**63 - 1,
        help_text="A watchlist id (/api/watchlists/): backtest its stocks. Exactly one of `symbols` and "
        "`watchlist`; sign-in required (any signed-in user may read a list); 404 for an unknown list, "
        "400 `empty_watchlist` for a list with no stocks.",
    )
    strategy_id = StrictIntegerField(required=False, default=1, help_text="1-5, see /api/strategies/")
    start_date = serializers.DateField(required=False, allow_null=True, default=None, help_text="First signal day")
    end_date = serializers.DateField(required=False, allow_null=True, default=None, help_text="Last signal day")
    capital = NumberField(max_digits=16, decimal_places=2, required=False, default=100000, help_text="INR")
    risk_percent = NumberField(max_digits=5, decimal_places=2, required=False, default=2)
    max_position_percent = NumberField(
        max_digits=5,
        decimal_places=2,
        required=False,
        allow_null=True,
        default=None,
        help_text="Default: the strategy's",
    )
    max_holding = StrictIntegerField(required=False, default=20, help_text="Sessions before the time exit (1-120)")
    costs = serializers.DictField(
        child=serializers.FloatField(),
        required=False,
        default=dict,
        help_text="Overrides of the cost defaults: brokerage_percent, brokerage_cap, stt_percent, "
        "exchange_percent, sebi_per_crore, stamp_duty_percent, gst_percent",
    )
    force = StrictBooleanField(required=False, default=False, help_text="Start a new backtest even if one is running")

    def to_internal_value(self, data):
        if isinstance(data, dict):
            unknown = sorted(set(data) - set(self.fields))
            if unknown:
                raise serializers.ValidationError({key: ["Unknown field."] for key in unknown})
        return super().to_internal_value(data)

    def validate(self, attrs):
        if ("symbols" in attrs) == ("watchlist" in attrs):
            raise serializers.ValidationError({"non_field_errors": ["Give exactly one of `symbols` and `watchlist`."]})
        return attrs


class BacktestJobSerializer(serializers.Serializer):
    """A backtest job: its request, progress and where to read it."""

    job_id = serializers.UUIDField(source="pk")
    kind = serializers.CharField()
    status = serializers.ChoiceField(choices=JobStatus.choices)
    status_reason = serializers.CharField()
    symbols = serializers.ListField(child=serializers.CharField(), help_text="Normalised, sorted")
    strategy_id = serializers.IntegerField()
    capital = PlainNumberField(help_text="INR")
    risk_percent = PlainNumberField()
    max_position_percent = PlainNumberField(allow_null=True)
    data_source = serializers.CharField()
    parameters = serializers.DictField(help_text="start_date, end_date, max_holding, costs, min_signals")
    total = serializers.IntegerField()
    completed = serializers.IntegerField()
    progress_percent = serializers.IntegerField()
    duplicate_count = serializers.IntegerField()
    created_at = serializers.DateTimeField()
    finished_at = serializers.DateTimeField(allow_null=True)
    is_duplicate = serializers.SerializerMethodField()
    status_url = serializers.SerializerMethodField()
    page_url = serializers.SerializerMethodField()

    def get_is_duplicate(self, job: AnalysisJob) -> bool:
        return bool(self.context.get("is_duplicate"))

    def get_status_url(self, job: AnalysisJob) -> str:
        return reverse("api-backtest-detail", args=[job.pk])

    def get_page_url(self, job: AnalysisJob) -> str:
        return reverse("backtest-detail", args=[job.pk])


class BucketSerializer(serializers.Serializer):
    strategy_id = serializers.IntegerField()
    verdict = serializers.CharField()
    signals = serializers.IntegerField()
    trades = serializers.IntegerField()
    too_few_signals = serializers.BooleanField()
    hit_rate = serializers.FloatField(allow_null=True)
    expectancy_percent = serializers.FloatField(allow_null=True)
    stats = serializers.DictField(help_text="Hit-rate and expectancy intervals, forward returns, drawdown, ...")


class BacktestDetailSerializer(BacktestJobSerializer):
    """A backtest job and, once completed, its buckets with what they rest on."""

    synthetic = serializers.SerializerMethodField()
    period = serializers.SerializerMethodField()
    signals = serializers.SerializerMethodField()
    buy_and_hold_percent = serializers.SerializerMethodField()
    note = serializers.SerializerMethodField()
    buckets = serializers.SerializerMethodField()

    def get_synthetic(self, job: AnalysisJob) -> bool:
        return job.data_source == "demo"

    @extend_schema_field(
        {
            "type": "object",
            "properties": {
                "first_day": {"type": "string", "nullable": True},
                "last_day": {"type": "string", "nullable": True},
            },
        }
    )
    def get_period(self, job: AnalysisJob) -> dict:
        first = self._first_bucket(job)
        return {
            "first_day": first.first_day.isoformat() if first and first.first_day else None,
            "last_day": first.last_day.isoformat() if first and first.last_day else None,
        }

    def get_signals(self, job: AnalysisJob) -> int:
        first = self._first_bucket(job)
        return first.total_signals if first else 0

    def get_buy_and_hold_percent(self, job: AnalysisJob) -> float | None:
        first = self._first_bucket(job)
        return first.buy_and_hold_percent if first else None

    def get_note(self, job: AnalysisJob) -> str:
        return PAST_RESULTS_NOTE

    @extend_schema_field(BucketSerializer(many=True))
    def get_buckets(self, job: AnalysisJob) -> list[dict]:
        if job.status != JobStatus.COMPLETED:
            return []
        return BucketSerializer(self.context["buckets"], many=True).data

    def _first_bucket(self, job: AnalysisJob):
        buckets = self.context.get("buckets") or []
        return buckets[0] if buckets else None
