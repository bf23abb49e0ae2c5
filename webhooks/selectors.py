"""Reads for webhooks: every query is scoped to its owner."""

from __future__ import annotations

from django.db.models import Prefetch, QuerySet

from dfdsite.errors import NotFound

from .models import WebhookAttempt, WebhookDelivery, WebhookEndpoint

DELIVERIES_SHOWN = 100  # the log shows the latest ones; older ones stay in the database


def endpoint_list(*, owner) -> QuerySet[WebhookEndpoint]:
    return WebhookEndpoint.objects.filter(owner=owner).order_by("-created_at", "-id")


def endpoint_get(*, owner, endpoint_id) -> WebhookEndpoint:
    """The owner's endpoint. Raises NotFound for a missing one and for someone else's alike."""
    endpoint = WebhookEndpoint.objects.filter(owner=owner, id=endpoint_id).first()
    if endpoint is None:
        raise NotFound("No such webhook endpoint.")
    return endpoint


def delivery_list(*, endpoint: WebhookEndpoint, limit: int = DELIVERIES_SHOWN) -> list[WebhookDelivery]:
    """The endpoint's latest deliveries, newest first, each with its attempts in order."""
    attempts = Prefetch("attempt_log", queryset=WebhookAttempt.objects.order_by("number"))
    return list(WebhookDelivery.objects.filter(endpoint=endpoint).order_by("-created_at")
                .prefetch_related(attempts)[:limit])
