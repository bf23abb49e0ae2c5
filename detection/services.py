"""Writes: everything that creates, runs, retries or deletes an analysis lives here."""

from __future__ import annotations

import hashlib
import logging
import os
import shutil
import tempfile
import time
from dataclasses import asdict, dataclass
from datetime import timedelta
from pathlib import Path

import cv2
from celery.exceptions import SoftTimeLimitExceeded
from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.files.base import ContentFile, File
from django.core.files.storage import default_storage
from django.db import models, transaction
from django.utils import timezone

from .engine.errors import VideoError
from .models import Analysis, DetectorModel, FrameResult
from .uploads import declared_frame_size, display_name, sniff_container

logger = logging.getLogger(__name__)

# Containers we accept, recognised by their first bytes (never by the file name).
CONTAINER_EXTENSIONS = {"mp4": ".mp4", "mov": ".mov", "webm": ".webm", "mkv": ".mkv", "avi": ".avi"}
HEARTBEAT_EVERY_SECONDS = 1.0
# HTTP status for the ValidationError codes of analysis_create (anything else is 400).
ERROR_STATUS = {"too_large": 413, "too_many_running": 429, "daily_limit": 429, "storage_unavailable": 503}
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


def upload_declared_too_large(content_length: str | None) -> bool:
    """True when a request's declared length is over the upload limit: it can be refused
    before its body is read."""
    try:
        return int(content_length or 0) > settings.DFD_MAX_UPLOAD_BYTES + FORM_OVERHEAD_BYTES
    except ValueError:
        return False  # a malformed header: the streamed size check still applies


def _copy_and_hash(source, destination, limit: int) -> tuple[int, str]:
    digest = hashlib.sha256()
    size = 0
    source.seek(0)
    for chunk in source.chunks() if hasattr(source, "chunks") else iter(lambda: source.read(1 << 20), b""):
        size += len(chunk)
        if size > limit:
            raise ValidationError(upload_too_large_message(), code="too_large")
        digest.update(chunk)
        destination.write(chunk)
    destination.flush()
    return size, digest.hexdigest()


def upload_check(*, path: str, size_bytes: int, sha256: str) -> UploadCheck:
    """Validate a video by its content: container, decodability, size in pixels and duration."""
    from .engine.video import probe  # decodes the first frame: a file without one fails here

    if size_bytes == 0:
        raise ValidationError("The file is empty.", code="empty")
    with open(path, "rb") as handle:
        container = sniff_container(handle.read(64))
    if container is None:
        raise ValidationError(
            "This is not a video file we can read. Upload an MP4, MOV, WebM, MKV or AVI video.", code="not_video"
        )
    # A small file can claim enormous frames: refuse it from its header, before decoding.
    declared = declared_frame_size(path, container)
    if declared and declared[0] * declared[1] > settings.DFD_MAX_PIXELS:
        raise _too_many_pixels(*declared)
    try:
        info = probe(path)
    except VideoError as error:
        raise ValidationError(f"The video cannot be read: {error}", code="unreadable") from None
    if info.width * info.height > settings.DFD_MAX_PIXELS:
        raise _too_many_pixels(info.width, info.height)
    if info.duration > settings.DFD_MAX_DURATION_SECONDS:
        raise ValidationError(
            f"The video lasts {info.duration:.0f} s; the limit is {settings.DFD_MAX_DURATION_SECONDS} s. "
            "Trim it to the part you want checked.", code="too_long"
        )
    return UploadCheck(size_bytes, sha256, container, info.duration, info.width, info.height, info.fps)


def _too_many_pixels(width: int, height: int) -> ValidationError:
    return ValidationError(
        f"The video is {width}x{height} pixels; the limit is {settings.DFD_MAX_PIXELS:,} pixels per frame.",
        code="too_many_pixels",
    )


def detector_get_default() -> DetectorModel | None:
    return DetectorModel.objects.filter(is_default=True).first() or DetectorModel.objects.order_by("created_at").first()


def analysis_create(
    *, owner, file, frames: int = settings.DFD_FRAMES_DEFAULT, strategy: str = Analysis.Strategy.UNIFORM,
    detector: DetectorModel | None = None,
) -> Analysis:
    """Validate an uploaded video, store it and queue its analysis once the row is committed.

    Raises ValidationError with a message for people; on any failure nothing is stored.
    """
    if not settings.DFD_FRAMES_MIN <= frames <= settings.DFD_FRAMES_MAX:
        raise ValidationError(
            f"Frames must be between {settings.DFD_FRAMES_MIN} and {settings.DFD_FRAMES_MAX}.", code="frames"
        )
    if strategy not in Analysis.Strategy.values:
        raise ValidationError(f"Unknown strategy {strategy!r}.", code="strategy")
    _check_user_limits(owner)
    detector = detector or detector_get_default()
    if detector is None:
        raise ValidationError(
            "No detector is installed yet. An administrator can install one with "
            "`python manage.py install_model PATH_OR_URL --default`.", code="no_detector"
        )

    with tempfile.NamedTemporaryFile(suffix=".upload", dir=settings.FILE_UPLOAD_TEMP_DIR) as temp:
        size, sha256 = _copy_and_hash(file, temp, settings.DFD_MAX_UPLOAD_BYTES)
        check = upload_check(path=temp.name, size_bytes=size, sha256=sha256)
        analysis = Analysis(
            owner=owner, original_name=display_name(getattr(file, "name", "") or "video"),
            size_bytes=check.size_bytes, sha256=check.sha256, container=check.container,
            duration_seconds=check.duration_seconds, width=check.width, height=check.height, fps=check.fps,
            frames_requested=frames, strategy=strategy, detector=detector,
        )
        temp.seek(0)
        name = f"{analysis.storage_prefix}video{CONTAINER_EXTENSIONS[check.container]}"
        try:
            analysis.video.name = default_storage.save(name, File(temp, name=name))
        except Exception:  # S3 unreachable, disk full: one answer for people, details in the log
            logger.exception("could not store upload %s", name)
            raise ValidationError(
                "The video could not be stored right now, so nothing was kept. Try again in a moment.",
                code="storage_unavailable",
            ) from None

    try:
        with transaction.atomic():
            analysis.save(force_insert=True)
            transaction.on_commit(lambda: _enqueue(analysis))
    except Exception:
        _delete_stored_files(analysis.storage_prefix)
        raise
    return analysis


def _check_user_limits(owner) -> None:
    """Per-person limits, checked before anything is read or stored."""
    running = Analysis.objects.filter(owner=owner, status__in=[Analysis.Status.QUEUED, Analysis.Status.PROCESSING])
    if running.count() >= settings.DFD_MAX_RUNNING_PER_USER:
        raise ValidationError(
            f"You already have {settings.DFD_MAX_RUNNING_PER_USER} analyses waiting or running. "
            "Upload more once one of them has finished.", code="too_many_running"
        )
    since = timezone.now() - timedelta(days=1)
    if Analysis.objects.filter(owner=owner, created_at__gte=since).count() >= settings.DFD_MAX_UPLOADS_PER_DAY:
        raise ValidationError(
            f"You reached the limit of {settings.DFD_MAX_UPLOADS_PER_DAY} uploads in 24 hours. Try again later.",
            code="daily_limit",
        )


def _enqueue(analysis: Analysis) -> None:
    from .tasks import run_analysis

    # heartbeat_at of a queued analysis records when it was last sent, so the reaper
    # resends a lost message without flooding a long queue with copies.
    Analysis.objects.filter(id=analysis.id, status=Analysis.Status.QUEUED).update(heartbeat_at=timezone.now())
    try:
        run_analysis.delay(str(analysis.id))
    except Exception:
        # The row stays queued; the reaper sends it again once the broker is back.
        logger.exception("could not enqueue analysis %s; the reaper will retry", analysis.id)


# --- Running -------------------------------------------------------------------------------


def _claim(analysis_id) -> Analysis | None:
    """Mark the analysis as processing, unless it is finished or another worker holds it."""
    stale_before = timezone.now() - timedelta(seconds=settings.DFD_HEARTBEAT_STALE_SECONDS)
    with transaction.atomic():
        analysis = Analysis.objects.select_for_update().filter(id=analysis_id).first()
        if analysis is None or analysis.is_finished:
            return None
        if analysis.status == Analysis.Status.PROCESSING and analysis.heartbeat_at and analysis.heartbeat_at > stale_before:
            return None
        now = timezone.now()
        analysis.status = Analysis.Status.PROCESSING
        analysis.stage = "starting"
        analysis.progress = 0
        analysis.attempts += 1
        analysis.started_at = now
        analysis.heartbeat_at = now
        analysis.error_message = ""
        analysis.save(update_fields=["status", "stage", "progress", "attempts", "started_at", "heartbeat_at",
                                     "error_message"])
    return analysis


class _ProgressReporter:
    """Writes stage, progress and heartbeat: on every stage change, else at most once a second.

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
        progress = {"download": 0, "save": 95}.get(stage, int(5 + 85 * max(0.0, min(1.0, fraction))))
        Analysis.objects.filter(id=self.analysis.id).update(stage=stage, progress=progress, heartbeat_at=timezone.now())


def analysis_run(*, analysis_id) -> Analysis | None:
    """Run the detector on one analysis. Idempotent: a finished or held analysis is left alone."""
    from .engine.predictor import Predictor

    analysis = _claim(analysis_id)
    if analysis is None:
        return None
    report = _ProgressReporter(analysis)
    workdir = tempfile.mkdtemp(prefix="dfd-run-")
    try:
        report("download", 0)
        local_video = os.path.join(workdir, "video" + os.path.splitext(analysis.video.name)[1])
        with default_storage.open(analysis.video.name, "rb") as source, open(local_video, "wb") as target:
            shutil.copyfileobj(source, target, 1 << 20)
        predictor = Predictor.from_checkpoint(str(analysis.detector.path))
        prediction = predictor.predict(
            local_video, frames=analysis.frames_requested, strategy=analysis.strategy, on_progress=report
        )
        report("save", 0)
        _save_results(analysis, prediction)
    except VideoError as error:
        _fail(analysis, f"The video could not be analysed: {error}")
    except SoftTimeLimitExceeded:
        _fail(analysis, "The analysis took longer than the time limit. Try fewer frames or a shorter video.")
    except Exception:
        logger.exception("analysis %s failed", analysis.id)
        _fail(analysis, "The analysis failed because of an internal error. You can retry it; if it fails "
                        "again, the administrators have the details in the worker log.")
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    analysis.refresh_from_db()
    return analysis


def _encode_jpeg(image) -> bytes:
    ok, encoded = cv2.imencode(".jpg", image, [cv2.IMWRITE_JPEG_QUALITY, JPEG_QUALITY])
    if not ok:
        raise RuntimeError("could not encode an image as JPEG")
    return encoded.tobytes()


def _save_results(analysis: Analysis, prediction) -> None:
    _delete_result_files(analysis)
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
    poster = ""
    if rows:
        most_suspicious = max(rows, key=lambda row: row.probability_fake)
        poster = most_suspicious.thumbnail.name
    with transaction.atomic():
        FrameResult.objects.filter(analysis=analysis).delete()
        FrameResult.objects.bulk_create(rows)
        Analysis.objects.filter(id=analysis.id).update(
            status=Analysis.Status.DONE, stage="done", progress=100, verdict=prediction.label,
            probability_fake=prediction.probability_fake, confidence=prediction.confidence,
            frames_analysed=prediction.frames_analysed, frames_without_face=prediction.frames_without_face,
            timings=asdict(prediction.timings), poster=poster, finished_at=timezone.now(), heartbeat_at=timezone.now(),
            error_message="",
        )


def _fail(analysis: Analysis, message: str) -> None:
    _delete_result_files(analysis)
    with transaction.atomic():
        FrameResult.objects.filter(analysis=analysis).delete()
        Analysis.objects.filter(id=analysis.id).update(
            status=Analysis.Status.FAILED, stage="failed", error_message=message, verdict="",
            probability_fake=None, confidence=None, poster="", finished_at=timezone.now(),
        )


# --- Files -----------------------------------------------------------------------------------


def _stored_names(prefix: str) -> list[str]:
    """Every stored file under a prefix (both storages list directories)."""
    try:
        directories, files = default_storage.listdir(prefix)
    except FileNotFoundError:
        return []
    names = [prefix + name for name in files]
    for directory in directories:
        names.extend(_stored_names(f"{prefix}{directory}/"))
    return names


def _delete_result_files(analysis: Analysis) -> None:
    """Delete thumbnails and heat maps, keep the video."""
    for name in _stored_names(analysis.storage_prefix):
        if name != analysis.video.name:
            default_storage.delete(name)


def _delete_stored_files(prefix: str) -> None:
    for name in _stored_names(prefix):
        default_storage.delete(name)
    try:  # local disk: remove the now empty folders too
        shutil.rmtree(default_storage.path(prefix), ignore_errors=True)
    except NotImplementedError:
        pass


# --- Retry, delete, reap ----------------------------------------------------------------------


def analysis_retry(*, analysis: Analysis) -> Analysis:
    """Queue a finished analysis again, from scratch."""
    if not analysis.is_finished:
        raise ValidationError("This analysis is still running.", code="running")
    _delete_result_files(analysis)
    with transaction.atomic():
        FrameResult.objects.filter(analysis=analysis).delete()
        Analysis.objects.filter(id=analysis.id).update(
            status=Analysis.Status.QUEUED, stage="", progress=0, error_message="", verdict="", probability_fake=None,
            confidence=None, frames_analysed=0, frames_without_face=0, timings={}, poster="", attempts=0,
            started_at=None, finished_at=None, heartbeat_at=None,
        )
        transaction.on_commit(lambda: _enqueue(analysis))
    analysis.refresh_from_db()
    return analysis


def analysis_delete(*, analysis: Analysis) -> None:
    """Delete every file stored for the analysis, then the analysis.

    Files go first: if storage fails midway the row stays (and the person can delete it
    again), rather than a video staying behind that nothing points to any more.
    """
    try:
        _delete_stored_files(analysis.storage_prefix)
    except Exception:
        logger.exception("could not delete the files of analysis %s", analysis.id)
        raise ValidationError(
            "The stored files could not be deleted right now; the analysis is kept. Try again in a moment.",
            code="storage_unavailable",
        ) from None
    analysis.delete()


@dataclass
class ReapReport:
    requeued: list
    failed: list


def analyses_reap_stale(*, stale_after_seconds: int | None = None, queued_after_seconds: int = 900) -> ReapReport:
    """Requeue analyses whose worker went silent (once), fail them after that, and resend
    queued analyses whose message never reached a worker. Nothing stays processing forever."""
    stale_after = settings.DFD_HEARTBEAT_STALE_SECONDS if stale_after_seconds is None else stale_after_seconds
    now = timezone.now()
    report = ReapReport(requeued=[], failed=[])
    stale = Analysis.objects.filter(status=Analysis.Status.PROCESSING, heartbeat_at__lt=now - timedelta(seconds=stale_after))
    for analysis in stale.select_related("detector"):
        with transaction.atomic():
            updated = Analysis.objects.filter(id=analysis.id, status=Analysis.Status.PROCESSING,
                                              heartbeat_at=analysis.heartbeat_at)
            if analysis.attempts >= settings.DFD_MAX_ATTEMPTS:
                if updated.update(status=Analysis.Status.FAILED, stage="failed", finished_at=now, error_message=(
                        "The worker processing this video stopped responding, twice. You can retry; if it "
                        "happens again, try fewer frames or a shorter video.")):
                    report.failed.append(analysis.id)
                    transaction.on_commit(lambda a=analysis: _delete_result_files(a))
            elif updated.update(status=Analysis.Status.QUEUED, stage="requeued", progress=0):
                report.requeued.append(analysis.id)
                transaction.on_commit(lambda a=analysis: _enqueue(a))
    forgotten = Analysis.objects.filter(status=Analysis.Status.QUEUED).filter(
        models.Q(heartbeat_at__isnull=True) | models.Q(heartbeat_at__lt=now - timedelta(seconds=queued_after_seconds))
    )
    for analysis in forgotten:
        report.requeued.append(analysis.id)
        _enqueue(analysis)
    return report


# --- Detectors ---------------------------------------------------------------------------------

CHECKPOINT_SUFFIXES = (".pt", ".pth")


class DetectorInstallError(Exception):
    """A checkpoint could not be installed; the message says why, for people."""


def detector_register(*, path, name: str = "", make_default: bool = False, description: str = "",
                      loaded=None) -> DetectorModel:
    """Register a checkpoint that lies in the models folder (loaded once to validate it and
    read its metadata, unless the caller already did). Raises CheckpointError for a file
    that is not a usable checkpoint."""
    from .engine.checkpoint import load_checkpoint

    path = Path(path).resolve()
    models_dir = settings.DFD_MODELS_DIR.resolve()
    if models_dir not in path.parents:
        raise DetectorInstallError(f"{path} is not inside the models folder {models_dir}.")
    loaded = loaded or load_checkpoint(path)
    meta = loaded.metadata
    with transaction.atomic():
        detector = DetectorModel.objects.filter(sha256=loaded.sha256).first() or DetectorModel(sha256=loaded.sha256)
        if make_default or not DetectorModel.objects.exclude(pk=detector.pk).filter(is_default=True).exists():
            DetectorModel.objects.filter(is_default=True).exclude(pk=detector.pk).update(is_default=False)
            detector.is_default = True
        detector.name = name or detector.name or _unique_detector_name(path.stem)
        detector.file = str(path.relative_to(models_dir))
        detector.variant = meta.variant
        detector.backbone = meta.backbone
        detector.sequence_length = meta.sequence_length
        detector.input_size = meta.input_size
        detector.training_data = meta.training_data
        detector.metrics = meta.metrics
        detector.metadata = {"format": loaded.format, **{k: v for k, v in asdict(meta).items() if k != "metrics"}}
        # A model card beside the checkpoint (same name, .md) becomes its description.
        card = path.with_suffix(".md")
        detector.description = description or detector.description or (card.read_text() if card.is_file() else "")
        detector.save()
    return detector


def _unique_detector_name(stem: str) -> str:
    name, number = stem, 2
    while DetectorModel.objects.filter(name=name).exists():
        name, number = f"{stem}-{number}", number + 1
    return name


def detector_install(*, source: str, sha256: str = "", name: str = "", make_default: bool = False,
                     on_progress=None) -> DetectorModel:
    """Install a checkpoint from a local path or an http(s) URL into the models folder.

    The file is hashed (and checked against ``sha256`` when given) and loaded once before it
    gets its final name; a download that fails or does not check out is never registered.
    """
    from .downloads import DownloadError, download
    from .engine.checkpoint import file_sha256, load_checkpoint
    from .engine.errors import CheckpointError

    models_dir = settings.DFD_MODELS_DIR
    models_dir.mkdir(parents=True, exist_ok=True)
    downloaded = source.startswith(("http://", "https://"))
    if downloaded:
        file_name = os.path.basename(source.split("?", 1)[0]) or "checkpoint.pt"
        try:
            candidate = download(source, models_dir / ".downloads" / file_name, on_progress=on_progress)
        except DownloadError as error:
            raise DetectorInstallError(f"Download failed: {error}.") from None
    else:
        candidate = Path(source).expanduser().resolve()
        if not candidate.is_file():
            raise DetectorInstallError(f"No such file: {source}")

    def reject(message: str):
        if downloaded:
            candidate.unlink(missing_ok=True)
        raise DetectorInstallError(message)

    actual = file_sha256(candidate)
    if sha256 and actual != sha256.strip().lower():
        reject(f"The file's sha256 is {actual}, not the expected {sha256.strip().lower()}: it was not installed.")
    try:
        loaded = load_checkpoint(candidate)
    except CheckpointError as error:
        reject(f"{candidate.name} is not a usable checkpoint: {error}")

    target = models_dir / candidate.name
    if candidate.suffix not in CHECKPOINT_SUFFIXES:
        target = target.with_suffix(".pt")
    if target.resolve() != candidate and target.exists() and file_sha256(target) != actual:
        target = target.with_name(f"{target.stem}-{actual[:8]}{target.suffix}")
    if target.resolve() != candidate:
        temporary = target.with_name(f".{target.name}.installing")
        if downloaded:
            candidate.replace(temporary)
        else:
            shutil.copyfile(candidate, temporary)
        temporary.replace(target)
    loaded.path = target
    return detector_register(path=target, name=name, make_default=make_default, loaded=loaded)


def detectors_scan() -> tuple[list[DetectorModel], dict[str, str]]:
    """Register every checkpoint in the models folder not registered yet.
    Returns the detectors registered and, per file, why one could not be."""
    from .engine.checkpoint import file_sha256
    from .engine.errors import CheckpointError

    registered, problems = [], {}
    known = set(DetectorModel.objects.values_list("sha256", flat=True))
    models_dir = settings.DFD_MODELS_DIR
    for path in sorted(models_dir.glob("*")) if models_dir.exists() else []:
        if path.suffix not in CHECKPOINT_SUFFIXES or not path.is_file():
            continue
        if file_sha256(path) in known:
            continue
        try:
            registered.append(detector_register(path=path))
        except CheckpointError as error:
            problems[path.name] = str(error)
    return registered, problems


def detector_refresh(*, path, old_sha256: str = "") -> DetectorModel:
    """Re-register a checkpoint whose file changed in place (``evaluate_model`` stores new
    metrics in it, so its sha256 changes). The row registered under ``old_sha256`` keeps its
    id, name, description and default flag and takes the new sha256 and metrics; without
    such a row the file is registered as new."""
    from .engine.checkpoint import load_checkpoint

    loaded = load_checkpoint(path)
    with transaction.atomic():
        old = DetectorModel.objects.filter(sha256=old_sha256).first() if old_sha256 else None
        if old is not None and old.sha256 != loaded.sha256:
            if DetectorModel.objects.filter(sha256=loaded.sha256).exclude(pk=old.pk).exists():
                old = None  # the new file is registered already; leave both rows alone
            else:
                old.sha256 = loaded.sha256
                old.save(update_fields=["sha256"])
        return detector_register(
            path=path,
            name=old.name if old else "",
            make_default=bool(old and old.is_default),
            description=old.description if old else "",
            loaded=loaded,
        )
