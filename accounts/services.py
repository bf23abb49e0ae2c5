"""Writes for accounts: API tokens and sign-in attempts.

A token is `dfd_` followed by 43 URL-safe characters (256 random bits). The database
keeps its first characters (to find the row and to show which token is which) and the
SHA-256 digest of the whole token; the token itself is never stored. A fast hash is
right here: the secret is random, not a password, so there is nothing to guess.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from datetime import timedelta

from django.conf import settings
from django.core.cache import cache
from django.utils import timezone

from dfdsite.errors import Invalid

from .models import ApiToken

TOKEN_PREFIX = "dfd_"
PREFIX_LENGTH = 12  # "dfd_" and 8 random characters
LAST_USED_RESOLUTION = timedelta(minutes=1)  # last_used_at is written at most once a minute
EXPIRY_CHOICES_DAYS = (30, 90)  # the tokens page offers these, and "never"
DEFAULT_EXPIRY_DAYS = 90  # on the tokens page and in the API
MAX_EXPIRY_DAYS = 365


def _digest(raw: str) -> str:
    return hashlib.sha256(raw.encode()).hexdigest()


def token_create(*, user, name: str, expires_in_days: int | None = None) -> tuple[ApiToken, str]:
    """Create a token that expires in `expires_in_days` days (None: never); return the row and
    the token itself, which is never shown again. Raises Invalid for a missing or too long
    name, or an expiry out of range."""
    name = (name or "").strip()
    if not name:
        raise Invalid("Give the token a name, e.g. the script or machine that uses it.", field="name")
    if len(name) > ApiToken.NAME_MAX_LENGTH:
        raise Invalid(f"The name can be at most {ApiToken.NAME_MAX_LENGTH} characters long.", field="name")
    if expires_in_days is not None and not 1 <= expires_in_days <= MAX_EXPIRY_DAYS:
        raise Invalid(f"Expiry must be between 1 and {MAX_EXPIRY_DAYS} days, or never.",
                      field="expires_in_days")
    raw = TOKEN_PREFIX + secrets.token_urlsafe(32)
    expires_at = timezone.now() + timedelta(days=expires_in_days) if expires_in_days else None
    token = ApiToken.objects.create(
        user=user, name=name, prefix=raw[:PREFIX_LENGTH], digest=_digest(raw), expires_at=expires_at
    )
    return token, raw


def token_revoke(*, token: ApiToken) -> None:
    """Revoke a token: it stops working at once."""
    token.delete()


class InvalidToken(Exception):
    """The token is unknown, revoked or expired, or its user cannot sign in; the message says which."""


def token_authenticate(*, raw: str) -> ApiToken:
    """The live token matching `raw`, with its user loaded. Compares digests in constant time
    and records the time of use, at most once a minute. Raises InvalidToken otherwise."""
    if not raw.startswith(TOKEN_PREFIX) or not PREFIX_LENGTH + 8 <= len(raw) <= 200:
        raise InvalidToken("Invalid token.")
    digest = _digest(raw)
    now = timezone.now()
    for token in ApiToken.objects.filter(prefix=raw[:PREFIX_LENGTH]).select_related("user"):
        if not hmac.compare_digest(token.digest, digest):
            continue
        if token.is_expired:
            raise InvalidToken("This token has expired. Create a new one.")
        if not token.user.is_active:
            raise InvalidToken("This account is disabled.")
        if token.last_used_at is None or now - token.last_used_at >= LAST_USED_RESOLUTION:
            ApiToken.objects.filter(id=token.id).update(last_used_at=now)
            token.last_used_at = now
        return token
    raise InvalidToken("Invalid token.")


# --- Sign-in attempts ------------------------------------------------------------------------
# Failed sign-ins are counted per account name and per client address, for the web form and
# the API's token endpoint alike; past the limit both refuse until the window has passed.


def _signin_keys(*, username: str, ip: str) -> list[str]:
    return [f"signin-failures:user:{username.strip().lower()}", f"signin-failures:ip:{ip}"]


def signin_blocked(*, username: str, ip: str) -> bool:
    limit = settings.DFD_SIGNIN_MAX_FAILURES
    return any((cache.get(key) or 0) >= limit for key in _signin_keys(username=username, ip=ip))


def signin_failed(*, username: str, ip: str) -> None:
    for key in _signin_keys(username=username, ip=ip):
        if not cache.add(key, 1, timeout=settings.DFD_SIGNIN_LOCKOUT_SECONDS):
            try:
                cache.incr(key)
            except ValueError:  # expired between add and incr
                cache.add(key, 1, timeout=settings.DFD_SIGNIN_LOCKOUT_SECONDS)


def signin_succeeded(*, username: str) -> None:
    cache.delete(_signin_keys(username=username, ip="")[0])


def signin_blocked_message() -> str:
    minutes = max(1, settings.DFD_SIGNIN_LOCKOUT_SECONDS // 60)
    return f"Too many failed sign-ins. Wait {minutes} minutes and try again, or reset your password."
