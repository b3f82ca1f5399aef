"""Watchlist and what-changed shapes for the API (the schema is generated from these)."""

from django.conf import settings
from rest_framework import serializers

from jobs.serializers import SymbolField, _AnalyzeRequest
from watchlists import selectors


def _symbols(required: bool):
    return serializers.ListField(
        child=SymbolField(max_length=40),
        required=required,
        allow_empty=True,
        max_length=settings.THETOOL_MAX_SYMBOLS_PER_JOB,
        help_text="Yahoo or bare NSE symbols (RELIANCE.NS, M&M); every one must be in the universe",
    )


class _StrictFields(serializers.Serializer):
    """Unknown fields are a 400, as everywhere in the API."""

    def to_internal_value(self, data):
        if isinstance(data, dict):
            unknown = sorted(set(data) - set(self.fields))
            if unknown:
                raise serializers.ValidationError({key: ["Unknown field."] for key in unknown})
        return super().to_internal_value(data)


class WatchlistCreateSerializer(_StrictFields):
    name = serializers.CharField(max_length=100, trim_whitespace=True)
    symbols = _symbols(required=False)


class WatchlistUpdateSerializer(_StrictFields):
    name = serializers.CharField(max_length=100, trim_whitespace=True, required=False)
    symbols = _symbols(required=False)


class WatchlistSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    name = serializers.CharField()
    owner = serializers.CharField(source="owner.get_username")
    symbols = serializers.SerializerMethodField()
    created_at = serializers.DateTimeField()
    updated_at = serializers.DateTimeField()
    analyze_url = serializers.SerializerMethodField()

    def get_symbols(self, watchlist) -> list[str]:
        return selectors.watchlist_symbols(watchlist=watchlist)

    def get_analyze_url(self, watchlist) -> str:
        return f"/api/watchlists/{watchlist.pk}/analyze"


class WatchlistAnalyzeSerializer(_AnalyzeRequest):
    """The job settings; the symbols are the watchlist's."""

    symbols_field = "symbols"

    def to_internal_value(self, data):
        values = super().to_internal_value(data)
        values.pop("symbols", None)
        return values


class ChangesQuerySerializer(_StrictFields):
    since = serializers.DateTimeField(required=False, help_text="ISO 8601; default: 24 hours ago")
    until = serializers.DateTimeField(required=False)
    watchlist = serializers.IntegerField(required=False, min_value=1, help_text="Only this watchlist's stocks")
    strategy = serializers.IntegerField(required=False, default=1, min_value=1, max_value=5)
    changed = serializers.BooleanField(required=False, default=False, help_text="Only verdicts that changed")
    page = serializers.IntegerField(required=False, min_value=1)
    page_size = serializers.IntegerField(required=False, min_value=1, max_value=500)


class VerdictChangeSerializer(serializers.Serializer):
    symbol = serializers.CharField()
    strategy_id = serializers.IntegerField()
    kind = serializers.ChoiceField(choices=["upgrade", "downgrade", "new", "unchanged"])
    verdict = serializers.CharField()
    previous_verdict = serializers.CharField(help_text='"" when there was no earlier result')
    new_strong = serializers.CharField(help_text='"Strong Buy" / "Strong Sell" when it just became one, else ""')
    score = serializers.FloatField(allow_null=True)
    previous_score = serializers.FloatField(allow_null=True)
    score_delta = serializers.FloatField(allow_null=True)
    analysed_at = serializers.DateTimeField()
    result_id = serializers.IntegerField()
    history = serializers.ListField(child=serializers.FloatField(), help_text="Recent scores, oldest first")
