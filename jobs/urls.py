"""Job API routes, mounted under /api/ (before the stock routes)."""

from django.urls import path
from rest_framework.routers import SimpleRouter

from jobs import views

router = SimpleRouter(trailing_slash="/?")
router.register("jobs", views.JobViewSet, basename="api-job")

urlpatterns = [
    path("stocks/analyze-all-stocks", views.AnalyzeAllStocksView.as_view(), name="api-analyze-all-stocks"),
    path("stocks/all-stocks/progress", views.AllStocksProgressView.as_view(), name="api-all-stocks-progress"),
    path("analysis/analyze", views.AnalyzeTickersView.as_view(), name="api-analyze"),
    path("analysis/status/<str:job_id>", views.JobStatusView.as_view(), name="api-job-status"),
    path("analysis/cancel/<str:job_id>", views.CancelJobView.as_view(), name="api-job-cancel"),
    *router.urls,
]
