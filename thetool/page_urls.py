"""Server-rendered pages (templates/). The JSON API lives under /api/ (thetool/urls.py)."""

from django.urls import include, path

from alerts import pages as alert_pages
from backtests import pages as backtest_pages
from jobs import pages as job_pages
from stocks import pages as stock_pages

urlpatterns = [
    path("", stock_pages.stock_list, name="stock-list"),
    path("analyze/", job_pages.analyze, name="analyze"),
    path("stocks/<symbol:symbol>/", stock_pages.stock_detail, name="stock-detail"),
    path("strategies/", stock_pages.strategy_list, name="strategy-list"),
    path("alerts/", alert_pages.alert_list, name="alert-list"),
    path("alerts/<int:subscription_id>/delete/", alert_pages.delete_alert, name="alert-delete"),
    path("jobs/", job_pages.job_list, name="job-list"),
    path("jobs/<str:job_id>/", job_pages.job_detail, name="job-detail"),
    path("jobs/<str:job_id>/progress/", job_pages.job_progress, name="job-progress"),
    path("jobs/<str:job_id>/cancel/", job_pages.cancel, name="job-cancel"),
    path("jobs/<str:job_id>/results.csv", job_pages.export_csv, name="job-export-csv"),
    path("jobs/<str:job_id>/results.xlsx", job_pages.export_xlsx, name="job-export-xlsx"),
    path("", include("watchlists.page_urls")),
    path("backtests/run/", backtest_pages.run_backtest, name="backtest-run"),
    path("backtests/<str:job_id>/", backtest_pages.backtest_detail, name="backtest-detail"),
    path("backtests/<str:job_id>/results.csv", backtest_pages.export_csv, name="backtest-export-csv"),
    path("backtests/<str:job_id>/results.xlsx", backtest_pages.export_xlsx, name="backtest-export-xlsx"),
]
