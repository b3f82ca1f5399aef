"""Input validation and output shapes of the job API.

Input serializers are plain `Serializer`s: a `ModelSerializer` would turn the conditional unique
constraint into a validator and answer a duplicate request with 400 instead of 200.
"""

from django.conf import settings
from django.urls import reverse
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers
from rest_framework.fields import SkipField

from jobs import selectors
from jobs.models import AnalysisJob, JobStatus


class StrictBooleanField(serializers.BooleanField):
    """JSON true/false only: "yes", 1 or "false" as a string are errors, not guesses."""

    default_error_messages = {"invalid": "Must be a JSON boolean (true or false)."}

    def to_internal_value(self, data):
        if isinstance(data, bool):
            return data
        self.fail("invalid")


class StrictIntegerField(serializers.IntegerField):
    default_error_messages = {"invalid": "Must be a whole number."}

    def to_internal_value(self, data):
        if isinstance(data, bool) or not isinstance(data, int):
            self.fail("invalid")
        return super().to_internal_value(data)


class NumberField(serializers.DecimalField):
    """A JSON number (or a numeric string), at most 2 decimal places."""

    def to_internal_value(self, data):
        if isinstance(data, bool) or not isinstance(data, int | float | str):
            self.fail("invalid")
        return super().to_internal_value(data)


class SymbolField(serializers.CharField):
    default_error_messages = {"not_a_string": "Each symbol must be a string."}

    def to_internal_value(self, data):
        if not isinstance(data, str):
            self.fail("not_a_string")
        return super().to_internal_value(data)


def _symbol_list():
    return serializers.ListField(
        child=SymbolField(max_length=40),
        required=False,
        allow_empty=True,
        max_length=settings.THETOOL_MAX_SYMBOLS_PER_JOB,
        help_text="Yahoo or bare NSE symbols (RELIANCE.NS, M&M, BAJAJ-AUTO). Missing or [] means every active stock.",
    )


class _AnalyzeRequest(serializers.Serializer):
    capital = NumberField(max_digits=16, decimal_places=2, required=False, default=100000, help_text="INR")
    force = StrictBooleanField(required=False, default=False, help_text="Start a new job even if one is running")
    strategy_id = StrictIntegerField(required=False, default=1, help_text="1-5, see /api/strategies/")
    risk_percent = NumberField(max_digits=5, decimal_places=2, required=False, default=2)
    max_position_percent = NumberField(
        max_digits=5,
        decimal_places=2,
        required=False,
        allow_null=True,
        default=None,
        help_text="Default: the strategy's own",
    )
    symbols_field = "symbols"

    def to_internal_value(self, data):
        if isinstance(data, dict):
            unknown = sorted(set(data) - set(self.fields))
            if unknown:
                raise serializers.ValidationError({key: ["Unknown field."] for key in unknown})
        values = super().to_internal_value(data)
        values["symbols"] = values.pop(self.symbols_field, None)
        return values


class AnalyzeStocksRequestSerializer(_AnalyzeRequest):
    symbols = _symbol_list()


class AnalyzeTickersRequestSerializer(_AnalyzeRequest):
    tickers = _symbol_list()
    symbols_field = "tickers"


# --- Output shapes: the serializers that produce each answer are the ones the schema documents --------


@extend_schema_field(OpenApiTypes.NUMBER)
class PlainNumberField(serializers.Field):
    """A Decimal as a JSON number: whole amounts as integers (100000, not "100000.00")."""

    def __init__(self, **kwargs):
        super().__init__(read_only=True, **kwargs)

    def to_representation(self, value):
        return int(value) if value == int(value) else float(value)


class BlankAsNullCharField(serializers.CharField):
    """A text column stored blank when it does not apply, answered as null (not "")."""

    def to_representation(self, value):
        return value or None


class SymbolErrorSerializer(serializers.Serializer):
    symbol = serializers.CharField()
    error = serializers.CharField()


class ResultRowSerializer(serializers.Serializer):
    """One analysed symbol of a job."""

    symbol = serializers.CharField()
    verdict = serializers.CharField()
    signal = serializers.CharField()
    score = serializers.FloatField()
    entry = PlainNumberField()
    stop_loss = PlainNumberField()
    target = PlainNumberField()
    risk_reward = serializers.FloatField()
    position_size = serializers.IntegerField()
    # Both sizing limits and which one bound the size (null on results stored before they existed).
    shares_by_risk = serializers.IntegerField(allow_null=True, help_text="capital x risk % / per-share risk")
    shares_by_max_position = serializers.IntegerField(allow_null=True, help_text="capital x max position % / entry")
    size_limited_by = BlankAsNullCharField(allow_null=True, help_text="risk or max_position: the lower limit")
    risk_amount = PlainNumberField(allow_null=True, help_text="INR lost at the stop")
    risk_taken_percent = serializers.FloatField(allow_null=True, help_text="risk_amount as % of capital")
    data_source = serializers.CharField()


class JobResultSerializer(ResultRowSerializer):
    """A row of /api/jobs/<id>/results/: a failed symbol has an `error` and null scores and levels."""

    verdict = serializers.CharField(help_text="Empty when the symbol failed")
    signal = serializers.CharField(help_text="Empty when the symbol failed")
    score = serializers.FloatField(allow_null=True)
    entry = PlainNumberField(allow_null=True)
    stop_loss = PlainNumberField(allow_null=True)
    target = PlainNumberField(allow_null=True)
    risk_reward = serializers.FloatField(allow_null=True)
    position_size = serializers.IntegerField(allow_null=True)
    error = serializers.CharField(help_text="Empty unless the symbol failed")


class _JobAnswerSerializer(serializers.Serializer):
    """What both answers to a job request share; `symbols` or `tickers` is added by each endpoint's class."""

    job_id = serializers.UUIDField(source="pk")
    status = serializers.ChoiceField(choices=JobStatus.choices)
    capital = PlainNumberField(help_text="INR")
    count = serializers.IntegerField(source="total", help_text="Number of symbols in the job")
    strategy_id = serializers.IntegerField()
    risk_percent = PlainNumberField()
    max_position_percent = PlainNumberField(allow_null=True)
    data_source = serializers.CharField()
    created_at = serializers.DateTimeField()
    status_url = serializers.SerializerMethodField()
    is_duplicate = serializers.SerializerMethodField()

    def get_status_url(self, job: AnalysisJob) -> str:
        return reverse("api-job-status", args=[job.pk])


class JobCreatedSerializer(_JobAnswerSerializer):
    """201: a new job."""

    symbols = serializers.ListField(child=serializers.CharField(), help_text="Normalised, sorted")
    thread_started = serializers.BooleanField(
        source="enqueued", help_text="True only when the job was handed to the django-q2 broker"
    )

    def get_is_duplicate(self, job: AnalysisJob) -> bool:
        return False


class JobDuplicateSerializer(_JobAnswerSerializer):
    """200: the same analysis is already running; this is that job, with its progress."""

    symbols = serializers.ListField(child=serializers.CharField(), help_text="Normalised, sorted")
    message = serializers.SerializerMethodField()
    total = serializers.IntegerField()
    completed = serializers.IntegerField()
    progress_percent = serializers.IntegerField()
    duplicate_count = serializers.IntegerField(help_text="How many identical requests this job has answered")
    noun = "symbols"

    def get_is_duplicate(self, job: AnalysisJob) -> bool:
        return True

    def get_message(self, job: AnalysisJob) -> str:
        return f"Analysis already running for these {self.noun}"


# /api/analysis/analyze speaks of `tickers`: the same answers with that key (and that word).
class TickerJobCreatedSerializer(JobCreatedSerializer):
    symbols = None
    tickers = serializers.ListField(source="symbols", child=serializers.CharField(), help_text="Normalised, sorted")


class TickerJobDuplicateSerializer(JobDuplicateSerializer):
    symbols = None
    tickers = serializers.ListField(source="symbols", child=serializers.CharField(), help_text="Normalised, sorted")
    noun = "tickers"


class JobStatusSerializer(serializers.Serializer):
    """A job's progress, timings and per-symbol errors."""

    job_id = serializers.UUIDField(source="pk")
    status = serializers.ChoiceField(choices=JobStatus.choices)
    total = serializers.IntegerField()
    completed = serializers.IntegerField()
    successful = serializers.IntegerField()
    failed = serializers.IntegerField()
    progress_percent = serializers.IntegerField()
    errors = serializers.SerializerMethodField()
    status_reason = serializers.CharField(help_text="Why the job failed, was cancelled or was retired")
    strategy_id = serializers.IntegerField()
    capital = PlainNumberField(help_text="INR")
    data_source = serializers.CharField()
    attempt = serializers.IntegerField(help_text="How many times a worker has claimed the job")
    duplicate_count = serializers.IntegerField()
    superseded_by = serializers.UUIDField(source="superseded_by_id", allow_null=True)
    created_at = serializers.DateTimeField()
    started_at = serializers.DateTimeField(allow_null=True)
    finished_at = serializers.DateTimeField(allow_null=True)
    heartbeat_at = serializers.DateTimeField(allow_null=True)
    results_url = serializers.SerializerMethodField()

    @extend_schema_field(SymbolErrorSerializer(many=True))
    def get_errors(self, job: AnalysisJob) -> list[dict]:
        return selectors.job_errors(job) if job.failed else []

    def get_results_url(self, job: AnalysisJob) -> str:
        return reverse("api-job-results", args=[job.pk])


class CompletedResultsSerializer(serializers.ListSerializer):
    """A job's successful results, best first, present only once the job has completed."""

    def get_attribute(self, job: AnalysisJob):
        if job.status != JobStatus.COMPLETED:
            raise SkipField()  # the key is absent, not empty: there are no results yet
        return selectors.job_results(job).filter(error="")


class JobDetailSerializer(JobStatusSerializer):
    """A job's status, and its successful results once it has completed."""

    results = CompletedResultsSerializer(
        child=ResultRowSerializer(),
        required=False,
        help_text="Present once the job has completed: the successful symbols, best score first",
    )


class ProgressSerializer(serializers.Serializer):
    active = JobStatusSerializer(many=True)
    recently_finished = JobStatusSerializer(many=True)
