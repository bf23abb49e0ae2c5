"""Writes for share links: make one, revoke one.

A link's token is 43 URL-safe characters (256 random bits, secrets.token_urlsafe(32)); the
database keeps only its SHA-256 digest. A fast hash is right here: the secret is random, not a
password, so there is nothing to guess (as for API tokens, accounts.services).
"""

from __future__ import annotations

import hashlib
import secrets
from datetime import timedelta

from django.utils import timezone

from detection.models import Analysis
from dfdsite.errors import Conflict, Invalid

from .models import ShareLink

EXPIRY_CHOICES_DAYS = (1, 7, 30)  # the result page offers these
DEFAULT_EXPIRY_DAYS = 7
MAX_EXPIRY_DAYS = 30  # a link handed on is out of the owner's hands: it must end


def token_digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def share_link_create(*, analysis: Analysis, expires_in_days: int = DEFAULT_EXPIRY_DAYS,
                      include_video: bool = False, note: str = "") -> tuple[ShareLink, str]:
    """A new link to the analysis's result; returns the row and the token, which is never shown
    again. Raises Conflict for an analysis that is not done (there is no result to show), and
    Invalid for an expiry out of range or too long a note."""
    if analysis.status != Analysis.Status.DONE:
        raise Conflict("A result can be shared once the analysis is done.", code="not_done")
    if not 1 <= expires_in_days <= MAX_EXPIRY_DAYS:
        raise Invalid(f"A link can last from 1 to {MAX_EXPIRY_DAYS} days.", field="expires_in_days")
    note = (note or "").strip()
    if len(note) > ShareLink.NOTE_MAX_LENGTH:
        raise Invalid(f"The note can be at most {ShareLink.NOTE_MAX_LENGTH} characters long.", field="note")
    token = secrets.token_urlsafe(32)
    link = ShareLink.objects.create(
        analysis=analysis, digest=token_digest(token), note=note, include_video=include_video,
        expires_at=timezone.now() + timedelta(days=expires_in_days),
    )
    return link, token


def share_link_revoke(*, link: ShareLink) -> ShareLink:
    """The link stops working at once; revoking it again changes nothing."""
    if link.revoked_at is None:
        link.revoked_at = timezone.now()
        link.save(update_fields=["revoked_at"])
    return link
