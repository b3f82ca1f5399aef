"""The job API. Views validate, call a service and serialise; the decisions live in jobs.services."""

from django_filters import rest_framework as filters
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiExample, OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import status, viewsets
from rest_framework.decorators import action
from rest_framework.exceptions import Throttled
from rest_framework.response import Response
from rest_framework.views import APIView

from jobs import selectors, services
from jobs.admission import request_job_for_client
from jobs.idempotency import answer_idempotently
from jobs.models import AnalysisJob, JobStatus
from jobs.permissions import CanManageJob
from jobs.serializers import (
    AnalyzeStocksRequestSerializer,
    AnalyzeTickersRequestSerializer,
    JobCreatedSerializer,
    JobDuplicateSerializer,
    JobStatusSerializer,
    ProgressSerializer,
    ResultRowSerializer,
    created_payload,
    duplicate_payload,
    result_row,
    status_payload,
)
from jobs.throttles import TooManyJobs
from thetool.api import ErrorSerializer
from thetool.exceptions import ServiceUnavailable

DEDUP_RULE = (
    "A request for the same analysis (same set of symbols after normalisation: trimmed, upper-case, "
    "de-duplicated, order-free, `.NS` added to bare NSE symbols; same strategy, capital, risk settings and "
    "data source) returns the active job instead of creating one: **200** with `is_duplicate: true` and its "
    "progress. An active (queued or processing) job counts while it was created within "
    "`THETOOL_DEDUP_WINDOW_SECONDS` (default 300) or its worker's heartbeat is fresher than "
    "`THETOOL_JOB_STALE_SECONDS`; an older job with no live worker is retired (status failed, with the "
    "reason) and a new job is created. `force: true` always creates a new job and cancels the active one "
    "(which records `superseded_by`). A new job answers **201**; `thread_started` is true only when the job "
    "was handed to the django-q2 broker. Database failure answers **503** with `Retry-After`, never a "
    "duplicate or a conflict."
)
ERRORS = {
    400: OpenApiResponse(ErrorSerializer, description="Invalid input; nothing was created"),
    401: OpenApiResponse(ErrorSerializer, description="Sign-in required (session or `Authorization: Token`)"),
    403: OpenApiResponse(ErrorSerializer, description="`force` would supersede another user's job"),
    409: OpenApiResponse(ErrorSerializer, description="A request with this Idempotency-Key is still in progress"),
    422: OpenApiResponse(ErrorSerializer, description="This Idempotency-Key was used with a different body"),
    429: OpenApiResponse(ErrorSerializer, description="Too many new jobs; see Retry-After. Duplicates never count"),
    503: OpenApiResponse(ErrorSerializer, description="Database or task queue unavailable; retry later"),
}


IDEMPOTENCY_KEY = OpenApiParameter(
    "Idempotency-Key",
    OpenApiTypes.STR,
    location=OpenApiParameter.HEADER,
    required=False,
    description="Optional. The same key and body replays the first answer for 24 h (per user).",
)
CANCEL_ERRORS = {401: ErrorSerializer, 403: ErrorSerializer}


def requester(request, channel: str) -> str:
    user = request.user.get_username() if request.user.is_authenticated else ""
    address = request.META.get("REMOTE_ADDR", "")
    return f"{channel}:{user or address or 'anonymous'}"


def answer_job_request(request, **kwargs) -> Response:
    return answer_idempotently(request=request, answer=lambda: _answer_job_request(request, **kwargs))


def _answer_job_request(request, *, serializer_class, symbols_key: str, noun: str, channel: str = "api") -> Response:
    serializer = serializer_class(data=request.data)
    serializer.is_valid(raise_exception=True)
    try:
        job, created = request_job_for_client(
            request=request, **serializer.validated_data, requested_by=requester(request, channel)
        )
    except TooManyJobs as exc:
        raise Throttled(wait=exc.retry_after, detail=exc.message) from None
    if not created:
        return Response(duplicate_payload(job, symbols_key=symbols_key, noun=noun), status=status.HTTP_200_OK)
    if job.status == JobStatus.FAILED and not job.enqueued:
        raise ServiceUnavailable(
            f"Job {job.pk} was created but could not be handed to the task queue; it is marked failed",
            details={"job_id": str(job.pk), "status": job.status, "reason": job.status_reason},
        )
    return Response(created_payload(job, symbols_key=symbols_key), status=status.HTTP_201_CREATED)


class AnalyzeAllStocksView(APIView):
    @extend_schema(
        operation_id="analyze_all_stocks",
        summary="Analyse stocks in a background job (deduplicated)",
        description=DEDUP_RULE,
        request=AnalyzeStocksRequestSerializer,
        responses={201: JobCreatedSerializer, 200: JobDuplicateSerializer, **ERRORS},
        parameters=[IDEMPOTENCY_KEY],
        examples=[
            OpenApiExample("One stock", value={"symbols": ["20MICRONS.NS"], "capital": 100000}, request_only=True)
        ],
        tags=["analysis"],
    )
    def post(self, request):
        return answer_job_request(
            request, serializer_class=AnalyzeStocksRequestSerializer, symbols_key="symbols", noun="symbols"
        )


class AnalyzeTickersView(APIView):
    @extend_schema(
        operation_id="analyze_tickers",
        summary="Analyse tickers in a background job (deduplicated)",
        description=DEDUP_RULE + " Same as /api/stocks/analyze-all-stocks, with `tickers` instead of `symbols`.",
        request=AnalyzeTickersRequestSerializer,
        responses={201: JobCreatedSerializer, 200: JobDuplicateSerializer, **ERRORS},
        parameters=[IDEMPOTENCY_KEY],
        tags=["analysis"],
    )
    def post(self, request):
        return answer_job_request(
            request, serializer_class=AnalyzeTickersRequestSerializer, symbols_key="tickers", noun="tickers"
        )


class JobStatusView(APIView):
    @extend_schema(
        operation_id="analysis_status",
        summary="Progress of a job (and its results once completed)",
        responses={200: JobStatusSerializer, 400: ErrorSerializer, 404: ErrorSerializer},
        tags=["analysis"],
    )
    def get(self, request, job_id):
        return Response(status_payload(selectors.get_job(job_id)))


class CancelJobView(APIView):
    permission_classes = [*APIView.permission_classes, CanManageJob]

    @extend_schema(
        operation_id="analysis_cancel",
        summary="Cancel a queued or processing job",
        description="The worker stops before its next batch and never overwrites the cancelled status. "
        "409 if the job already finished.",
        request=None,
        responses={
            200: JobStatusSerializer,
            400: ErrorSerializer,
            404: ErrorSerializer,
            409: ErrorSerializer,
            **CANCEL_ERRORS,
        },
        tags=["analysis"],
    )
    def post(self, request, job_id):
        self.check_object_permissions(request, selectors.get_job(job_id))
        job = services.cancel_job(job_id=job_id, cancelled_by=requester(request, "api"))
        return Response(status_payload(job, with_results=False))


class AllStocksProgressView(APIView):
    @extend_schema(
        operation_id="all_stocks_progress",
        summary="Active jobs with their progress, and jobs that finished in the last hour",
        responses={200: ProgressSerializer},
        tags=["analysis"],
    )
    def get(self, request):
        return Response(
            {
                "active": [status_payload(job, with_results=False) for job in selectors.active_jobs()],
                "recently_finished": [
                    status_payload(job, with_results=False) for job in selectors.recently_finished_jobs()
                ],
            }
        )


class JobFilter(filters.FilterSet):
    status = filters.ChoiceFilter(choices=JobStatus.choices)
    mine = filters.BooleanFilter(method="filter_mine", label="Only the jobs I requested")

    class Meta:
        model = AnalysisJob
        fields = ["status", "mine"]

    def filter_mine(self, queryset, name, value):
        return selectors.jobs_requested_by(queryset, user=self.request.user) if value else queryset


class JobViewSet(viewsets.GenericViewSet):
    """Browse, create and cancel analysis jobs. Creation follows the same deduplication rule."""

    filterset_class = JobFilter
    serializer_class = AnalyzeStocksRequestSerializer
    lookup_value_regex = "[^/]+"

    def get_queryset(self):
        return selectors.jobs_active_first()

    @extend_schema(
        summary="Jobs, queued and processing first",
        responses={200: JobStatusSerializer(many=True)},
        parameters=[
            OpenApiParameter("status", OpenApiTypes.STR, enum=list(JobStatus.values)),
            OpenApiParameter("mine", OpenApiTypes.BOOL, description="Only the jobs the signed-in user requested"),
        ],
        tags=["jobs"],
    )
    def list(self, request):
        queryset = self.filter_queryset(self.get_queryset())
        page = self.paginate_queryset(queryset)
        return self.get_paginated_response([status_payload(job, with_results=False) for job in page])

    @extend_schema(
        summary="One job",
        responses={200: JobStatusSerializer, 400: ErrorSerializer, 404: ErrorSerializer},
        tags=["jobs"],
    )
    def retrieve(self, request, pk=None):
        return Response(status_payload(selectors.get_job(pk)))

    @extend_schema(
        summary="Create a job (deduplicated)",
        description=DEDUP_RULE,
        request=AnalyzeStocksRequestSerializer,
        responses={201: JobCreatedSerializer, 200: JobDuplicateSerializer, **ERRORS},
        parameters=[IDEMPOTENCY_KEY],
        tags=["jobs"],
    )
    def create(self, request):
        return answer_job_request(
            request, serializer_class=AnalyzeStocksRequestSerializer, symbols_key="symbols", noun="symbols"
        )

    @extend_schema(
        summary="Cancel a job",
        request=None,
        responses={200: JobStatusSerializer, 404: ErrorSerializer, 409: ErrorSerializer, **CANCEL_ERRORS},
        tags=["jobs"],
    )
    @action(detail=True, methods=["post"], permission_classes=[*APIView.permission_classes, CanManageJob])
    def cancel(self, request, pk=None):
        self.check_object_permissions(request, selectors.get_job(pk))
        job = services.cancel_job(job_id=pk, cancelled_by=requester(request, "api"))
        return Response(status_payload(job, with_results=False))

    @extend_schema(
        summary="A job's results, best score first (failed symbols carry an error)",
        responses={200: ResultRowSerializer(many=True), 404: ErrorSerializer},
        tags=["jobs"],
    )
    @action(detail=True, methods=["get"])
    def results(self, request, pk=None):
        job = selectors.get_job(pk)
        page = self.paginate_queryset(selectors.job_results(job))
        rows = [{**result_row(r), "error": r.error} for r in page]
        return self.get_paginated_response(rows)
