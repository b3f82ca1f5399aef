"""Reads for alerts: result pairs worth comparing, subscriptions and a user's delivery log."""

from django.db.models import OuterRef, QuerySet, Subquery

from alerts.models import AlertDelivery, AlertSubscription
from stocks.models import AnalysisResult

# What comparing and recording a change reads of a result. Whole rows (decimals, readings, provenance)
# took ~0.13 s of a worker's CPU after each full-universe job, these ~0.09 s (best of 8, SQLite).
PAIR_FIELDS = ("id", "job", "symbol", "strategy_id", "verdict", "score", "created_at")


def list_result_pairs(*, job_id) -> list[tuple[AnalysisResult, AnalysisResult]]:
    """(previous, new) for each analysed symbol of the job that had an earlier analysed result.

    "Previous" is the latest earlier result with a verdict for the same symbol and strategy, from any
    other job (or `manage.py analyze`). A failed symbol has no verdict and is never compared.
    Two queries whatever the job's size (the previous result is a correlated subquery on the
    (symbol, -created_at) index), not one per symbol; only PAIR_FIELDS are loaded.
    """
    earlier = (
        AnalysisResult.objects.filter(
            symbol=OuterRef("symbol"), strategy_id=OuterRef("strategy_id"), created_at__lte=OuterRef("created_at")
        )
        .exclude(verdict="")
        .exclude(job_id=job_id)
        .order_by("-created_at", "-id")
        .values("pk")[:1]
    )
    new_results = list(
        AnalysisResult.objects.only(*PAIR_FIELDS)
        .filter(job_id=job_id)
        .exclude(verdict="")
        .annotate(previous_pk=Subquery(earlier))
        .filter(previous_pk__isnull=False)
        .order_by("symbol")
    )
    previous = AnalysisResult.objects.only(*PAIR_FIELDS).in_bulk([result.previous_pk for result in new_results])
    return [(previous[result.previous_pk], result) for result in new_results]


def list_active_subscriptions() -> list[AlertSubscription]:
    return list(AlertSubscription.objects.filter(is_active=True).select_related("user"))


def list_subscriptions_of(*, user) -> QuerySet[AlertSubscription]:
    return AlertSubscription.objects.filter(user=user)


def list_deliveries_of(*, user) -> QuerySet[AlertDelivery]:
    return AlertDelivery.objects.filter(subscription__user=user).select_related("change", "subscription")
