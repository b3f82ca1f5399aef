"""Pages need a signed-in user unless open access is on.

Django's LoginRequiredMiddleware redirects to LOGIN_URL and honours `@login_not_required` (the
login page). The admin keeps its own sign-in and staff check. API views are left to DRF, whose default
permission (accounts.access.SignedInOrOpenAccess) answers 401/403 in the JSON error shape instead
of redirecting a script to an HTML form.
"""

from django.contrib.auth.middleware import LoginRequiredMiddleware
from rest_framework.views import APIView

from accounts.access import is_open_access


def _is_api_view(view_func) -> bool:
    view_class = getattr(view_func, "cls", None)
    return isinstance(view_class, type) and issubclass(view_class, APIView)


def _is_admin_view(request) -> bool:
    # Every URL of the admin site (its app_name is "admin"): the admin checks is_staff itself.
    match = getattr(request, "resolver_match", None)
    return match is not None and "admin" in match.app_names


class SignInRequiredMiddleware(LoginRequiredMiddleware):
    def process_view(self, request, view_func, view_args, view_kwargs):
        if is_open_access() or _is_api_view(view_func) or _is_admin_view(request):
            return None
        return super().process_view(request, view_func, view_args, view_kwargs)
