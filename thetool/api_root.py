"""GET /api/: the API's resources and their URLs, for people browsing it and clients that discover.

Every operation is described in the OpenAPI schema (`schema`) and on its docs page (`docs`).
"""

from drf_spectacular.utils import extend_schema, inline_serializer
from rest_framework import serializers
from rest_framework.response import Response
from rest_framework.reverse import reverse
from rest_framework.views import APIView

# Name in the answer -> URL name. Resources with an id ({job_id}, {symbol}) are reached from these.
LINKS = {
    "stocks": "api-stock-list",
    "strategies": "api-strategy-list",
    "analyze": "api-analyze",
    "analyze_all_stocks": "api-analyze-all-stocks",
    "all_stocks_progress": "api-all-stocks-progress",
    "jobs": "api-job-list",
    "backtests": "api-backtests",
    "watchlists": "api-watchlist-list",
    "changes": "api-changes",
    "alerts": "api-alert-list",
    "alert_deliveries": "api-alert-delivery-list",
    "schema": "api-schema",
    "docs": "api-docs",
}


class ApiRootView(APIView):
    """The API's resources, each with its URL; the OpenAPI schema (`schema`) describes every operation."""

    name = "TheTool API"  # the browsable page's title (DRF would say "Api Root")

    @extend_schema(
        operation_id="api_root",
        responses=inline_serializer("ApiRoot", {name: serializers.URLField() for name in LINKS}),
    )
    def get(self, request):
        return Response({name: reverse(url_name, request=request) for name, url_name in LINKS.items()})
