"""Reads for accounts: every query is scoped to its owner."""

from __future__ import annotations

from dataclasses import dataclass

from django.db.models import Count, QuerySet, Sum

from detection.models import Analysis
from dfdsite.errors import NotFound
from webhooks.models import WebhookEndpoint

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


@dataclass(frozen=True)
class AccountSummary:
    analyses: int
    stored_bytes: int  # the videos; results add a little
    webhook_endpoints: int
    tokens: int


def account_summary(*, user) -> AccountSummary:
    """What the account holds, for the profile and the deletion page."""
    analyses = Analysis.objects.filter(owner=user).aggregate(count=Count("id"), size=Sum("size_bytes"))
    return AccountSummary(analyses=analyses["count"], stored_bytes=analyses["size"] or 0,
                          webhook_endpoints=WebhookEndpoint.objects.filter(owner=user).count(),
                          tokens=ApiToken.objects.filter(user=user).count())
