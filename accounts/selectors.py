"""Reads for accounts: every query is scoped to its owner."""

from __future__ import annotations

from django.db.models import QuerySet

from dfdsite.errors import NotFound

from .models import ApiToken


def token_list(*, user) -> QuerySet[ApiToken]:
    return ApiToken.objects.filter(user=user).order_by("-created_at", "-id")


def token_get(*, user, token_id) -> ApiToken:
    """The user's token. Raises NotFound for a missing token and for someone else's alike:
    other people's tokens do not exist for you."""
    token = ApiToken.objects.filter(user=user, id=token_id).first()
    if token is None:
        raise NotFound("No such token.")
    return token
