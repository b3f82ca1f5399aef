"""The backtest API. Views validate, call a service and serialise; the decisions live in backtests.services."""

from drf_spectacular.utils import OpenApiExample, extend_schema
from rest_framework import status
from rest_framework.exceptions import NotAuthenticated, Throttled
from rest_framework.response import Response
from rest_framework.views import APIView

from backtests import selectors, services
from backtests.serializers import BacktestDetailSerializer, BacktestJobSerializer, BacktestRequestSerializer
from jobs.admission import request_job_for_client
from jobs.idempotency import answer_idempotently
from jobs.models import JobStatus
from jobs.throttles import TooManyJobs
from jobs.views import CREATE_ERRORS, IDEMPOTENCY_KEY, JOB_ERRORS, requester
from thetool.api import require_json
from thetool.exceptions import ServiceUnavailable
from thetool.schema import error_responses
from watchlists import selectors as watchlist_selectors
from watchlists.exceptions import EmptyWatchlist

BACKTEST_RULE = (
    "Backtests a strategy's live verdicts on every past day of the symbols' histories (no look-ahead), "
    "as a background job. Deduplicated like analysis jobs: the same symbols, strategy, parameters, period, "
    "holding, costs and data source while one is queued or processing returns that job (**200**, "
    "`is_duplicate: true`); a new one answers **201**. Cancel it with `POST /api/jobs/<id>/cancel/`. "
    "Database failure answers **503** with `Retry-After`. Give exactly one of `symbols` and `watchlist` "
    "(a watchlist id: its stocks, read by any signed-in user; **401** signed out, **404** an unknown list, "
    "**400** `empty_watchlist` an empty one); both or neither is a **400**."
)


class BacktestCreateView(APIView):
    @extend_schema(
        operation_id="backtest_create",
        summary="Backtest a strategy in a background job (deduplicated)",
        description=BACKTEST_RULE,
        request=BacktestRequestSerializer,
        responses={201: BacktestJobSerializer, 200: BacktestJobSerializer, **CREATE_ERRORS, **error_responses(404)},
        parameters=[IDEMPOTENCY_KEY],
        examples=[
            OpenApiExample(
                "Two stocks", value={"symbols": ["RELIANCE.NS", "TCS.NS"], "strategy_id": 1}, request_only=True
            ),
            OpenApiExample("A watchlist", value={"watchlist": 1, "strategy_id": 1}, request_only=True),
        ],
        tags=["backtests"],
    )
    def post(self, request):
        return answer_idempotently(request=request, answer=lambda: _answer(request))


def _answer(request) -> Response:
    require_json(request)
    serializer = BacktestRequestSerializer(data=request.data)
    serializer.is_valid(raise_exception=True)
    fields = dict(serializer.validated_data)
    if "watchlist" in fields:
        fields["symbols"] = _watchlist_symbols(request, fields.pop("watchlist"))
    try:
        job, created = request_job_for_client(
            request=request,
            service=services.request_backtest_job,
            requested_by=requester(request, "api"),
            **fields,
        )
    except TooManyJobs as exc:
        raise Throttled(wait=exc.retry_after, detail=exc.message) from None
    if created and job.status == JobStatus.FAILED and not job.enqueued:
        raise ServiceUnavailable(
            f"Backtest {job.pk} was created but could not be handed to the task queue; it is marked failed",
            details={"job_id": str(job.pk), "status": job.status, "reason": job.status_reason},
        )
    answer = BacktestJobSerializer(job, context={"is_duplicate": not created}).data
    return Response(answer, status=status.HTTP_201_CREATED if created else status.HTTP_200_OK)


def _watchlist_symbols(request, watchlist_id: int) -> list[str]:
    """The stocks of a watchlist (any signed-in user reads any list); never [] ("every stock")."""
    if not request.user.is_authenticated:
        raise NotAuthenticated("Sign in to backtest a watchlist.")
    watchlist = watchlist_selectors.get_watchlist(pk=watchlist_id)
    symbols = watchlist_selectors.watchlist_symbols(watchlist=watchlist)
    if not symbols:
        raise EmptyWatchlist(f"Watchlist {watchlist.pk} has no stocks to backtest", details={"watchlist": watchlist.pk})
    return symbols


class BacktestDetailView(APIView):
    @extend_schema(
        operation_id="backtest_detail",
        summary="A backtest job: progress, and once completed its table per verdict bucket",
        responses={200: BacktestDetailSerializer, **JOB_ERRORS},
        tags=["backtests"],
    )
    def get(self, request, job_id):
        job = selectors.get_backtest_job(job_id)
        buckets = list(selectors.backtest_buckets(job))
        return Response(BacktestDetailSerializer(job, context={"buckets": buckets}).data)
