"""Pages of the daily loop (included from thetool/page_urls.py)."""

from django.urls import path

from watchlists import pages

urlpatterns = [
    path("watchlists/", pages.watchlist_list, name="watchlist-list"),
    path("watchlists/add/", pages.add_to_watchlist, name="watchlist-add"),
    path("watchlists/<int:watchlist_id>/", pages.watchlist_detail, name="watchlist-detail"),
    path("watchlists/<int:watchlist_id>/edit/", pages.watchlist_action, name="watchlist-action"),
    path("screens/", pages.screen_save, name="screen-save"),
    path("screens/<uuid:token>/", pages.screen_open, name="screen-open"),
    path("screens/<uuid:token>/delete/", pages.screen_delete, name="screen-delete"),
    path("scans/", pages.scan_create, name="scan-create"),
    path("scans/<int:scan_id>/delete/", pages.scan_delete, name="scan-delete"),
    path("changes/", pages.changes_page, name="changes"),
    path("changes.csv", pages.changes_csv, name="changes-csv"),
]
