"""Writes of the accounts domain: a user's own API token."""

from django.db import transaction
from rest_framework.authtoken.models import Token


def create_api_token(*, user) -> Token:
    """A new token for `user`; the previous one (if any) stops working at once."""
    with transaction.atomic():
        Token.objects.filter(user=user).delete()
        return Token.objects.create(user=user)


def revoke_api_token(*, user) -> bool:
    """Delete `user`'s token. True when there was one."""
    deleted, _ = Token.objects.filter(user=user).delete()
    return bool(deleted)
