from django.contrib import admin
from django.contrib.auth.decorators import login_not_required
from django.templatetags.static import static
from django.urls import include, path, register_converter
from django.views.generic import RedirectView
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerView

from jobs import ops_pages
from stocks.converters import SymbolConverter
from thetool import health
from thetool.api_root import ApiRootView

admin.site.site_header = "TheTool administration"
admin.site.site_title = "TheTool admin"
# The job list needs the width (at 1280 px the sidebar pushed its last columns off screen); every model
# is one click away on the admin's home page and in the breadcrumbs.
admin.site.enable_nav_sidebar = False

# Before the includes below: both the API and the pages use <symbol:...> (M&M.NS, BAJAJ-AUTO).
register_converter(SymbolConverter, "symbol")

urlpatterns = [
    # Probes and metrics: public (see thetool/health.py), outside /api/ so no API auth applies.
    path("healthz", health.healthz, name="healthz"),
    # Pages that name no icon (the browsable API, the admin) make browsers ask for /favicon.ico.
    path(
        "favicon.ico",
        login_not_required(RedirectView.as_view(url=static("favicon.svg"), permanent=True)),
        name="favicon",
    ),
    path("readyz", health.readyz, name="readyz"),
    path("metrics", health.metrics, name="metrics"),
    # Before admin.site.urls, which would otherwise claim the path.
    path("admin/dashboard/", ops_pages.dashboard, name="ops-dashboard"),
    path("admin/", admin.site.urls),
    path("api/", ApiRootView.as_view(), name="api-root"),
    path("api/schema/", SpectacularAPIView.as_view(), name="api-schema"),
    path("api/docs/", SpectacularSwaggerView.as_view(url_name="api-schema"), name="api-docs"),
    # Job routes first: /api/stocks/analyze-all-stocks must not be read as a stock symbol.
    path("api/", include("jobs.urls")),
    path("api/", include("backtests.urls")),
    path("api/", include("stocks.urls")),
    path("api/", include("alerts.urls")),
    path("api/", include("watchlists.urls")),
    path("accounts/", include("accounts.urls")),
    path("", include("thetool.page_urls")),
]

handler400 = "thetool.api.handler400"
handler404 = "thetool.api.handler404"
handler500 = "thetool.api.handler500"
