"""Who may reach TheTool at all: signed-in users, or anyone while open access is on.

`THETOOL_OPEN_ACCESS` is read at request time (not import time), so tests can switch it.
"""

from django.conf import settings
from rest_framework.permissions import BasePermission


def is_open_access() -> bool:
    return bool(settings.THETOOL_OPEN_ACCESS)


def may_use_tool(*, user) -> bool:
    return is_open_access() or bool(user and user.is_authenticated)


class SignedInOrOpenAccess(BasePermission):
    """The API's default: a signed-in user (session or token), or anyone while open access is on."""

    message = "Sign in (session) or send 'Authorization: Token <key>' to use the API."

    def has_permission(self, request, view):
        return may_use_tool(user=request.user)
