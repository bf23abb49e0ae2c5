"""Reads for share links: the owner's (scoped to the analysis's owner) and the public one (by token)."""

from __future__ import annotations

from django.db.models import QuerySet
from django.utils import timezone

from dfdsite.errors import NotFound

from .models import ShareLink
from .services import token_digest

TOKEN_LENGTH = 43  # secrets.token_urlsafe(32)


def share_link_list(*, analysis) -> QuerySet[ShareLink]:
    """The analysis's links, newest first (the caller has the analysis from its owner's selector)."""
    return ShareLink.objects.filter(analysis=analysis)


def share_link_get(*, analysis, link_id: int) -> ShareLink:
    link = ShareLink.objects.filter(analysis=analysis, id=link_id).first()
    if link is None:
        raise NotFound("No such share link.")
    return link


def shared_link_get(*, token: str) -> ShareLink:
    """The live link with this token, with its analysis, owner and detector. Unknown, revoked and
    expired links all raise the same NotFound: a link that stopped working tells nothing."""
    if len(token) != TOKEN_LENGTH:
        raise NotFound("This link does not exist, or no longer works.")
    link = (ShareLink.objects.filter(digest=token_digest(token), revoked_at__isnull=True,
                                     expires_at__gt=timezone.now())
            .select_related("analysis__owner", "analysis__detector").first())
    if link is None:
        raise NotFound("This link does not exist, or no longer works.")
    return link
