"""Per-person limits: analyses waiting or running at once, and uploads (retries included) in
24 hours.

`limits_check` is the cheap look before an upload is read, so most refusals cost nothing.
`limits_claim` decides, inside the transaction that queues the analysis: it locks the
person's row first, so that parallel requests of one person count one after the other
(PostgreSQL; on SQLite every write transaction is IMMEDIATE, which serialises them anyway),
then counts, then records the upload in a ledger that deleting analyses does not shrink.
"""

from __future__ import annotations

from datetime import timedelta

from django.conf import settings
from django.contrib.auth import get_user_model
from django.utils import timezone

from dfdsite.errors import LimitReached

from .lifecycle import RUNNING
from .models import Analysis, UploadLedgerEntry

DAY = timedelta(days=1)


def limits_check(*, owner) -> None:
    """Raise LimitReached when the person may not start another analysis now."""
    if Analysis.objects.filter(owner=owner, status__in=RUNNING).count() >= settings.DFD_MAX_RUNNING_PER_USER:
        raise LimitReached(
            f"You already have {settings.DFD_MAX_RUNNING_PER_USER} analyses waiting or running. "
            "Start more once one of them has finished.", code="too_many_running",
        )
    since = timezone.now() - DAY
    if UploadLedgerEntry.objects.filter(owner=owner, created_at__gte=since).count() >= settings.DFD_MAX_UPLOADS_PER_DAY:
        raise LimitReached(
            f"You reached the limit of {settings.DFD_MAX_UPLOADS_PER_DAY} uploads and retries in 24 hours. "
            "Try again later.", code="daily_limit",
        )


def limits_claim(*, owner, kind: str) -> None:
    """Take one analysis start from the person's limits, or raise LimitReached. Call inside
    transaction.atomic(), before the analysis is queued in the same transaction."""
    # NO KEY UPDATE: serialises this person's claims without blocking inserts that merely
    # reference the row (their analyses, their tokens).
    get_user_model().objects.select_for_update(no_key=True).only("pk").get(pk=owner.pk)
    limits_check(owner=owner)
    UploadLedgerEntry.objects.filter(owner=owner, created_at__lt=timezone.now() - DAY).delete()
    UploadLedgerEntry.objects.create(owner=owner, kind=kind)
