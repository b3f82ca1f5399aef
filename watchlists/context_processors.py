"""`my_watchlists` in every page's context, read only by the pages that show it (lazily)."""

from django.utils.functional import SimpleLazyObject

from watchlists.selectors import watchlists_of


def my_watchlists(request) -> dict:
    """The signed-in user's watchlists, for "add to watchlist" menus (stock pages). No query unless used."""
    return {"my_watchlists": SimpleLazyObject(lambda: list(watchlists_of(user=getattr(request, "user", None))))}
