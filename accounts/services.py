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
# Failed sign-ins, for the web form and the API's token endpoint alike, are counted per
# (account, address), per account and per address, each in a window of
# DFD_SIGNIN_LOCKOUT_SECONDS from its first failure. Past a limit, sign-in is refused for that
# key until the window ends. Someone guessing from one address gets DFD_SIGNIN_MAX_FAILURES
# tries at an account; the per-account limit is higher, so it takes several addresses to
# lock an account; the per-address limit is far higher still, a ceiling against trying many
# accounts from one address, since one address can be a whole office behind one proxy. A
# success clears its account's counts, never the address's.


def _hashed(text: str) -> str:
    # Names can be long and hold any character; cache keys should not.
    return hashlib.sha256(text.encode()).hexdigest()[:32]


def _signin_counters(*, username: str, ip: str) -> dict[str, int]:
    """Cache key -> limit, for every counter a sign-in of `username` from `ip` touches."""
    account = _hashed(username.strip().lower())
    return {
        f"signin-failures:pair:{account}:{_hashed(ip)}": settings.DFD_SIGNIN_MAX_FAILURES,
        f"signin-failures:account:{account}": settings.DFD_SIGNIN_MAX_FAILURES_PER_ACCOUNT,
        f"signin-failures:address:{_hashed(ip)}": settings.DFD_SIGNIN_MAX_FAILURES_PER_ADDRESS,
    }


def _count(key: str, timeout: int) -> int:
    """Add one to a counter that lives `timeout` seconds from its first count; the new count."""
    if cache.add(key, 1, timeout=timeout):
        return 1
    try:
        return cache.incr(key)
    except ValueError:  # expired between add and incr
        cache.add(key, 1, timeout=timeout)
        return 1


def signin_blocked(*, username: str, ip: str) -> bool:
    counters = _signin_counters(username=username, ip=ip)
    counts = cache.get_many(list(counters))
    return any(counts.get(key, 0) >= limit for key, limit in counters.items())


def signin_failed(*, username: str, ip: str) -> None:
    for key in _signin_counters(username=username, ip=ip):
        _count(key, settings.DFD_SIGNIN_LOCKOUT_SECONDS)


def signin_succeeded(*, username: str, ip: str) -> None:
    pair, account, _address = _signin_counters(username=username, ip=ip)
    cache.delete_many([pair, account])


def signin_blocked_message() -> str:
    minutes = max(1, settings.DFD_SIGNIN_LOCKOUT_SECONDS // 60)
    return f"Too many failed sign-ins. Wait {minutes} minutes and try again, or reset your password."


# --- Password-reset requests -----------------------------------------------------------------
# Each request is counted per e-mail address asked for and per client address, whether or not
# an account has that e-mail (so the refusal tells nothing about who has an account).

PASSWORD_RESET_WINDOW_SECONDS = 3600


def password_reset_allowed(*, email: str, ip: str) -> bool:
    """Count a password-reset request; False once the e-mail address or the client address
    asked more often than allowed in the last hour."""
    counts = {
        f"password-resets:email:{_hashed(email.strip().lower())}": settings.DFD_PASSWORD_RESETS_PER_EMAIL,
        f"password-resets:address:{_hashed(ip)}": settings.DFD_PASSWORD_RESETS_PER_ADDRESS,
    }
    within = [_count(key, PASSWORD_RESET_WINDOW_SECONDS) <= limit for key, limit in counts.items()]
    return all(within)


def password_reset_blocked_message() -> str:
    return ("Too many password-reset requests for this address. Check your inbox (and spam folder) for "
            "the e-mails already sent, or try again in an hour.")


# --- Tokens and passwords --------------------------------------------------------------------


def tokens_revoke_all(*, user) -> int:
    """Revoke every token of the user (a password change does this too); how many there were."""
    deleted, _ = ApiToken.objects.filter(user=user).delete()
    return deleted
