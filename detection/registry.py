"""The detector registry: checkpoints installed in the models folder, their metadata, and
which one is the default. The worker, `detect`, the pages and the API all ask here."""

from __future__ import annotations

import logging
import os
import re
import shutil
import threading
from dataclasses import asdict, dataclass
from pathlib import Path

from django.conf import settings
from django.db import transaction

from dfdsite.errors import DetectorUnavailable, Invalid

from .models import DetectorModel

logger = logging.getLogger(__name__)

NO_DETECTOR_MESSAGE = ("No detector is installed yet. An administrator can install one with "
                       "`python manage.py install_model PATH_OR_URL --default`.")
UNKNOWN_DETECTOR_MESSAGE = "There is no such detector."


def detector_get_default() -> DetectorModel | None:
    """THE default detector: the one marked default, else the first one installed; None when
    there is none. Says nothing of its file: detector_resolve and detector_check do."""
    return DetectorModel.objects.filter(is_default=True).first() or DetectorModel.objects.order_by("created_at").first()


# --- Is the checkpoint file still the one registered? -------------------------------------


@dataclass(frozen=True)
class DetectorStatus:
    """What detector_check found: `ok`, `missing` (no file where it was registered) or
    `changed` (a file is there, but its sha256 is not the registered one)."""

    OK = "ok"
    MISSING = "missing"
    CHANGED = "changed"

    state: str
    file_name: str  # the file's name only, never the folder: safe to show to admins

    @property
    def ok(self) -> bool:
        return self.state == self.OK

    @property
    def problem(self) -> str:
        """For administrators: what is wrong and how to fix it ("" when nothing is)."""
        if self.state == self.MISSING:
            return (f"The checkpoint file {self.file_name} is missing from the models folder. Put it back, "
                    "or install the detector again with manage.py install_model.")
        if self.state == self.CHANGED:
            return (f"The checkpoint file {self.file_name} has changed since it was registered (its SHA-256 "
                    "differs), so it is not used. Put the original file back, or make another detector "
                    "the default.")
        return ""


# sha256 per (path, mtime, size): health polls and page views re-hash a file only when it
# changed on disk. Per process; a handful of checkpoints, so it stays small.
_hashes: dict[tuple[str, int, int], str] = {}
_hashes_lock = threading.Lock()


def _file_sha256_cached(path: Path) -> str | None:
    """The file's sha256, or None when there is no readable file at `path`."""
    from .engine.checkpoint import file_sha256

    try:
        stat = path.stat()
        if not path.is_file():
            return None
        key = (str(path), stat.st_mtime_ns, stat.st_size)
        with _hashes_lock:
            if key in _hashes:
                return _hashes[key]
        digest = file_sha256(path)
    except OSError:
        return None
    with _hashes_lock:
        if len(_hashes) > 64:
            _hashes.clear()
        _hashes[key] = digest
    return digest


def _file_state(path: Path, sha256: str) -> str:
    digest = _file_sha256_cached(path)
    if digest is None:
        return DetectorStatus.MISSING
    return DetectorStatus.CHANGED if digest != sha256 else DetectorStatus.OK


def detector_check(detector: DetectorModel) -> DetectorStatus:
    """Whether the detector's file is still in the models folder, unchanged (for an ensemble:
    its manifest and every member it names)."""
    state = _file_state(detector.path, detector.sha256)
    if state == DetectorStatus.OK:
        for member in (detector.metrics or {}).get("members", []) if detector.variant == "ensemble" else []:
            member_state = _file_state(detector.path.parent / member["file"], member["sha256"])
            if member_state != DetectorStatus.OK:
                return DetectorStatus(state=member_state, file_name=member["file"])
    return DetectorStatus(state=state, file_name=Path(detector.file).name)


def detector_problems() -> dict[DetectorModel, DetectorStatus]:
    """Every registered detector whose file is missing or changed, with its status."""
    statuses = {detector: detector_check(detector) for detector in DetectorModel.objects.all()}
    return {detector: status for detector, status in statuses.items() if not status.ok}


def detector_resolve(detector_id: int | None = None) -> DetectorModel:
    """The detector to run: the one with this id, or the default. THE way the API, the pages,
    the worker and `detect` choose one.

    Raises Invalid (field "detector") when there is no such detector or none is installed, and
    DetectorUnavailable when its checkpoint file is missing or changed (the message says
    nothing of files or paths; the log names the file)."""
    if detector_id is not None:
        detector = DetectorModel.objects.filter(id=detector_id).first()
        if detector is None:
            raise Invalid(UNKNOWN_DETECTOR_MESSAGE, field="detector")
    else:
        detector = detector_get_default()
        if detector is None:
            raise Invalid(NO_DETECTOR_MESSAGE, code="no_detector", field="detector")
    status = detector_check(detector)
    if not status.ok:
        logger.error("detector %s (id %s) is unavailable: %s", detector.name, detector.id, status.problem)
        raise DetectorUnavailable()
    return detector



CHECKPOINT_SUFFIXES = (".pt", ".pth")
MANIFEST_SUFFIX = ".json"  # an ensemble (detection/engine/ensemble.py)
DETECTOR_SUFFIXES = (*CHECKPOINT_SUFFIXES, MANIFEST_SUFFIX)


class DetectorInstallError(Exception):
    """A checkpoint could not be installed; the message says why, for people."""


def detector_register(*, path, name: str = "", make_default: bool = False, description: str = "",
                      loaded=None, default_if_none: bool = True) -> DetectorModel:
    """Register a checkpoint or an ensemble manifest that lies in the models folder (read once
    to validate it and its metadata, unless the caller already did). An ensemble's members
    are registered too, as detectors of their own. Raises CheckpointError for a file that is
    not usable."""
    from .engine.detector import read_definition

    path = Path(path).resolve()
    models_dir = settings.DFD_MODELS_DIR.resolve()
    if models_dir not in path.parents:
        raise DetectorInstallError(f"{path} is not inside the models folder {models_dir}.")
    loaded = loaded or read_definition(path)
    meta = loaded.metadata
    with transaction.atomic():
        for member in getattr(loaded, "members", []):
            if not DetectorModel.objects.filter(sha256=member.sha256).exists():
                detector_register(path=loaded.member_path(member), default_if_none=False)
        detector = DetectorModel.objects.filter(sha256=loaded.sha256).first() or DetectorModel(sha256=loaded.sha256)
        if make_default or (default_if_none and
                            not DetectorModel.objects.exclude(pk=detector.pk).filter(is_default=True).exists()):
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
    from .engine.checkpoint import file_sha256
    from .engine.detector import read_definition
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
    loaded = None  # a manifest is read once its members lie beside it, below
    if candidate.suffix == MANIFEST_SUFFIX:
        try:
            _install_members(candidate, source if downloaded else "", on_progress)
        except (CheckpointError, DetectorInstallError) as error:
            reject(f"{candidate.name} could not be installed: {error}")
    else:
        try:
            loaded = read_definition(candidate)
        except CheckpointError as error:
            reject(f"{candidate.name} is not a usable checkpoint: {error}")

    target = models_dir / candidate.name
    if candidate.suffix not in DETECTOR_SUFFIXES:
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
    if loaded is None:
        try:
            loaded = read_definition(target)
        except CheckpointError as error:
            target.unlink()
            raise DetectorInstallError(f"{candidate.name} is not a usable ensemble manifest: {error}") from None
    loaded.path = target
    return detector_register(path=target, name=name, make_default=make_default, loaded=loaded)


def _install_members(manifest_file: Path, manifest_url: str, on_progress) -> None:
    """An ensemble installs as one unit: each member it names comes from beside the manifest
    (the same folder, or the same URL folder) into the models folder, checked against the
    sha256 the manifest gives. A different file of a member's name already there is never
    replaced: other detectors may use it."""
    from .engine.checkpoint import file_sha256
    from .engine.ensemble import read_manifest

    models_dir = settings.DFD_MODELS_DIR
    for member in read_manifest(manifest_file, check_members=False).members:
        installed = models_dir / member.file
        if installed.is_file() and file_sha256(installed) == member.sha256:
            continue
        if installed.exists():
            raise DetectorInstallError(f"the models folder already has a different {member.file}")
        source = (manifest_url.split("?", 1)[0].rsplit("/", 1)[0] + "/" + member.file if manifest_url
                  else str(manifest_file.parent / member.file))
        try:
            detector_install(source=source, sha256=member.sha256, on_progress=on_progress)
        except DetectorInstallError as error:
            raise DetectorInstallError(f"member {member.file}: {error}") from None


def _release_order(path: Path) -> list:
    """Sort key comparing the numbers in a file name as numbers: v10 after v9."""
    return [int(part) if part.isdigit() else part for part in re.split(r"(\d+)", path.stem)]


def detectors_scan() -> tuple[list[DetectorModel], list[DetectorModel], dict[str, str]]:
    """Register every checkpoint in the models folder not registered yet, and re-register in
    place those whose file changed under the same name (an update pulled with the code, or
    new figures stored by evaluate_model): they keep their name, id and default flag.
    Returns the detectors registered, those updated, and, per file, why one could not be."""
    from .engine.checkpoint import file_sha256
    from .engine.errors import CheckpointError

    registered, updated, problems = [], [], {}
    by_file = {detector.file: detector for detector in DetectorModel.objects.all()}
    models_dir = settings.DFD_MODELS_DIR
    # Ensembles first, the latest release first (dfd-ensemble-v3 before v2): on a fresh install it, not
    # an older ensemble or one of its members, becomes the default (registering it registers its members).
    found = sorted(models_dir.glob("*")) if models_dir.exists() else []
    paths = sorted((p for p in found if p.suffix == MANIFEST_SUFFIX), key=_release_order, reverse=True)
    paths += [p for p in found if p.suffix != MANIFEST_SUFFIX]
    for path in paths:
        if path.suffix not in DETECTOR_SUFFIXES or not path.is_file():
            continue
        if DetectorModel.objects.filter(sha256=file_sha256(path)).exists():
            continue
        previous = by_file.get(path.name)
        try:
            if previous is not None:
                updated.append(detector_refresh(path=path, old_sha256=previous.sha256))
            else:
                registered.append(detector_register(path=path))
        except CheckpointError as error:
            problems[path.name] = str(error)
    return registered, updated, problems


def detector_refresh(*, path, old_sha256: str = "") -> DetectorModel:
    """Re-register a checkpoint whose file changed in place (``evaluate_model`` stores new
    metrics in it, so its sha256 changes). The row registered under ``old_sha256`` keeps its
    id, name, description and default flag and takes the new sha256 and metrics; without
    such a row the file is registered as new."""
    from .engine.detector import read_definition

    loaded = read_definition(path)
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
