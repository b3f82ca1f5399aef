"""Times: UTC in the database and in the JSON API; Asia/Kolkata (TIME_ZONE) on the pages people read."""

from datetime import UTC

from django.utils import timezone


class UTCForAPIMiddleware:
    """Serialise API datetimes in UTC ("...Z"), whatever TIME_ZONE pages display in."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        if not request.path.startswith("/api/"):
            return self.get_response(request)
        with timezone.override(UTC):
            return self.get_response(request)
