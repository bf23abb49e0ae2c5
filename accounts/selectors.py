"""Reads for accounts: every query is scoped to its owner."""

from __future__ import annotations

from django.db.models import QuerySet
from django.http import Http404

from .models import ApiToken


def token_list(*, user) -> QuerySet[ApiToken]:
    return ApiToken.objects.filter(user=user).order_by("-created_at", "-id")


def token_get(*, user, token_id) -> ApiToken:
    """The user's token, or 404: other people's tokens do not exist for you."""
    token = ApiToken.objects.filter(user=user, id=token_id).first()
    if token is None:
        raise Http404("No such token.")
    return token
