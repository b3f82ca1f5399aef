"""Watchlists, saved screens and scans belong to an account, so they need one even with open access."""

from rest_framework.permissions import BasePermission


class SignedIn(BasePermission):
    message = "Watchlists need an account: sign in (session) or send 'Authorization: Token <key>'."

    def has_permission(self, request, view):
        return bool(request.user and request.user.is_authenticated)
