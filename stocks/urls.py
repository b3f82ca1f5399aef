"""Stock API routes, mounted under /api/ (after the jobs routes, which own /api/stocks/analyze-all-stocks)."""

from django.urls import path

from stocks import views

# The <symbol:...> converter is registered once, in thetool/urls.py.


urlpatterns = [
    path("stocks/", views.StockListView.as_view(), name="api-stock-list"),
    path("stocks/<symbol:symbol>/", views.StockDetailView.as_view(), name="api-stock-detail"),
    path("stocks/<symbol:symbol>/history/", views.StockHistoryView.as_view(), name="api-stock-history"),
    path("strategies/", views.StrategyListView.as_view(), name="api-strategy-list"),
    path("strategies/<int:strategy_id>/", views.StrategyDetailView.as_view(), name="api-strategy-detail"),
]
