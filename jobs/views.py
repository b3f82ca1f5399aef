"""The job API. Views validate, call a service and serialise; the decisions live in jobs.services."""

from django_filters import rest_framework as filters
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiExample, OpenApiParameter, extend_schema
from rest_framework import status, viewsets
from rest_framework.decorators import action
from rest_framework.exceptions import Throttled
from rest_framework.response import Response
from rest_framework.serializers import Serializer
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
    JobDetailSerializer,
    JobDuplicateSerializer,
    JobResultSerializer,
    JobStatusSerializer,
    ProgressSerializer,
    TickerJobCreatedSerializer,
    TickerJobDuplicateSerializer,
)
from jobs.throttles import TooManyJobs
from thetool.api import require_json
from thetool.exceptions import ServiceUnavailable
from thetool.schema import READ_ERRORS, WRITE_ERRORS, error_responses

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
# 409: an Idempotency-Key still being decided; 422: a key reused with another body.
CREATE_ERRORS = error_responses(*WRITE_ERRORS, 409, 422)
IDEMPOTENCY_KEY = OpenApiParameter(
    "Idempotency-Key",
    OpenApiTypes.STR,
    location=OpenApiParameter.HEADER,
    required=False,
    description="Optional. The same key and body replays the first answer for 24 h (per user).",
)
JOB_ERRORS = error_responses(*READ_ERRORS, 404)  # 400 for a malformed job id, 404 for an unknown one
CANCEL_ERRORS = error_responses(*WRITE_ERRORS, 404, 409)
LIST_ERRORS = error_responses(*READ_ERRORS, 404)  # 404 for a page number out of range


def requester(request, channel: str) -> str:
    user = request.user.get_username() if request.user.is_authenticated else ""
    address = request.META.get("REMOTE_ADDR", "")
    return f"{channel}:{user or address or 'anonymous'}"


def answer_job_request(request, **kwargs) -> Response:
    return answer_idempotently(request=request, answer=lambda: _answer_job_request(request, **kwargs))


def _answer_job_request(
    request,
    *,
    serializer_class: type[Serializer],
    created_serializer: type[Serializer],
    duplicate_serializer: type[Serializer],
    channel: str = "api",
) -> Response:
    """Validate, request the job, and answer 201 (new) or 200 (the running duplicate) with its serializer."""
    require_json(request)
    serializer = serializer_class(data=request.data)
    serializer.is_valid(raise_exception=True)
    try:
        job, created = request_job_for_client(
            request=request, **serializer.validated_data, requested_by=requester(request, channel)
        )
    except TooManyJobs as exc:
        raise Throttled(wait=exc.retry_after, detail=exc.message) from None
    if not created:
        return Response(duplicate_serializer(job).data, status=status.HTTP_200_OK)
    if job.status == JobStatus.FAILED and not job.enqueued:
        raise ServiceUnavailable(
            f"Job {job.pk} was created but could not be handed to the task queue; it is marked failed",
            details={"job_id": str(job.pk), "status": job.status, "reason": job.status_reason},
        )
    return Response(created_serializer(job).data, status=status.HTTP_201_CREATED)


def answer_symbols_request(request) -> Response:
    return answer_job_request(
        request,
        serializer_class=AnalyzeStocksRequestSerializer,
        created_serializer=JobCreatedSerializer,
        duplicate_serializer=JobDuplicateSerializer,
    )


class AnalyzeAllStocksView(APIView):
    # JSON only: a form or multipart body from any web page must not start a job (a 415 instead).

    @extend_schema(
        operation_id="analyze_all_stocks",
        summary="Analyse stocks in a background job (deduplicated)",
        description=DEDUP_RULE,
        request=AnalyzeStocksRequestSerializer,
        responses={201: JobCreatedSerializer, 200: JobDuplicateSerializer, **CREATE_ERRORS},
        parameters=[IDEMPOTENCY_KEY],
        examples=[
            OpenApiExample("One stock", value={"symbols": ["20MICRONS.NS"], "capital": 100000}, request_only=True)
        ],
        tags=["analysis"],
    )
    def post(self, request):
        return answer_symbols_request(request)


class AnalyzeTickersView(APIView):
    @extend_schema(
        operation_id="analyze_tickers",
        summary="Analyse tickers in a background job (deduplicated)",
        description=DEDUP_RULE + " Same as /api/stocks/analyze-all-stocks, with `tickers` instead of `symbols`.",
        request=AnalyzeTickersRequestSerializer,
        responses={201: TickerJobCreatedSerializer, 200: TickerJobDuplicateSerializer, **CREATE_ERRORS},
        parameters=[IDEMPOTENCY_KEY],
        tags=["analysis"],
    )
    def post(self, request):
        return answer_job_request(
            request,
            serializer_class=AnalyzeTickersRequestSerializer,
            created_serializer=TickerJobCreatedSerializer,
            duplicate_serializer=TickerJobDuplicateSerializer,
        )


class JobStatusView(APIView):
    @extend_schema(
        operation_id="analysis_status",
        summary="Progress of a job (and its results once completed)",
        responses={200: JobDetailSerializer, **JOB_ERRORS},
        tags=["analysis"],
    )
    def get(self, request, job_id):
        return Response(JobDetailSerializer(selectors.get_job(job_id)).data)


class CancelJobView(APIView):
    permission_classes = [*APIView.permission_classes, CanManageJob]

    @extend_schema(
        operation_id="analysis_cancel",
        summary="Cancel a queued or processing job",
        description="The worker stops before its next batch and never overwrites the cancelled status. "
        "409 if the job already finished.",
        request=None,
        responses={200: JobStatusSerializer, **CANCEL_ERRORS},
        tags=["analysis"],
    )
    def post(self, request, job_id):
        self.check_object_permissions(request, selectors.get_job(job_id))
        job = services.cancel_job(job_id=job_id, cancelled_by=requester(request, "api"))
        return Response(JobStatusSerializer(job).data)


class AllStocksProgressView(APIView):
    @extend_schema(
        operation_id="all_stocks_progress",
        summary="Active jobs with their progress, and jobs that finished in the last hour",
        responses={200: ProgressSerializer, **error_responses(*READ_ERRORS)},
        tags=["analysis"],
    )
    def get(self, request):
        progress = {"active": selectors.active_jobs(), "recently_finished": selectors.recently_finished_jobs()}
        return Response(ProgressSerializer(progress).data)


class JobFilter(filters.FilterSet):
    status = filters.ChoiceFilter(choices=JobStatus.choices)
    mine = filters.BooleanFilter(method="filter_mine", label="Only the jobs the signed-in user requested")

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
        responses={200: JobStatusSerializer(many=True), **LIST_ERRORS},
        tags=["jobs"],
    )
    def list(self, request):
        page = self.paginate_queryset(self.filter_queryset(self.get_queryset()))
        return self.get_paginated_response(JobStatusSerializer(page, many=True).data)

    @extend_schema(summary="One job", responses={200: JobDetailSerializer, **JOB_ERRORS}, tags=["jobs"])
    def retrieve(self, request, pk=None):
        return Response(JobDetailSerializer(selectors.get_job(pk)).data)

    @extend_schema(
        summary="Create a job (deduplicated)",
        description=DEDUP_RULE,
        request=AnalyzeStocksRequestSerializer,
        responses={201: JobCreatedSerializer, 200: JobDuplicateSerializer, **CREATE_ERRORS},
        parameters=[IDEMPOTENCY_KEY],
        tags=["jobs"],
    )
    def create(self, request):
        return answer_symbols_request(request)

    @extend_schema(
        summary="Cancel a job",
        request=None,
        responses={200: JobStatusSerializer, **CANCEL_ERRORS},
        tags=["jobs"],
    )
    @action(detail=True, methods=["post"], permission_classes=[*APIView.permission_classes, CanManageJob])
    def cancel(self, request, pk=None):
        self.check_object_permissions(request, selectors.get_job(pk))
        job = services.cancel_job(job_id=pk, cancelled_by=requester(request, "api"))
        return Response(JobStatusSerializer(job).data)

    @extend_schema(
        summary="A job's results, best score first; failed symbols (with an error) last",
        responses={200: JobResultSerializer(many=True), **LIST_ERRORS},
        tags=["jobs"],
    )
    @action(detail=True, methods=["get"], serializer_class=JobResultSerializer, filter_backends=[])
    def results(self, request, pk=None):
        page = self.paginate_queryset(selectors.job_results(selectors.get_job(pk)))
        return self.get_paginated_response(JobResultSerializer(page, many=True).data)
