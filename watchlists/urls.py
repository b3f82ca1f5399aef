"""Watchlist and what-changed API routes, mounted under /api/."""

from django.urls import path

from watchlists import views

urlpatterns = [
    path("watchlists/", views.WatchlistListView.as_view(), name="api-watchlist-list"),
    path("watchlists/<int:watchlist_id>/", views.WatchlistDetailView.as_view(), name="api-watchlist-detail"),
    path("watchlists/<int:watchlist_id>/analyze", views.WatchlistAnalyzeView.as_view(), name="api-watchlist-analyze"),
    path("changes/", views.ChangesView.as_view(), name="api-changes"),
]
