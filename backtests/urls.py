"""Backtest API routes, mounted under /api/."""

from django.urls import path

from backtests import views

urlpatterns = [
    path("backtests/", views.BacktestCreateView.as_view(), name="api-backtests"),
    path("backtests/<str:job_id>/", views.BacktestDetailView.as_view(), name="api-backtest-detail"),
]
