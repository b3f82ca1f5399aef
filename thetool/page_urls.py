"""Server-rendered pages (templates/)."""

urlpatterns = []
