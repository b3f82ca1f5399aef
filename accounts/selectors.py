"""Reads of the accounts domain."""

from rest_framework.authtoken.models import Token


def get_api_token(*, user) -> Token | None:
    return Token.objects.filter(user=user).first()
