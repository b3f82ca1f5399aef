"""Input validation and output shapes of the job API.

Input serializers are plain `Serializer`s: a `ModelSerializer` would turn the conditional unique
constraint into a validator and answer a duplicate request with 400 instead of 200.
"""

from django.conf import settings
from django.urls import reverse
from rest_framework import serializers

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


def _number(value):
    if value is None:
        return None
    return int(value) if value == int(value) else float(value)


def _common(job: AnalysisJob, symbols_key: str) -> dict:
    return {
        "job_id": str(job.pk),
        "status": job.status,
        symbols_key: job.symbols,
        "capital": _number(job.capital),
        "count": job.total,
        "strategy_id": job.strategy_id,
        "risk_percent": _number(job.risk_percent),
        "max_position_percent": _number(job.max_position_percent),
        "data_source": job.data_source,
        "created_at": job.created_at,
        "status_url": reverse("api-job-status", args=[job.pk]),
    }


def created_payload(job: AnalysisJob, *, symbols_key: str = "symbols") -> dict:
    return {**_common(job, symbols_key), "is_duplicate": False, "thread_started": job.enqueued}


def duplicate_payload(job: AnalysisJob, *, symbols_key: str = "symbols", noun: str = "symbols") -> dict:
    return {
        **_common(job, symbols_key),
        "is_duplicate": True,
        "message": f"Analysis already running for these {noun}",
        "total": job.total,
        "completed": job.completed,
        "progress_percent": job.progress_percent,
        "duplicate_count": job.duplicate_count,
    }


def status_payload(job: AnalysisJob, *, with_results: bool = True) -> dict:
    payload = {
        "job_id": str(job.pk),
        "status": job.status,
        "total": job.total,
        "completed": job.completed,
        "successful": job.successful,
        "failed": job.failed,
        "progress_percent": job.progress_percent,
        "errors": selectors.job_errors(job) if job.failed else [],
        "status_reason": job.status_reason,
        "strategy_id": job.strategy_id,
        "capital": _number(job.capital),
        "data_source": job.data_source,
        "attempt": job.attempt,
        "duplicate_count": job.duplicate_count,
        "superseded_by": str(job.superseded_by_id) if job.superseded_by_id else None,
        "created_at": job.created_at,
        "started_at": job.started_at,
        "finished_at": job.finished_at,
        "heartbeat_at": job.heartbeat_at,
        "results_url": reverse("api-job-results", args=[job.pk]),
    }
    if with_results and job.status == JobStatus.COMPLETED:
        payload["results"] = [result_row(r) for r in selectors.job_results(job).filter(error="")]
    return payload


def result_row(result) -> dict:
    return {
        "symbol": result.symbol,
        "verdict": result.verdict,
        "signal": result.signal,
        "score": result.score,
        "entry": _number(result.entry),
        "stop_loss": _number(result.stop_loss),
        "target": _number(result.target),
        "risk_reward": result.risk_reward,
        "position_size": result.position_size,
        "data_source": result.data_source,
    }


# --- Documentation-only shapes (drf-spectacular) ------------------------------------------------


class JobCreatedSerializer(serializers.Serializer):
    job_id = serializers.UUIDField()
    status = serializers.ChoiceField(choices=JobStatus.choices)
    symbols = serializers.ListField(child=serializers.CharField())
    capital = serializers.FloatField()
    count = serializers.IntegerField()
    thread_started = serializers.BooleanField(help_text="True only when the job was handed to the django-q2 broker")
    is_duplicate = serializers.BooleanField()
    strategy_id = serializers.IntegerField()
    status_url = serializers.CharField()


class JobDuplicateSerializer(JobCreatedSerializer):
    thread_started = None
    message = serializers.CharField()
    total = serializers.IntegerField()
    completed = serializers.IntegerField()
    progress_percent = serializers.IntegerField()


class SymbolErrorSerializer(serializers.Serializer):
    symbol = serializers.CharField()
    error = serializers.CharField()


class ResultRowSerializer(serializers.Serializer):
    symbol = serializers.CharField()
    verdict = serializers.CharField()
    signal = serializers.CharField()
    score = serializers.FloatField()
    entry = serializers.FloatField()
    stop_loss = serializers.FloatField()
    target = serializers.FloatField()
    risk_reward = serializers.FloatField()
    position_size = serializers.IntegerField()
    data_source = serializers.CharField()


class JobStatusSerializer(serializers.Serializer):
    job_id = serializers.UUIDField()
    status = serializers.ChoiceField(choices=JobStatus.choices)
    total = serializers.IntegerField()
    completed = serializers.IntegerField()
    successful = serializers.IntegerField()
    failed = serializers.IntegerField()
    progress_percent = serializers.IntegerField()
    errors = SymbolErrorSerializer(many=True)
    status_reason = serializers.CharField()
    created_at = serializers.DateTimeField()
    started_at = serializers.DateTimeField(allow_null=True)
    finished_at = serializers.DateTimeField(allow_null=True)
    results_url = serializers.CharField()
    results = ResultRowSerializer(many=True, required=False, help_text="Present once the job has completed")


class ProgressSerializer(serializers.Serializer):
    active = JobStatusSerializer(many=True)
    recently_finished = JobStatusSerializer(many=True)
