"""An analysis's life, in one place.

    queued --claim--> processing --complete--> done (verdict real, fake or no_face)
                                 --fail-----> failed
                                 --cancel---> cancelled
                                 --requeue--> queued      (the reaper: its worker went silent)
                                 --reap-----> failed      (the reaper: silent too many times)
    queued --cancel--> cancelled
    done | failed | cancelled --retry--> queued
    any --delete--> (gone): a running one is cancelled first; its worker notices and cleans up

Every transition is one function here, guarded by a row lock (`select_for_update`, or an
IMMEDIATE transaction on SQLite) or by a conditional update, so that two requests, a request
and a worker, or two workers can never both win. A worker holds an analysis by the attempt it
claimed: each of its writes is conditional on (processing, that attempt, that worker), and one that finds
the row changed raises `Superseded` and stops. Every ending calls `analysis_finished`, the
one place where later features (webhooks, reports, notifications, metrics) attach.
"""

from __future__ import annotations

import logging
import os
import socket
from collections.abc import Callable
from datetime import timedelta

from django.conf import settings
from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from dfdsite.celery import app as celery_app
from dfdsite.errors import Conflict, NotFound, StorageUnavailable

from . import files
from .models import Analysis, DetectorModel, FrameResult

logger = logging.getLogger(__name__)

Status = Analysis.Status
RUN_ANALYSIS_TASK = "detection.run_analysis"
RUNNING = (Status.QUEUED, Status.PROCESSING)
# Receivers of analysis_finished(analysis): called after the ending is committed, each on its own.
finished_receivers: list[Callable[[Analysis], None]] = []


class Superseded(Exception):
    """The worker's hold on an analysis is gone: cancelled, deleted, or taken over by another
    worker after this one was given up for dead. The worker stops and removes what it wrote."""


def worker_name() -> str:
    """This process as a holder of analyses: host and process id."""
    return f"{socket.gethostname()}:{os.getpid()}"


def _locked(analysis_id) -> Analysis:
    analysis = Analysis.objects.select_for_update().filter(id=analysis_id).first()
    if analysis is None:
        raise NotFound("No such analysis.")
    return analysis


def analysis_finished(analysis: Analysis) -> None:
    """An analysis reached an ending (done, failed or cancelled). Runs once per ending, after
    the transaction that made it commits; a receiver that fails is logged and does not touch
    the analysis or the other receivers."""
    logger.info("analysis %s finished: %s%s", analysis.id, analysis.status,
                f" ({analysis.verdict})" if analysis.verdict else "")
    for receiver in finished_receivers:
        try:
            receiver(analysis)
        except Exception:
            logger.exception("analysis_finished receiver %r failed for %s", receiver, analysis.id)


def _finish_on_commit(analysis: Analysis) -> None:
    transaction.on_commit(lambda: analysis_finished(analysis))


# --- Queue -----------------------------------------------------------------------------------


def analysis_enqueue(analysis: Analysis) -> None:
    """Send the analysis to the workers. Call after the row is committed. heartbeat_at of a
    queued analysis records when it was last sent, so the reaper resends a lost message
    without flooding a long queue with copies."""
    Analysis.objects.filter(id=analysis.id, status=Status.QUEUED).update(heartbeat_at=timezone.now())
    try:
        # By name: the task module imports the services, which import this module.
        celery_app.send_task(RUN_ANALYSIS_TASK, args=[str(analysis.id)])
    except Exception:
        # The row stays queued; the reaper sends it again once the broker is back.
        logger.exception("could not enqueue analysis %s; the reaper will retry", analysis.id)


# --- The worker's transitions -------------------------------------------------------------------


def _holder_is_dead(holder: str) -> bool:
    """True when the holder ran on this host and its process is gone (a SIGKILLed pool
    process: Celery redelivers its task at once, often to a sibling on the same host)."""
    host, _, pid = holder.rpartition(":")
    if host != socket.gethostname() or not pid.isdigit():
        return False
    try:
        os.kill(int(pid), 0)
    except ProcessLookupError:
        return True
    except PermissionError:
        return False
    return False


def analysis_claim(*, analysis_id, worker: str | None = None) -> Analysis | None:
    """Take a queued analysis for this worker (or one whose worker is gone). None when there
    is nothing to do: it is finished, deleted, or held by a live worker."""
    worker = worker or worker_name()
    stale_before = timezone.now() - timedelta(seconds=settings.DFD_HEARTBEAT_STALE_SECONDS)
    with transaction.atomic():
        analysis = Analysis.objects.select_for_update().filter(id=analysis_id).first()
        if analysis is None or analysis.is_finished:
            return None
        if analysis.status == Status.PROCESSING:
            heartbeat_fresh = analysis.heartbeat_at and analysis.heartbeat_at > stale_before
            if heartbeat_fresh and not _holder_is_dead(analysis.worker):
                return None
            logger.info("analysis %s: taking it over from %s, which is gone", analysis.id, analysis.worker)
        now = timezone.now()
        analysis.status = Status.PROCESSING
        analysis.stage = "starting"
        analysis.progress = 0
        analysis.attempts += 1
        analysis.worker = worker
        analysis.started_at = now
        analysis.heartbeat_at = now
        analysis.error_message = ""
        analysis.save(update_fields=["status", "stage", "progress", "attempts", "worker", "started_at",
                                     "heartbeat_at", "error_message"])
    return analysis


def _held(analysis: Analysis):
    """The row, only while this worker's claim on it stands. The attempt alone would not do:
    a retry starts counting again, and a cancelled worker that has not noticed yet could
    otherwise match the claim of the worker that took the retried analysis."""
    return Analysis.objects.filter(id=analysis.id, status=Status.PROCESSING, attempts=analysis.attempts,
                                   worker=analysis.worker)


def analysis_is_held(analysis: Analysis) -> bool:
    return _held(analysis).exists()


def analysis_progress(*, analysis: Analysis, stage: str, progress: int) -> None:
    """Record the stage and progress, and beat the heart. Raises Superseded when the hold is gone."""
    if not _held(analysis).update(stage=stage, progress=progress, heartbeat_at=timezone.now()):
        raise Superseded(str(analysis.id))


def analysis_video_fetched(*, analysis: Analysis, **facts) -> None:
    """Record the video a held analysis fetched from its link (its file and what it is).
    Raises Superseded when the hold is gone; the caller removes the file it stored."""
    if not _held(analysis).update(heartbeat_at=timezone.now(), **facts):
        raise Superseded(str(analysis.id))
    for name, value in facts.items():
        setattr(analysis, name, value)


def analysis_complete(*, analysis: Analysis, frames: list[FrameResult], **results) -> Analysis:
    """Store the result (the frames and the verdict fields of Analysis) and end it as done."""
    with transaction.atomic():
        if _held(analysis).select_for_update().first() is None:
            raise Superseded(str(analysis.id))
        FrameResult.objects.filter(analysis=analysis).delete()
        FrameResult.objects.bulk_create(frames)
        now = timezone.now()
        _held(analysis).update(
            status=Status.DONE, stage="done", progress=100, error_message="", finished_at=now, heartbeat_at=now,
            **results,
        )
        analysis.refresh_from_db()
        _finish_on_commit(analysis)
    return analysis


def analysis_fail(*, analysis: Analysis, message: str) -> Analysis:
    """End a held analysis as failed, with a message for its owner."""
    with transaction.atomic():
        if not _held(analysis).update(**_failed(message)):
            raise Superseded(str(analysis.id))
        FrameResult.objects.filter(analysis=analysis).delete()
        analysis.refresh_from_db()
        _finish_on_commit(analysis)
    return analysis


def _failed(message: str) -> dict:
    return dict(status=Status.FAILED, stage="failed", error_message=message, verdict="", band="", probability_fake=None,
                member_scores={}, confidence=None, poster="", finished_at=timezone.now())


# --- The owner's transitions ---------------------------------------------------------------------


def analysis_cancel(*, analysis_id) -> Analysis:
    """Stop a queued or running analysis. Its worker notices at its next stage, stops and
    removes what it wrote (what is there already goes now); the video stays, so it can be
    retried."""
    with transaction.atomic():
        analysis = _locked(analysis_id)
        if analysis.status not in RUNNING:
            raise Conflict("This analysis has already finished.", code="finished")
        analysis.status, analysis.stage, analysis.finished_at = Status.CANCELLED, "cancelled", timezone.now()
        analysis.save(update_fields=["status", "stage", "finished_at"])
        FrameResult.objects.filter(analysis=analysis).delete()
        transaction.on_commit(lambda: files.delete_results(analysis))
        _finish_on_commit(analysis)
    return analysis


def analysis_retry(*, analysis_id, frames: int | None = None, strategy: str | None = None,
                   detector: DetectorModel | None = None) -> Analysis:
    """Queue a finished analysis again, from scratch: its old results go, its video stays. Frames,
    strategy and detector, when given (already checked by the caller), replace the old ones."""
    with transaction.atomic():
        analysis = _locked(analysis_id)
        if not analysis.is_finished:
            raise Conflict("This analysis is still running.", code="running")
        files.delete_results(analysis)
        FrameResult.objects.filter(analysis=analysis).delete()
        for name, value in dict(
            status=Status.QUEUED, stage="", progress=0, error_message="", verdict="", band="", probability_fake=None,
            member_scores={}, confidence=None, frames_analysed=0, frames_without_face=0, timings={}, poster="", attempts=0,
            worker="", started_at=None, finished_at=None, heartbeat_at=None,
        ).items():
            setattr(analysis, name, value)
        analysis.frames_requested = analysis.frames_requested if frames is None else frames
        analysis.strategy = strategy or analysis.strategy
        analysis.detector = detector or analysis.detector
        analysis.save()
        transaction.on_commit(lambda: analysis_enqueue(analysis))
    return analysis


def analysis_delete(*, analysis_id) -> None:
    """Delete an analysis and, first, its files (if storage fails the row stays, so the owner
    can try again, rather than files staying behind that nothing points to). A running one
    is cancelled in the same breath: its worker finds its row gone and removes what it wrote."""
    with transaction.atomic():
        analysis = _locked(analysis_id)
        was_running = analysis.status in RUNNING
        try:
            files.delete_all(analysis.storage_prefix)
        except Exception:
            logger.exception("could not delete the files of analysis %s", analysis.id)
            raise StorageUnavailable(
                "The stored files could not be deleted right now; the analysis is kept. Try again in a moment."
            ) from None
        deleted_id = analysis.id
        analysis.delete()
        if was_running:  # the hook hears of it as cancelled, by the id it had
            analysis.id, analysis.status, analysis.stage = deleted_id, Status.CANCELLED, "deleted"
            _finish_on_commit(analysis)


# --- The reaper's transitions ---------------------------------------------------------------------


def analyses_reap(*, stale_after_seconds: int, queued_after_seconds: int) -> tuple[list, list]:
    """Requeue analyses whose worker went silent (while attempts remain), fail them after
    that, and resend queued analyses whose message never reached a worker. Returns the ids
    (requeued, failed)."""
    now = timezone.now()
    requeued, failed = [], []
    stale_before = now - timedelta(seconds=stale_after_seconds)
    for analysis in Analysis.objects.filter(status=Status.PROCESSING, heartbeat_at__lt=stale_before):
        with transaction.atomic():
            silent = Analysis.objects.filter(id=analysis.id, status=Status.PROCESSING,
                                             heartbeat_at=analysis.heartbeat_at)
            if analysis.attempts >= settings.DFD_MAX_ATTEMPTS:
                if silent.update(**_failed(
                        "The worker processing this video stopped responding, twice. You can retry; if it "
                        "happens again, try fewer frames or a shorter video.")):
                    FrameResult.objects.filter(analysis=analysis).delete()
                    transaction.on_commit(lambda a=analysis: files.delete_results(a))
                    failed.append(analysis.id)
                    analysis.refresh_from_db()
                    _finish_on_commit(analysis)
            elif silent.update(status=Status.QUEUED, stage="requeued", progress=0, worker=""):
                requeued.append(analysis.id)
                transaction.on_commit(lambda a=analysis: analysis_enqueue(a))
    sent_before = now - timedelta(seconds=queued_after_seconds)
    forgotten = Analysis.objects.filter(status=Status.QUEUED).filter(
        Q(heartbeat_at__isnull=True) | Q(heartbeat_at__lt=sent_before))
    for analysis in forgotten:
        requeued.append(analysis.id)
        analysis_enqueue(analysis)
    return requeued, failed
