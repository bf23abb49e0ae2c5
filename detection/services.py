"""Writes: everything that creates, runs, retries or deletes an analysis lives here."""

from __future__ import annotations

import hashlib
import logging
import os
import shutil
import tempfile
import time
from dataclasses import asdict, dataclass

import cv2
from celery.exceptions import SoftTimeLimitExceeded
from django.conf import settings
from django.core.files.base import ContentFile, File
from django.core.files.storage import default_storage
from django.db import transaction

from dfdsite.errors import Invalid, NotAVideo, StorageUnavailable, Unavailable, UploadTooLarge

from . import fetch, files, lifecycle, limits, provenance, registry
from .engine.errors import CheckpointError, VideoError
from .models import Analysis, Batch, DetectorModel, FrameResult, UploadLedgerEntry
from .uploads import ACCEPTED_NAMES, CONTAINERS, declared_frame_size, display_name, sniff_container

logger = logging.getLogger(__name__)

HEARTBEAT_EVERY_SECONDS = 1.0
JPEG_QUALITY = 90


@dataclass(frozen=True)
class UploadCheck:
    size_bytes: int
    sha256: str
    container: str
    duration_seconds: float
    width: int
    height: int
    fps: float


FORM_OVERHEAD_BYTES = 1024 * 1024  # room for the other form fields around the file


def upload_too_large_message() -> str:
    return f"The file is larger than the limit of {settings.DFD_MAX_UPLOAD_BYTES // (1024 * 1024)} MB."


def upload_too_large() -> UploadTooLarge:
    return UploadTooLarge(upload_too_large_message(), field="file")


def upload_body_limit() -> int:
    """The longest request body an upload route reads (dfdsite.middleware.BodyLimitMiddleware
    refuses longer ones from their declared length, before reading them)."""
    return settings.DFD_MAX_UPLOAD_BYTES + FORM_OVERHEAD_BYTES


def _copy_and_hash(source, destination, limit: int) -> tuple[int, str]:
    digest = hashlib.sha256()
    size = 0
    source.seek(0)
    for chunk in source.chunks() if hasattr(source, "chunks") else iter(lambda: source.read(1 << 20), b""):
        size += len(chunk)
        if size > limit:
            raise upload_too_large()
        digest.update(chunk)
        destination.write(chunk)
    destination.flush()
    return size, digest.hexdigest()


def upload_check(*, path: str, size_bytes: int, sha256: str) -> UploadCheck:
    """Validate a video or photo by its content: format, decodability, size in pixels and duration."""
    from .engine.video import probe  # decodes the first frame: a file without one fails here

    if size_bytes == 0:
        raise NotAVideo("The file is empty.", code="empty", field="file")
    with open(path, "rb") as handle:
        container = sniff_container(handle.read(64))
    if container is None:
        raise NotAVideo(f"This is not a video or photo we can read. Upload {ACCEPTED_NAMES}.", field="file")
    if CONTAINERS[container].kind == Analysis.MediaKind.IMAGE:
        return _image_check(path=path, size_bytes=size_bytes, sha256=sha256, container=container)
    # A small file can claim enormous frames: refuse it from its header, before decoding.
    declared = declared_frame_size(path, container)
    if declared and declared[0] * declared[1] > settings.DFD_MAX_PIXELS:
        raise _too_many_pixels(*declared)
    try:
        info = probe(path)
    except VideoError as error:
        raise NotAVideo(f"The video cannot be read: {error}", code="unreadable", field="file") from None
    if info.width * info.height > settings.DFD_MAX_PIXELS:
        raise _too_many_pixels(info.width, info.height)
    if info.duration > settings.DFD_MAX_DURATION_SECONDS:
        raise Invalid(
            f"The video lasts {info.duration:.0f} s; the limit is {settings.DFD_MAX_DURATION_SECONDS} s. "
            "Trim it to the part you want checked.", code="too_long", field="file",
        )
    return UploadCheck(size_bytes, sha256, container, info.duration, info.width, info.height, info.fps)


def _too_many_pixels(width: int | None, height: int | None, kind: str = "video") -> Invalid:
    size = f"is {width}x{height} pixels" if width and height else "has too many pixels"
    per = " per frame" if kind == "video" else ""
    return Invalid(f"The {kind} {size}; the limit is {settings.DFD_MAX_PIXELS:,} pixels{per}.",
                   code="too_many_pixels", field="file")


def _image_check(*, path: str, size_bytes: int, sha256: str, container: str) -> UploadCheck:
    """A still image: decodable to the last pixel, and no larger than a video frame may be (its
    size is read from the header and refused before anything is decoded)."""
    from .engine.still import ImageError, TooManyPixels, probe_image

    try:
        info = probe_image(path, max_pixels=settings.DFD_MAX_PIXELS)
    except TooManyPixels as error:
        raise _too_many_pixels(error.width, error.height, "image") from None
    except ImageError as error:
        raise NotAVideo(f"The image cannot be read: {error}", code="unreadable", field="file") from None
    return UploadCheck(size_bytes, sha256, container, 0.0, info.width, info.height, 0.0)


def _trust_anchors() -> str:
    """The PEM certificates of DFD_C2PA_TRUST_ANCHORS; none (and a log line) when it cannot be read."""
    if not settings.DFD_C2PA_TRUST_ANCHORS:
        return ""
    try:
        with open(settings.DFD_C2PA_TRUST_ANCHORS, encoding="ascii") as handle:
            return handle.read(4 << 20)
    except (OSError, UnicodeDecodeError):
        logger.exception("DFD_C2PA_TRUST_ANCHORS cannot be read: Content Credentials are read without trust anchors")
        return ""


def options_check(*, frames: int, strategy: str) -> None:
    if not settings.DFD_FRAMES_MIN <= frames <= settings.DFD_FRAMES_MAX:
        raise Invalid(f"Frames must be between {settings.DFD_FRAMES_MIN} and {settings.DFD_FRAMES_MAX}.",
                      code="frames", field="frames")
    if strategy not in Analysis.Strategy.values:
        raise Invalid(f"Unknown strategy {strategy!r}.", code="strategy", field="strategy")


def analysis_create(
    *, owner, file, frames: int = settings.DFD_FRAMES_DEFAULT, strategy: str = Analysis.Strategy.UNIFORM,
    detector: DetectorModel | None = None, batch: Batch | None = None,
) -> Analysis:
    """Validate an uploaded video, store it and queue its analysis once the row is committed.

    Raises a DomainError with a message for people; on any failure nothing is stored.
    """
    options_check(frames=frames, strategy=strategy)
    limits.limits_check(owner=owner)  # a cheap look before reading; limits_claim below decides
    detector = registry.detector_resolve(detector_id=detector.id if detector else None)

    with tempfile.NamedTemporaryFile(suffix=".upload", dir=settings.FILE_UPLOAD_TEMP_DIR) as temp:
        size, sha256 = _copy_and_hash(file, temp, settings.DFD_MAX_UPLOAD_BYTES)
        check = upload_check(path=temp.name, size_bytes=size, sha256=sha256)
        kind = CONTAINERS[check.container].kind
        analysis = Analysis(
            owner=owner, original_name=display_name(getattr(file, "name", "") or kind), media_kind=kind,
            # Read here, from the local copy, once: the file never changes, so retries keep it.
            provenance=provenance.provenance_read(path=temp.name, media_type=CONTAINERS[check.container].media_type,
                                                  trust_anchors=_trust_anchors()),
            size_bytes=check.size_bytes, sha256=check.sha256, container=check.container,
            duration_seconds=check.duration_seconds, width=check.width, height=check.height, fps=check.fps,
            frames_requested=frames, strategy=strategy, detector=detector, batch=batch,
        )
        temp.seek(0)
        name = f"{analysis.storage_prefix}{kind}{CONTAINERS[check.container].extension}"
        try:
            analysis.video.name = default_storage.save(name, File(temp, name=name))
        except Exception:  # S3 unreachable, disk full: one answer for people, details in the log
            logger.exception("could not store upload %s", name)
            raise StorageUnavailable(
                "The video could not be stored right now, so nothing was kept. Try again in a moment."
            ) from None

    try:
        _queue_new(analysis)
    except Exception:
        files.delete_all(analysis.storage_prefix)
        raise
    return analysis


def _queue_new(analysis: Analysis) -> None:
    with transaction.atomic():
        limits.limits_claim(owner=analysis.owner, kind=UploadLedgerEntry.Kind.UPLOAD)
        analysis.save(force_insert=True)
        transaction.on_commit(lambda: lifecycle.analysis_enqueue(analysis))


def analysis_create_from_link(
    *, owner, url: str, frames: int = settings.DFD_FRAMES_DEFAULT, strategy: str = Analysis.Strategy.UNIFORM,
    detector: DetectorModel | None = None, batch: Batch | None = None,
) -> Analysis:
    """Queue the analysis of the video behind a link. The link is checked now (http(s), a public
    host); the worker fetches it (the "download" stage) and checks the video like an upload.
    A link costs what an upload costs, so it counts against the same limits."""
    options_check(frames=frames, strategy=strategy)
    url = fetch.link_check(url)
    limits.limits_check(owner=owner)
    detector = registry.detector_resolve(detector_id=detector.id if detector else None)
    analysis = Analysis(owner=owner, original_name=fetch.link_name(url), source_url=url, frames_requested=frames,
                        strategy=strategy, detector=detector, batch=batch)
    _queue_new(analysis)
    return analysis


# --- Running -------------------------------------------------------------------------------


class _ProgressReporter:
    """Writes stage, progress and heartbeat: on every stage change, else at most once a second.
    Raises lifecycle.Superseded when the analysis was cancelled or deleted: the engine stops
    at its next stage.

    The engine reports its overall fraction; it takes 5-90% of the bar, the copy from
    storage before it and the writing of results after it take the rest.
    """

    def __init__(self, analysis: Analysis):
        self.analysis = analysis
        self.last_write = 0.0
        self.last_stage = ""

    def __call__(self, stage: str, fraction: float) -> None:
        now = time.monotonic()
        if stage == self.last_stage and now - self.last_write < HEARTBEAT_EVERY_SECONDS:
            return
        self.last_stage, self.last_write = stage, now
        fraction = max(0.0, min(1.0, fraction))
        progress = {"download": int(5 * fraction), "save": 95}.get(stage, int(5 + 85 * fraction))
        lifecycle.analysis_progress(analysis=self.analysis, stage=stage, progress=progress)


DETECTOR_UNAVAILABLE_MESSAGE = ("The detector is unavailable right now, so this analysis could not run. "
                                "The administrators have been told; you can retry it later.")
INTERNAL_ERROR_MESSAGE = ("The analysis failed because of an internal error. You can retry it; if it fails "
                          "again, the administrators have the details in the worker log.")


def analysis_run(*, analysis_id) -> Analysis | None:
    """Run the detector on one analysis. Idempotent: a finished or held analysis is left alone.
    Returns the analysis as it ended, or None when there was nothing to do or it was
    cancelled or deleted while it ran."""
    from .engine.detector import load_detector

    analysis = lifecycle.analysis_claim(analysis_id=analysis_id)
    if analysis is None:
        return None
    report = _ProgressReporter(analysis)
    workdir = tempfile.mkdtemp(prefix="dfd-run-")
    failure = ""
    try:
        if analysis.video.name:
            report("download", 0)
            local_video = os.path.join(workdir, "video" + os.path.splitext(analysis.video.name)[1])
            with default_storage.open(analysis.video.name, "rb") as source, open(local_video, "wb") as target:
                shutil.copyfileobj(source, target, 1 << 20)
        else:  # a link not fetched yet (or whose fetch failed before a retry)
            local_video = _fetch_link(analysis, workdir, report)
        detector = load_detector(registry.detector_resolve(detector_id=analysis.detector_id).path)
        if analysis.media_kind == Analysis.MediaKind.IMAGE:
            from .engine.still import judge_still  # every face in the photo, each judged on its own

            prediction = judge_still(detector, local_video, max_pixels=settings.DFD_MAX_PIXELS, progress=report)
        else:
            prediction = detector.predict(
                local_video, frames=analysis.frames_requested, strategy=analysis.strategy, progress=report
            )
        report("save", 0)
        return _save_results(analysis, prediction)
    except lifecycle.Superseded:
        pass
    except VideoError as error:
        failure = f"The {analysis.get_media_kind_display().lower()} could not be analysed: {error}"
    except (Invalid, UploadTooLarge) as error:  # a link's fetch or its video's checks
        failure = error.message
    except SoftTimeLimitExceeded:
        failure = "The analysis took longer than the time limit. Try fewer frames or a shorter video."
    except Unavailable:
        failure = DETECTOR_UNAVAILABLE_MESSAGE
    except CheckpointError:
        logger.exception("analysis %s: the detector's checkpoint cannot be loaded", analysis.id)
        failure = DETECTOR_UNAVAILABLE_MESSAGE
    except Exception:
        # Deleting a running analysis removes its video under the worker: that is no error.
        if lifecycle.analysis_is_held(analysis):
            logger.exception("analysis %s failed", analysis.id)
            failure = INTERNAL_ERROR_MESSAGE
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    if failure:
        try:
            files.delete_results(analysis)
            return lifecycle.analysis_fail(analysis=analysis, message=failure)
        except lifecycle.Superseded:
            pass
    _clean_up_after_cancel(analysis)
    return None


def _fetch_link(analysis: Analysis, workdir: str, report: _ProgressReporter) -> str:
    """Fetch the link's video, check it like an upload, store it and record what it is.
    Returns the local copy the detector reads."""
    fetched = fetch.fetch_video(analysis.source_url, workdir, report)
    check = upload_check(path=fetched.path, size_bytes=fetched.size_bytes, sha256=fetched.sha256)
    container = CONTAINERS[check.container]
    facts = provenance.provenance_read(path=fetched.path, media_type=container.media_type,
                                       trust_anchors=_trust_anchors())
    name = f"{analysis.storage_prefix}{container.kind}{container.extension}"
    with open(fetched.path, "rb") as handle:
        name = default_storage.save(name, File(handle, name=name))
    lifecycle.analysis_video_fetched(
        analysis=analysis, video=name, original_name=fetched.name, media_kind=container.kind, provenance=facts,
        size_bytes=check.size_bytes, sha256=check.sha256,
        container=check.container, duration_seconds=check.duration_seconds, width=check.width, height=check.height,
        fps=check.fps,
    )
    return fetched.path


def _clean_up_after_cancel(analysis: Analysis) -> None:
    """The worker lost its hold: remove what it wrote if the analysis was cancelled or deleted
    (not if another worker took it over, whose files these now are)."""
    current = Analysis.objects.filter(id=analysis.id).first()
    if current is None:
        files.delete_all(analysis.storage_prefix)
        logger.info("analysis %s was deleted while it ran; its worker stopped and removed its files", analysis.id)
    elif current.status == Analysis.Status.CANCELLED:
        files.delete_results(current)
        logger.info("analysis %s was cancelled; its worker stopped and removed its results", analysis.id)
    else:
        logger.info("analysis %s was taken over by %s; this worker stopped", analysis.id, current.worker)


def _encode_jpeg(image) -> bytes:
    ok, encoded = cv2.imencode(".jpg", image, [cv2.IMWRITE_JPEG_QUALITY, JPEG_QUALITY])
    if not ok:
        raise RuntimeError("could not encode an image as JPEG")
    return encoded.tobytes()


def _save_results(analysis: Analysis, prediction) -> Analysis:
    files.delete_results(analysis)
    prefix = analysis.storage_prefix
    heatmaps = {heatmap.frame_index: heatmap for heatmap in prediction.heatmaps}
    rows = []
    for frame in prediction.frames:
        thumbnail = default_storage.save(f"{prefix}frames/{frame.index:06d}.jpg", ContentFile(_encode_jpeg(frame.crop)))
        heatmap_name = ""
        if frame.index in heatmaps:
            heatmap_name = default_storage.save(
                f"{prefix}heatmaps/{frame.index:06d}.jpg", ContentFile(_encode_jpeg(heatmaps[frame.index].overlay))
            )
        x, y, width, height = frame.face_box or frame.box
        rows.append(FrameResult(
            analysis=analysis, index=frame.index, timestamp=frame.timestamp,
            box={"x": int(x), "y": int(y), "width": int(width), "height": int(height)},
            probability_fake=float(frame.probability_fake), thumbnail=thumbnail, heatmap=heatmap_name,
        ))
    poster = max(rows, key=lambda row: row.probability_fake).thumbnail.name if rows else ""
    return lifecycle.analysis_complete(
        analysis=analysis, frames=rows, verdict=prediction.label, band=prediction.band or "",
        probability_fake=prediction.probability_fake, member_scores=prediction.member_scores,
        confidence=prediction.confidence, frames_analysed=prediction.frames_analysed,
        frames_without_face=prediction.frames_without_face, timings=asdict(prediction.timings), poster=poster,
    )


# --- The owner's actions ---------------------------------------------------------------------


def _retry_options(analysis: Analysis, frames: int | None, strategy: str | None,
                   detector: DetectorModel | None) -> dict:
    """Other settings for a retry, checked like an upload's; unchanged ones are left out."""
    options_check(frames=analysis.frames_requested if frames is None else frames,
                   strategy=strategy or analysis.strategy)
    options = {"frames": frames, "strategy": strategy}
    if detector is not None:
        options["detector"] = registry.detector_resolve(detector_id=detector.id)
    return {name: value for name, value in options.items() if value is not None}


def analysis_retry(*, analysis: Analysis, frames: int | None = None, strategy: str | None = None,
                   detector: DetectorModel | None = None) -> Analysis:
    """Queue a finished analysis again, from scratch, with other frames, strategy or detector
    when given (checked like an upload's). A retry costs what an upload costs, so it counts
    against the same limits (LimitReached)."""
    with transaction.atomic():
        limits.limits_claim(owner=analysis.owner, kind=UploadLedgerEntry.Kind.RETRY)
        return lifecycle.analysis_retry(analysis_id=analysis.id,
                                        **_retry_options(analysis, frames, strategy, detector))


def analysis_cancel(*, analysis: Analysis) -> Analysis:
    """Stop a queued or running analysis; its video stays, so it can be retried."""
    return lifecycle.analysis_cancel(analysis_id=analysis.id)


def analysis_delete(*, analysis: Analysis) -> None:
    """Delete every file stored for the analysis, then the analysis (cancelling it if it runs)."""
    lifecycle.analysis_delete(analysis_id=analysis.id)


@dataclass
class ReapReport:
    requeued: list
    failed: list


def analyses_reap_stale(*, stale_after_seconds: int | None = None, queued_after_seconds: int = 900) -> ReapReport:
    """Requeue analyses whose worker went silent (once), fail them after that, and resend
    queued analyses whose message never reached a worker. Nothing stays processing forever."""
    stale_after = settings.DFD_HEARTBEAT_STALE_SECONDS if stale_after_seconds is None else stale_after_seconds
    requeued, failed = lifecycle.analyses_reap(stale_after_seconds=stale_after,
                                               queued_after_seconds=queued_after_seconds)
    return ReapReport(requeued=requeued, failed=failed)
