"""Batches: many videos and links sent together. Each item becomes its own analysis through the
same services as a single upload or link (so every per-person limit applies to each item on its
own); what is refused is reported item by item while the accepted ones go ahead."""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass, field

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from dfdsite.errors import DomainError, Invalid, UploadTooLarge
from dfdsite.http_errors import status_for

from . import selectors, services
from .models import Analysis, Batch, DetectorModel
from .uploads import display_name


@dataclass(frozen=True)
class Refusal:
    """One file or link that did not become an analysis, and why."""

    field: str  # "file" or "url"
    index: int  # its position among the request's files, or links
    name: str  # the file's name, or the link
    status: int  # the HTTP status it would have had alone
    code: str
    message: str


@dataclass
class BatchSubmission:
    batch: Batch | None  # None when nothing was accepted (no empty batch is kept)
    analyses: list[Analysis] = field(default_factory=list)
    refused: list[Refusal] = field(default_factory=list)


def batch_body_limit() -> int:
    """The longest request body a batch route reads: one upload's limit per analysis a person may
    have running at once (more could not be accepted together anyway), and the form around them."""
    return settings.DFD_MAX_UPLOAD_BYTES * settings.DFD_MAX_RUNNING_PER_USER + services.FORM_OVERHEAD_BYTES


def batch_too_large() -> UploadTooLarge:
    return UploadTooLarge(
        f"The files together are larger than the limit of {batch_body_limit() // (1024 * 1024)} MB for one "
        f"batch ({settings.DFD_MAX_UPLOAD_BYTES // (1024 * 1024)} MB for each of up to "
        f"{settings.DFD_MAX_RUNNING_PER_USER} videos analysed at once). Send them in smaller batches.", field="file")


def batch_default_name(count: int) -> str:
    return f"{count} videos, {timezone.localtime():%d %b %Y %H:%M}"


def batch_submit(
    *, owner, files=(), urls=(), name: str = "", frames: int = settings.DFD_FRAMES_DEFAULT,
    strategy: str = Analysis.Strategy.UNIFORM, detector: DetectorModel | None = None,
) -> BatchSubmission:
    """Create a batch and one analysis per file and per link in it. Options are checked once
    for all; each item is then accepted or refused on its own."""
    urls = [url for url in urls if url and url.strip()]
    count = len(files) + len(urls)
    if count == 0:
        raise Invalid("Choose at least one video, or give a link.", code="required", field="file")
    if count > settings.DFD_MAX_BATCH_FILES:
        raise Invalid(f"A batch takes at most {settings.DFD_MAX_BATCH_FILES} files and links; this one has {count}.",
                      code="too_many_files", field="file")
    services.options_check(frames=frames, strategy=strategy)
    options = dict(owner=owner, frames=frames, strategy=strategy, detector=detector)
    with transaction.atomic():
        batch = Batch.objects.create(owner=owner, name=(name or "").strip()[:200] or batch_default_name(count))
    submission = BatchSubmission(batch=batch)
    items = [("file", index, upload) for index, upload in enumerate(files)]
    items += [("url", index, url) for index, url in enumerate(urls)]
    for kind, index, item in items:
        try:
            if kind == "file":
                analysis = services.analysis_create(file=item, batch=batch, **options)
            else:
                analysis = services.analysis_create_from_link(url=item, batch=batch, **options)
        except DomainError as error:
            label = display_name(getattr(item, "name", "") or "video") if kind == "file" else item
            submission.refused.append(Refusal(kind, index, label, status_for(error), error.code, error.message))
        else:
            submission.analyses.append(analysis)
    if not submission.analyses:
        batch.delete()
        submission.batch = None
    return submission


def refusals_error(refused: list[Refusal]) -> tuple[int, str, str, dict]:
    """Nothing accepted: (status, code, message, fields) for the one error shape. One status and
    code when every item was refused for the same kind of reason, else 400 "invalid"."""
    statuses, codes = {r.status for r in refused}, {r.code for r in refused}
    status = statuses.pop() if len(statuses) == 1 else 400
    code = codes.pop() if len(codes) == 1 else "invalid"
    fields: dict[str, list[str]] = {}
    for refusal in refused:
        fields.setdefault(f"{refusal.field}.{refusal.index}", []).append(f"{refusal.name}: {refusal.message}")
    message = (refused[0].message if len(refused) == 1
               else f"None of the {len(refused)} files and links was accepted: `fields` says why for each.")
    return status, code, message, fields


def batch_delete(*, batch: Batch) -> None:
    """Delete a batch with its analyses, each through services.analysis_delete (its files first,
    a running one stopped). People delete a batch to be rid of the videos they sent in it; keeping
    them, ungrouped, would keep videos they believe gone. If storage fails part-way, the batch
    stays with the analyses not yet deleted (StorageUnavailable), and deleting again finishes."""
    for analysis in list(batch.analyses.all()):
        services.analysis_delete(analysis=analysis)
    batch.delete()


# --- Export ------------------------------------------------------------------------------------

EXPORT_COLUMNS = ["id", "name", "status", "verdict", "band", "probability_fake", "confidence", "detector",
                  "sha256", "source_url", "error_message", "created_at", "finished_at"]


def batch_export_rows(*, batch: Batch) -> list[dict]:
    """One row per analysis of the batch, oldest first, in plain values."""
    rows = []
    for analysis in selectors.batch_analyses(batch=batch).order_by("created_at"):
        rows.append({
            "id": str(analysis.id), "name": analysis.original_name, "status": analysis.status,
            "verdict": analysis.verdict or None, "band": analysis.band or None,
            "probability_fake": analysis.probability_fake, "confidence": analysis.confidence,
            "detector": analysis.detector.name, "sha256": analysis.sha256 or None,
            "source_url": analysis.source_url or None, "error_message": analysis.error_message or None,
            "created_at": analysis.created_at.isoformat(),
            "finished_at": analysis.finished_at.isoformat() if analysis.finished_at else None,
        })
    return rows


def batch_export_csv(*, batch: Batch) -> str:
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=EXPORT_COLUMNS)
    writer.writeheader()
    for row in batch_export_rows(batch=batch):
        # Spreadsheets run a cell starting with = + - @ as a formula: names and links are people's text.
        writer.writerow({key: _csv_safe("" if value is None else value) for key, value in row.items()})
    return out.getvalue()


def _csv_safe(value):
    if isinstance(value, str) and value[:1] in ("=", "+", "-", "@", "\t", "\r"):
        return "'" + value
    return value
