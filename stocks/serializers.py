"""Serializers of the stock API: plain Serializers, output shapes and query-string validation."""

from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from stocks.models import SizeLimit, Verdict

MAX_PAGE_SIZE = 500


# --- Query strings ------------------------------------------------------------------------------
class VerdictField(serializers.ChoiceField):
    """A verdict, written "Strong Buy", "strong buy" or "STRONG_BUY"."""

    def __init__(self, **kwargs):
        super().__init__(choices=Verdict.choices, **kwargs)

    def to_internal_value(self, data):
        wanted = str(data).replace("_", " ").strip().lower()
        for verdict in Verdict:
            if verdict.value.lower() == wanted:
                return verdict.value
        self.fail("invalid_choice", input=data)


class StockListQuerySerializer(serializers.Serializer):
    q = serializers.CharField(
        required=False, default="", allow_blank=True, max_length=100, help_text="Symbol or name contains"
    )
    verdict = VerdictField(required=False, help_text="Only stocks whose latest verdict is this")
    active = serializers.ChoiceField(
        choices=["true", "false", "all"], required=False, default="true", help_text="Active, inactive or all stocks"
    )
    page = serializers.IntegerField(required=False, min_value=1)
    page_size = serializers.IntegerField(required=False, min_value=1, max_value=MAX_PAGE_SIZE)

    def validate_active(self, value):
        return {"true": True, "false": False, "all": None}[value]


class PageQuerySerializer(serializers.Serializer):
    page = serializers.IntegerField(required=False, min_value=1)
    page_size = serializers.IntegerField(required=False, min_value=1, max_value=MAX_PAGE_SIZE)


# --- Output -------------------------------------------------------------------------------------
def _price(**kwargs):
    # Numbers, not strings: clients compute with them.
    return serializers.DecimalField(max_digits=14, decimal_places=2, coerce_to_string=False, allow_null=True, **kwargs)


class ResultSummarySerializer(serializers.Serializer):
    """One analysis result without its indicator evidence (history rows)."""

    id = serializers.IntegerField()
    symbol = serializers.CharField()
    job_id = serializers.SerializerMethodField()
    strategy_id = serializers.IntegerField()
    verdict = serializers.CharField(allow_blank=True, help_text='"" when the analysis failed (see error)')
    signal = serializers.CharField(allow_blank=True)
    score = serializers.FloatField(allow_null=True)
    entry = _price()
    stop_loss = _price()
    target = _price()
    risk_reward = serializers.FloatField(allow_null=True)
    position_size = serializers.IntegerField(allow_null=True, help_text="min(shares_by_risk, shares_by_max_position)")
    shares_by_risk = serializers.IntegerField(
        allow_null=True, help_text="Shares the risk budget allows: floor(capital x risk % / per-share risk)"
    )
    shares_by_max_position = serializers.IntegerField(
        allow_null=True, help_text="Shares the position cap allows: floor(capital x max position % / entry)"
    )
    size_limited_by = serializers.ChoiceField(
        choices=SizeLimit.choices,
        allow_blank=True,
        help_text='Which limit decided position_size ("risk" on a tie); "" when the analysis failed',
    )
    risk_amount = serializers.DecimalField(
        max_digits=16,
        decimal_places=2,
        coerce_to_string=False,
        allow_null=True,
        help_text="INR lost if the stop is hit: position_size x per-share risk",
    )
    risk_taken_percent = serializers.FloatField(allow_null=True, help_text="risk_amount as % of capital")
    capital = serializers.DecimalField(max_digits=16, decimal_places=2, coerce_to_string=False)
    data_source = serializers.CharField(allow_blank=True)
    is_demo = serializers.BooleanField(help_text="Synthetic demo prices, not real quotes")
    error = serializers.CharField(allow_blank=True)
    analysed_at = serializers.DateTimeField(source="created_at")

    def get_job_id(self, result) -> str | None:
        return str(result.job_id) if result.job_id else None


class IndicatorSerializer(serializers.Serializer):
    name = serializers.CharField()
    category = serializers.CharField()
    value = serializers.FloatField(allow_null=True)
    vote = serializers.IntegerField()
    confidence = serializers.FloatField()
    rule = serializers.CharField()
    details = serializers.DictField()


class ResultDetailSerializer(ResultSummarySerializer):
    """One analysis result with the evidence behind it: indicator readings and data provenance."""

    indicators = IndicatorSerializer(many=True)
    provenance = serializers.DictField(
        help_text=(
            "Where the verdict's data came from: source, bars, first_bar, last_bar, the trade parameters, and "
            "`quality`: {data_as_of (last bar date), sessions_behind (NSE sessions closed after it; null for "
            "demo/csv), zero_volume_run (longest run of zero-volume bars), flags: any of `stale`, "
            "`zero_volume_run` (3+ sessions), `settling` (a close fetched before it settled)}."
        )
    )


class LatestSerializer(serializers.Serializer):
    """The newest result of a stock, as annotated by selectors.stocks_with_latest_results."""

    verdict = serializers.CharField(source="latest_verdict", allow_blank=True)
    score = serializers.FloatField(source="latest_score", allow_null=True)
    error = serializers.CharField(source="latest_error", allow_blank=True)
    analysed_at = serializers.DateTimeField(source="latest_analysed_at")


class StockSerializer(serializers.Serializer):
    symbol = serializers.CharField()
    yahoo_symbol = serializers.CharField()
    name = serializers.CharField()
    exchange = serializers.CharField()
    series = serializers.CharField()
    is_active = serializers.BooleanField()


class StockRowSerializer(StockSerializer):
    """A row of the universe list: the stock and a summary of its latest result (or null)."""

    latest = serializers.SerializerMethodField()

    @staticmethod
    def _has_result(stock) -> bool:
        return getattr(stock, "latest_result_id", None) is not None

    @extend_schema_field(LatestSerializer(allow_null=True))
    def get_latest(self, stock):
        return LatestSerializer(stock).data if self._has_result(stock) else None


class StockDetailSerializer(StockSerializer):
    latest_result = ResultDetailSerializer(allow_null=True)


class StrategySerializer(serializers.Serializer):
    """A strategy as `Strategy.to_dict()` describes it."""

    id = serializers.IntegerField()
    name = serializers.CharField()
    description = serializers.CharField()
    indicator_weights = serializers.DictField(child=serializers.FloatField())
    category_weights = serializers.DictField(child=serializers.FloatField())
    stop_loss_percent = serializers.FloatField(allow_null=True)
    target_percent = serializers.FloatField(allow_null=True)
    max_position_percent = serializers.FloatField(allow_null=True)
    atr_stop = serializers.BooleanField(help_text="Stop loss from a multiple of ATR14 instead of a fixed percent")
    atr_multiple = serializers.FloatField(allow_null=True, help_text="ATR14 multiple of the stop (ATR strategies)")
    atr_stop_min_percent = serializers.FloatField(allow_null=True, help_text="Lower clamp of an ATR stop, in %")
