"""Reads for alerts: result pairs worth comparing, subscriptions and a user's delivery log."""

from django.db.models import QuerySet

from alerts.models import AlertDelivery, AlertSubscription
from stocks.models import AnalysisResult


def list_result_pairs(*, job_id) -> list[tuple[AnalysisResult, AnalysisResult]]:
    """(previous, new) for each analysed symbol of the job that had an earlier analysed result.

    "Previous" is the latest earlier result with a verdict for the same symbol and strategy, from any
    other job (or `manage.py analyze`). A failed symbol has no verdict and is never compared.
    """
    pairs = []
    new_results = AnalysisResult.objects.filter(job_id=job_id).exclude(verdict="").order_by("symbol")
    for result in new_results:
        previous = (
            AnalysisResult.objects.filter(
                symbol=result.symbol, strategy_id=result.strategy_id, created_at__lte=result.created_at
            )
            .exclude(verdict="")
            .exclude(pk=result.pk)
            .exclude(job_id=job_id)
            .order_by("-created_at", "-id")
            .first()
        )
        if previous is not None:
            pairs.append((previous, result))
    return pairs


def list_active_subscriptions() -> list[AlertSubscription]:
    return list(AlertSubscription.objects.filter(is_active=True).select_related("user"))


def list_subscriptions_of(*, user) -> QuerySet[AlertSubscription]:
    return AlertSubscription.objects.filter(user=user)


def list_deliveries_of(*, user) -> QuerySet[AlertDelivery]:
    return AlertDelivery.objects.filter(subscription__user=user).select_related("change", "subscription")
