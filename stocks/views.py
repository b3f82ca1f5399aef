"""The stock JSON API: validate the query -> call a selector -> serialize.

Errors are raised as stocks.exceptions / thetool.exceptions and leave through
thetool.api.exception_handler as {"error": {"code", "message", "details"}}.
"""

from drf_spectacular.utils import OpenApiParameter, OpenApiTypes, extend_schema
from rest_framework.generics import GenericAPIView
from rest_framework.pagination import PageNumberPagination
from rest_framework.response import Response
from rest_framework.views import APIView

from stocks import selectors, strategies
from stocks.exceptions import UnknownStrategy
from stocks.serializers import (
    MAX_PAGE_SIZE,
    PageQuerySerializer,
    ResultSummarySerializer,
    StockDetailSerializer,
    StockListQuerySerializer,
    StockRowSerializer,
    StrategySerializer,
)
from thetool.exceptions import NotFound
from thetool.schema import READ_ERRORS, error_responses

SYMBOL_PARAMETER = OpenApiParameter(
    "symbol",
    OpenApiTypes.STR,
    OpenApiParameter.PATH,
    description='NSE or Yahoo symbol: "RELIANCE", "RELIANCE.NS"; URL-encode "&" ("M%26M.NS")',
)


class StockPagination(PageNumberPagination):
    page_size = 50
    page_size_query_param = "page_size"
    max_page_size = MAX_PAGE_SIZE


def _validated_query(serializer_class, request) -> dict:
    query = serializer_class(data=request.query_params)
    query.is_valid(raise_exception=True)
    return query.validated_data


# A malformed query or symbol is a 400, an unknown symbol or a page past the end a 404.
LOOKUP_ERRORS = error_responses(*READ_ERRORS, 404)


class StockListView(GenericAPIView):
    """The stock universe with each stock's latest verdict."""

    pagination_class = StockPagination
    serializer_class = StockRowSerializer
    filter_backends = []

    def get_queryset(self):
        # The browsable API asks for the queryset too, so it is built here rather than in get().
        query = _validated_query(StockListQuerySerializer, self.request)
        return selectors.stocks_with_latest_results(
            query=query["q"], active=query["active"], verdict=query.get("verdict")
        )

    @extend_schema(
        operation_id="stocks_list",
        parameters=[StockListQuerySerializer],
        responses={200: StockRowSerializer(many=True), **LOOKUP_ERRORS},
        description="Search the universe (`q` matches symbol or name); `verdict` filters on the latest verdict.",
    )
    def get(self, request):
        page = self.paginate_queryset(self.get_queryset())
        return self.get_paginated_response(self.get_serializer(page, many=True).data)


class StockDetailView(APIView):
    @extend_schema(
        operation_id="stocks_retrieve",
        parameters=[SYMBOL_PARAMETER],
        responses={200: StockDetailSerializer, **LOOKUP_ERRORS},
        description="One stock and its latest analysis (indicator readings, trade plan and data provenance).",
    )
    def get(self, request, symbol: str):
        stock = selectors.get_stock(symbol)
        stock.latest_result = selectors.latest_result_for(stock.yahoo_symbol)
        return Response(StockDetailSerializer(stock).data)


class StockHistoryView(GenericAPIView):
    pagination_class = StockPagination
    serializer_class = ResultSummarySerializer
    filter_backends = []

    def get_queryset(self):
        # The browsable API asks for the queryset too, so it is built here rather than in get().
        _validated_query(PageQuerySerializer, self.request)
        stock = selectors.get_stock(self.kwargs["symbol"])
        return selectors.result_history(stock.yahoo_symbol, limit=None)

    @extend_schema(
        operation_id="stocks_history",
        parameters=[SYMBOL_PARAMETER, PageQuerySerializer],
        responses={200: ResultSummarySerializer(many=True), **LOOKUP_ERRORS},
        description="Past analyses of one stock, newest first.",
    )
    def get(self, request, symbol: str):
        page = self.paginate_queryset(self.get_queryset())
        return self.get_paginated_response(self.get_serializer(page, many=True).data)


class StrategyListView(APIView):
    @extend_schema(
        operation_id="strategies_list",
        responses={200: StrategySerializer(many=True), **error_responses(*READ_ERRORS)},
        description="Every strategy with its indicator and category weights and its risk rules.",
    )
    def get(self, request):
        ordered = [strategies.STRATEGIES[key].to_dict() for key in sorted(strategies.STRATEGIES)]
        return Response(StrategySerializer(ordered, many=True).data)


class StrategyDetailView(APIView):
    @extend_schema(
        operation_id="strategies_retrieve",
        responses={200: StrategySerializer, **error_responses(*READ_ERRORS, 404)},
    )
    def get(self, request, strategy_id: int):
        try:
            strategy = strategies.get_strategy(strategy_id)
        except UnknownStrategy as exc:
            # In a URL an unknown id is a missing resource (404); in a request body it stays a 400.
            raise NotFound(exc.message, code=exc.code, details=exc.details) from exc
        return Response(StrategySerializer(strategy.to_dict()).data)
