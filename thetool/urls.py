from django.contrib import admin
from django.urls import include, path, register_converter
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerView

from stocks.converters import SymbolConverter

# Before the includes below: both the API and the pages use <symbol:...> (M&M.NS, BAJAJ-AUTO).
register_converter(SymbolConverter, "symbol")

urlpatterns = [
    path("admin/", admin.site.urls),
    path("api/schema/", SpectacularAPIView.as_view(), name="api-schema"),
    path("api/docs/", SpectacularSwaggerView.as_view(url_name="api-schema"), name="api-docs"),
    # Job routes first: /api/stocks/analyze-all-stocks must not be read as a stock symbol.
    path("api/", include("jobs.urls")),
    path("api/", include("stocks.urls")),
    path("accounts/", include("accounts.urls")),
    path("", include("thetool.page_urls")),
]

handler400 = "thetool.api.handler400"
handler404 = "thetool.api.handler404"
handler500 = "thetool.api.handler500"
