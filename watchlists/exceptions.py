"""Named errors of watchlists, saved screens and scans (all leave in the API's one error shape)."""

from thetool.exceptions import ApplicationError, NotFound


class WatchlistNotFound(NotFound):
    code = "watchlist_not_found"


class NotOwner(ApplicationError):
    status_code = 403
    code = "permission_denied"


class EmptyWatchlist(ApplicationError):
    # An empty symbol list means "every stock" to the job service: never send one by accident.
    code = "empty_watchlist"


class DuplicateName(ApplicationError):
    code = "duplicate_name"


class InvalidSince(ApplicationError):
    code = "invalid_since"
