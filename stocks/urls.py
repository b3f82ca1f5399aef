"""Stock API routes, mounted under /api/ (after the jobs routes, which own /api/stocks/analyze-all-stocks)."""

from django.urls import path, register_converter

from stocks import views


class SymbolConverter:
    """A symbol path segment: letters, digits and & - _ . ("M&M.NS", "BAJAJ-AUTO.NS").

    Clients URL-encode "&" as %26; Django decodes the path before matching.
    """

    regex = r"[A-Za-z0-9&\-_.]{1,40}"

    def to_python(self, value: str) -> str:
        return value

    def to_url(self, value: str) -> str:
        return value


register_converter(SymbolConverter, "symbol")

urlpatterns = [
    path("stocks/", views.StockListView.as_view(), name="api-stock-list"),
    path("stocks/<symbol:symbol>/", views.StockDetailView.as_view(), name="api-stock-detail"),
    path("stocks/<symbol:symbol>/history/", views.StockHistoryView.as_view(), name="api-stock-history"),
    path("strategies/", views.StrategyListView.as_view(), name="api-strategy-list"),
    path("strategies/<int:strategy_id>/", views.StrategyDetailView.as_view(), name="api-strategy-detail"),
]
