"""Writes for accounts: API tokens, sign-in attempts, and one's data (export, deletion).

A token is `dfd_` followed by 43 URL-safe characters (256 random bits). The database
keeps its first characters (to find the row and to show which token is which) and the
SHA-256 digest of the whole token; the token itself is never stored. A fast hash is
right here: the secret is random, not a password, so there is nothing to guess.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import secrets
import shutil
import tempfile
import zipfile
from datetime import timedelta
from typing import IO

from django.conf import settings
from django.core.cache import cache
from django.core.files.storage import default_storage
from django.utils import timezone
from django.utils.text import slugify

from detection import files as detection_files
from detection import lifecycle
from detection.api.serializers import AnalysisSerializer
from detection.models import Analysis
from detection.reports import report_facts
from dfdsite.errors import Conflict, Invalid, NotFound
from webhooks import services as webhook_services

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


# --- Your data: export and deletion ----------------------------------------------------------
# An export is a zip of every analysis: index.json, and per analysis its API representation
# (analyses/<id>/analysis.json), for a done one its report's facts (report.json, schema
# dfd-report/1), beside its stored files under their storage names (the video, the poster,
# each frame's face and heat map). It is written to an anonymous temporary file
# one member at a time, each file copied through in chunks: an account of many videos needs
# disk for the archive, never memory.

EXPORT_CHUNK_BYTES = 1024 * 1024
# Already compressed: deflating them again costs time and saves nothing.
STORED_AS_IS = (".mp4", ".mov", ".webm", ".mkv", ".avi", ".jpg", ".jpeg", ".png")


def _zip_entry(name: str) -> zipfile.ZipInfo:
    entry = zipfile.ZipInfo(name, date_time=timezone.now().timetuple()[:6])
    entry.compress_type = zipfile.ZIP_STORED if name.lower().endswith(STORED_AS_IS) else zipfile.ZIP_DEFLATED
    return entry


def _zip_json(archive: zipfile.ZipFile, name: str, data) -> None:
    archive.writestr(_zip_entry(name), json.dumps(data, indent=2, ensure_ascii=False, default=str))


def _zip_stored_file(archive: zipfile.ZipFile, name: str) -> bool:
    """Copy a stored file into the archive under its storage name; False when it is gone."""
    try:
        source = default_storage.open(name, "rb")
    except FileNotFoundError:
        return False
    with source, archive.open(_zip_entry(name), "w", force_zip64=True) as target:
        shutil.copyfileobj(source, target, EXPORT_CHUNK_BYTES)
    return True


def account_export(*, user) -> tuple[IO[bytes], int]:
    """Every analysis of the user, with its files, as a zip in a temporary file (deleted when
    closed); returns the file, at its start, and its size."""
    handle = tempfile.TemporaryFile(dir=settings.FILE_UPLOAD_TEMP_DIR)
    index = {
        "exported_at": timezone.now().isoformat(), "site": settings.SITE_NAME,
        "account": {"username": user.get_username(), "email": user.email, "date_joined": user.date_joined},
        "analyses": [],
    }
    analyses = (Analysis.objects.filter(owner=user).order_by("created_at").select_related("detector")
                .prefetch_related("frames"))
    with zipfile.ZipFile(handle, "w", compression=zipfile.ZIP_DEFLATED, allowZip64=True) as archive:
        for analysis in analyses.iterator(chunk_size=100):
            folder = analysis.storage_prefix
            _zip_json(archive, f"{folder}analysis.json", AnalysisSerializer(analysis).data)
            report = None
            if analysis.status == Analysis.Status.DONE:  # a report tells a verdict: done ones have one
                report = f"{folder}report.json"
                _zip_json(archive, report, report_facts(analysis))
            names = detection_files.stored_names(folder)
            included = [name for name in sorted(names) if _zip_stored_file(archive, name)]
            index["analyses"].append({
                "id": str(analysis.id), "file_name": analysis.original_name, "status": analysis.status,
                "verdict": analysis.verdict or None, "created_at": analysis.created_at,
                "analysis": f"{folder}analysis.json", "report": report, "files": included,
            })
        _zip_json(archive, "index.json", index)
    size = handle.tell()
    handle.seek(0)
    return handle, size


def export_file_name(*, user) -> str:
    return f"{slugify(settings.SITE_NAME)}-{slugify(user.get_username()) or 'account'}-{timezone.now():%Y-%m-%d}.zip"


def account_delete(*, user) -> int:
    """Delete the account and everything in it: webhooks are paused first (nobody is told of
    what follows), running analyses are cancelled through the lifecycle (their workers stop
    and clean up), each analysis goes with its stored files, then the user row, and with it
    by cascade every row that is the user's or an analysis's (tokens, batches, the upload ledger,
    webhooks, share links, and whatever later features attach). Returns how many analyses were deleted. Raises
    StorageUnavailable when files cannot be deleted: the account stays, to be tried again."""
    webhook_services.endpoints_pause_all(owner=user)
    for analysis_id in Analysis.objects.filter(owner=user, status__in=lifecycle.RUNNING).values_list("id", flat=True):
        try:
            lifecycle.analysis_cancel(analysis_id=analysis_id)
        except (Conflict, NotFound):
            pass  # it finished, or went, meanwhile
    deleted = 0
    for analysis_id in list(Analysis.objects.filter(owner=user).values_list("id", flat=True)):
        try:
            lifecycle.analysis_delete(analysis_id=analysis_id)
        except NotFound:
            continue
        deleted += 1
    user.delete()
    return deleted
