"""The watchlist and what-changed API: validate -> call a service or selector -> serialize."""

from drf_spectacular.utils import extend_schema
from rest_framework import status
from rest_framework.exceptions import NotAuthenticated, Throttled
from rest_framework.generics import GenericAPIView
from rest_framework.pagination import PageNumberPagination
from rest_framework.response import Response
from rest_framework.views import APIView

from jobs.models import JobStatus
from jobs.serializers import JobCreatedSerializer, JobDuplicateSerializer
from jobs.throttles import TooManyJobs
from jobs.views import IDEMPOTENCY_KEY, requester
from thetool.api import require_json
from thetool.exceptions import ServiceUnavailable
from thetool.schema import READ_ERRORS, WRITE_ERRORS, error_responses
from watchlists import selectors, services
from watchlists.permissions import SignedIn
from watchlists.serializers import (
    ChangesQuerySerializer,
    VerdictChangeSerializer,
    WatchlistAnalyzeSerializer,
    WatchlistCreateSerializer,
    WatchlistSerializer,
    WatchlistUpdateSerializer,
)

SIGNED_IN = [SignedIn]
ONE_ERRORS = error_responses(*READ_ERRORS, 404)
WRITE_ONE_ERRORS = error_responses(*WRITE_ERRORS, 404)


class WatchlistPagination(PageNumberPagination):
    page_size = 50
    page_size_query_param = "page_size"
    max_page_size = 500


def _validated(serializer_class, data) -> dict:
    serializer = serializer_class(data=data)
    serializer.is_valid(raise_exception=True)
    return serializer.validated_data


class WatchlistListView(GenericAPIView):
    """Your watchlists (sign-in required, even with open access)."""

    permission_classes = SIGNED_IN
    pagination_class = WatchlistPagination
    serializer_class = WatchlistSerializer
    filter_backends = []

    def get_queryset(self):
        return selectors.watchlists_of(user=self.request.user).select_related("owner")

    @extend_schema(
        operation_id="watchlists_list",
        responses={200: WatchlistSerializer(many=True), **error_responses(*READ_ERRORS, 404)},
        tags=["watchlists"],
    )
    def get(self, request):
        page = self.paginate_queryset(self.get_queryset())
        return self.get_paginated_response(WatchlistSerializer(page, many=True).data)

    @extend_schema(
        operation_id="watchlists_create",
        request=WatchlistCreateSerializer,
        responses={201: WatchlistSerializer, **WRITE_ONE_ERRORS},
        description="400 for a name you already use or a malformed symbol; 404 for a symbol not in the universe.",
        tags=["watchlists"],
    )
    def post(self, request):
        require_json(request)
        data = _validated(WatchlistCreateSerializer, request.data)
        watchlist = services.create_watchlist(owner=request.user, name=data["name"], symbols=data.get("symbols"))
        return Response(WatchlistSerializer(watchlist).data, status=status.HTTP_201_CREATED)


class WatchlistDetailView(APIView):
    """One watchlist: any signed-in user may read it; only its owner changes it (403 otherwise)."""

    permission_classes = SIGNED_IN

    @extend_schema(
        operation_id="watchlists_retrieve", responses={200: WatchlistSerializer, **ONE_ERRORS}, tags=["watchlists"]
    )
    def get(self, request, watchlist_id):
        return Response(WatchlistSerializer(selectors.get_watchlist(pk=watchlist_id)).data)

    @extend_schema(
        operation_id="watchlists_update",
        request=WatchlistUpdateSerializer,
        responses={200: WatchlistSerializer, **WRITE_ONE_ERRORS},
        description="Rename (`name`) and/or replace the stocks (`symbols`). Owner only.",
        tags=["watchlists"],
    )
    def patch(self, request, watchlist_id):
        require_json(request)
        watchlist = selectors.get_watchlist(pk=watchlist_id)
        services.ensure_owner(user=request.user, obj=watchlist)
        data = _validated(WatchlistUpdateSerializer, request.data)
        if "name" in data:
            services.rename_watchlist(user=request.user, watchlist=watchlist, name=data["name"])
        if "symbols" in data:
            services.set_watchlist_stocks(user=request.user, watchlist=watchlist, symbols=data["symbols"])
        return Response(WatchlistSerializer(selectors.get_watchlist(pk=watchlist_id)).data)

    @extend_schema(
        operation_id="watchlists_destroy", request=None, responses={204: None, **ONE_ERRORS}, tags=["watchlists"]
    )
    def delete(self, request, watchlist_id):
        services.delete_watchlist(user=request.user, watchlist=selectors.get_watchlist(pk=watchlist_id))
        return Response(status=status.HTTP_204_NO_CONTENT)


class WatchlistAnalyzeView(APIView):
    permission_classes = SIGNED_IN

    @extend_schema(
        operation_id="watchlists_analyze",
        summary="Analyse the watchlist's stocks in an ordinary (deduplicated) job",
        description="201 a new job, 200 the identical job already running. Owner only (403 otherwise); "
        "400 `empty_watchlist` when the list has no stocks.",
        request=WatchlistAnalyzeSerializer,
        responses={
            201: JobCreatedSerializer,
            200: JobDuplicateSerializer,
            **error_responses(*WRITE_ERRORS, 404, 409, 422),
        },
        parameters=[IDEMPOTENCY_KEY],
        tags=["watchlists"],
    )
    def post(self, request, watchlist_id):
        require_json(request)
        watchlist = selectors.get_watchlist(pk=watchlist_id)
        services.ensure_owner(user=request.user, obj=watchlist)
        params = _validated(WatchlistAnalyzeSerializer, request.data)
        try:
            job, created = services.analyze_watchlist(
                request=request, watchlist=watchlist, requested_by=requester(request, "api"), **params
            )
        except TooManyJobs as exc:
            raise Throttled(wait=exc.retry_after, detail=exc.message) from None
        if not created:
            return Response(JobDuplicateSerializer(job).data, status=status.HTTP_200_OK)
        if job.status == JobStatus.FAILED and not job.enqueued:
            raise ServiceUnavailable(
                f"Job {job.pk} was created but could not be handed to the task queue; it is marked failed",
                details={"job_id": str(job.pk), "status": job.status, "reason": job.status_reason},
            )
        return Response(JobCreatedSerializer(job).data, status=status.HTTP_201_CREATED)


class ChangesPagination(PageNumberPagination):
    page_size = 100
    page_size_query_param = "page_size"
    max_page_size = 500


class ChangesView(GenericAPIView):
    """Verdict changes since a moment, from stored results."""

    pagination_class = ChangesPagination
    serializer_class = VerdictChangeSerializer
    filter_backends = []

    def get_queryset(self):
        return []

    @extend_schema(
        operation_id="changes_list",
        parameters=[ChangesQuerySerializer],
        responses={200: VerdictChangeSerializer(many=True), **error_responses(*READ_ERRORS, 404)},
        description="For each stock analysed after `since` (under `strategy`), its newest verdict against its "
        "newest one before `since`: upgrades, downgrades, new Strong Buy / Strong Sell, score deltas and recent "
        "scores. Computed from stored results, never by analysing again. CSV: `/changes.csv` with the same query.",
        tags=["watchlists"],
    )
    def get(self, request):
        query = _validated(ChangesQuerySerializer, request.query_params)
        if query.get("watchlist") and not request.user.is_authenticated:
            raise NotAuthenticated("Sign in to read changes of a watchlist.")
        page = self.paginate_queryset(selectors.changes_for_query(query=query))
        return self.get_paginated_response(VerdictChangeSerializer(page, many=True).data)
