"""Server-rendered pages (templates/). The JSON API lives under /api/ (thetool/urls.py)."""

from django.urls import path, register_converter

from jobs import pages as job_pages
from stocks import pages as stock_pages


class PageSymbolConverter:
    """A stock symbol in a page URL: letters, digits and & - _ . ("M&M", "BAJAJ-AUTO", "TCS.NS").

    Links percent-encode "&" as %26; Django decodes the path before matching.
    """

    regex = r"[A-Za-z0-9&\-_.]{1,40}"

    def to_python(self, value: str) -> str:
        return value

    def to_url(self, value: str) -> str:
        return value


# Its own name: stocks/urls.py registers "symbol" for the API, and re-registering a name is deprecated.
register_converter(PageSymbolConverter, "page_symbol")

urlpatterns = [
    path("", stock_pages.stock_list, name="stock-list"),
    path("analyze/", job_pages.analyze, name="analyze"),
    path("stocks/<page_symbol:symbol>/", stock_pages.stock_detail, name="stock-detail"),
    path("strategies/", stock_pages.strategy_list, name="strategy-list"),
    path("jobs/", job_pages.job_list, name="job-list"),
    path("jobs/<str:job_id>/", job_pages.job_detail, name="job-detail"),
    path("jobs/<str:job_id>/progress/", job_pages.job_progress, name="job-progress"),
    path("jobs/<str:job_id>/cancel/", job_pages.cancel, name="job-cancel"),
    path("jobs/<str:job_id>/results.csv", job_pages.export_csv, name="job-export-csv"),
    path("jobs/<str:job_id>/results.xlsx", job_pages.export_xlsx, name="job-export-xlsx"),
]
