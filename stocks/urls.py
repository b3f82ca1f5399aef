"""Stock API routes, mounted under /api/."""

urlpatterns = []
