"""Face crops extracted once per sample and kept on disk (resumable).

For every sample: the frames the predictor would analyse (``frames`` uniform frames of a
video; the image itself), the largest face found by the same ``FaceDetector`` the predictor
uses (HOG on a 480 px copy, 15% margin), cropped and resized to ``size`` x ``size`` (BGR), and
face_recognition's 68 landmarks in crop coordinates (for self-blending; NaN when not found).
Images that are already face crops but where HOG finds no face are kept whole.

One ``.npz`` per sample under ``cache_dir``, named by a hash of the file path and settings:
an interrupted extraction resumes where it stopped, a changed setting extracts again.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Callable, Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from detection.engine.datasets import Sample

CACHE_VERSION = 1


@dataclass
class FaceCrops:
    crops: np.ndarray  # (N, size, size, 3) BGR uint8
    landmarks: np.ndarray  # (N, 68, 2) float32 in crop pixels, NaN when unknown
    frame_indices: np.ndarray  # (N,) frame numbers (0 for an image)
    detected: np.ndarray  # (N,) bool: a face was found (False: the whole image was kept)

    def __len__(self) -> int:
        return len(self.crops)


@dataclass(frozen=True)
class CacheSettings:
    size: int = 128
    frames: int = 20  # per video, chosen like the predictor's "uniform" strategy
    margin: float = 0.15
    max_side: int = 480

    def key(self) -> str:
        return f"v{CACHE_VERSION}-s{self.size}-f{self.frames}-m{self.margin}-x{self.max_side}"


def cache_path(cache_dir: str | Path, sample: Sample, settings: CacheSettings) -> Path:
    digest = hashlib.sha1(f"{os.path.abspath(sample.path)}|{settings.key()}".encode()).hexdigest()[:20]
    return Path(cache_dir) / f"{digest}.npz"


def _landmarks_for(image_bgr: np.ndarray, face) -> np.ndarray:
    import face_recognition

    rgb = np.ascontiguousarray(image_bgr[:, :, ::-1])
    found = face_recognition.face_landmarks(
        rgb, face_locations=[(face.top, face.right, face.bottom, face.left)], model="large"
    )
    if not found:
        return np.full((68, 2), np.nan, np.float32)
    # face_recognition names the parts of dlib's 68 points; rebuild them in dlib's order
    # (its top_lip/bottom_lip lists repeat the mouth corners and run the inner lip backwards).
    parts = found[0]
    top, bottom = parts["top_lip"], parts["bottom_lip"]
    points = (
        parts["chin"] + parts["left_eyebrow"] + parts["right_eyebrow"] + parts["nose_bridge"]
        + parts["nose_tip"] + parts["left_eye"] + parts["right_eye"]
        + top[0:7] + bottom[1:6]  # 48-59: the outer lip
        + [top[11], top[10], top[9], top[8], top[7], bottom[10], bottom[9], bottom[8]]  # 60-67
    )
    return np.asarray(points, np.float32).reshape(68, 2)


def _crop_one(image: np.ndarray, detector, settings: CacheSettings, whole_if_none: bool):
    from detection.engine.faces import crop
    from detection.engine.preprocess import resize_crop

    location = detector.locate(image)
    if location is None:
        if not whole_if_none:
            return None
        height, width = image.shape[:2]
        side = min(height, width)
        top, left = (height - side) // 2, (width - side) // 2
        square = image[top : top + side, left : left + side]
        return resize_crop(square, settings.size), np.full((68, 2), np.nan, np.float32), False
    box = location.crop
    marks = _landmarks_for(image, location.face)
    marks = (marks - np.array([box.left, box.top], np.float32)) * np.array(
        [settings.size / max(box.width, 1), settings.size / max(box.height, 1)], np.float32
    )
    return resize_crop(crop(image, box), settings.size), marks, True


def extract(sample: Sample, settings: CacheSettings) -> FaceCrops | None:
    """Crops for one sample (None when no face at all could be used)."""
    from detection.engine.faces import FaceDetector
    from detection.engine.video import probe, read_frames, sample_indices

    detector = FaceDetector(max_side=settings.max_side, margin=settings.margin)
    crops, marks, indices, detected = [], [], [], []
    if sample.kind == "image":
        image = cv2.imread(sample.path, cv2.IMREAD_COLOR)
        if image is None:
            return None
        # Small images are face crops already; large ones (full frames) need a face.
        result = _crop_one(image, detector, settings, whole_if_none=max(image.shape[:2]) <= 320)
        if result is not None:
            crops.append(result[0]), marks.append(result[1]), indices.append(0), detected.append(result[2])
    else:
        info = probe(sample.path)
        for frame in read_frames(sample.path, sample_indices(info.frame_count, settings.frames, "uniform")):
            result = _crop_one(frame.image, detector, settings, whole_if_none=False)
            if result is not None:
                crops.append(result[0]), marks.append(result[1]), indices.append(frame.index)
                detected.append(result[2])
    if not crops:
        return None
    return FaceCrops(np.stack(crops), np.stack(marks).astype(np.float32), np.asarray(indices, np.int32),
                     np.asarray(detected, bool))


def _extract_to(args) -> tuple[str, bool, str]:
    sample, settings, target = args
    try:
        crops = extract(sample, settings)
    except Exception as exc:  # one unreadable file must not stop the whole extraction
        return sample.path, False, f"{type(exc).__name__}: {exc}"
    tmp = target.with_suffix(".tmp.npz")
    if crops is None:
        np.savez(tmp, empty=np.array(True))
    else:
        np.savez(tmp, crops=crops.crops, landmarks=crops.landmarks, frame_indices=crops.frame_indices,
                 detected=crops.detected)
    os.replace(tmp, target)
    return sample.path, crops is not None, ""


def load(path: Path) -> FaceCrops | None:
    with np.load(path) as data:
        if "empty" in data:
            return None
        return FaceCrops(data["crops"], data["landmarks"], data["frame_indices"], data["detected"])


def build_cache(
    samples: Sequence[Sample],
    cache_dir: str | Path,
    settings: CacheSettings = CacheSettings(),
    workers: int = 1,
    progress: bool = True,
    log: Callable[[str], None] = print,
) -> dict[str, FaceCrops]:
    """Extract what is missing (in ``workers`` processes), then load everything:
    sample path -> FaceCrops, leaving out samples without a usable face."""
    cache_dir = Path(cache_dir)
    cache_dir.mkdir(parents=True, exist_ok=True)
    todo = [(s, settings, cache_path(cache_dir, s, settings)) for s in samples]
    todo = [t for t in todo if not t[2].exists()]
    if todo:
        log(f"extracting faces from {len(todo)} of {len(samples)} samples into {cache_dir}")
        bar = _bar(len(todo), "faces", progress)
        if workers > 1:
            with ProcessPoolExecutor(workers) as pool:
                for _, _, error in pool.map(_extract_to, todo, chunksize=8):
                    if error:
                        log(f"skipped: {error}")
                    bar.update(1)
        else:
            for item in todo:
                _, _, error = _extract_to(item)
                if error:
                    log(f"skipped: {error}")
                bar.update(1)
        bar.close()
    loaded = {}
    for sample in samples:
        path = cache_path(cache_dir, sample, settings)
        crops = load(path) if path.exists() else None
        if crops is not None:
            loaded[sample.path] = crops
    return loaded


def _bar(total: int, desc: str, enabled: bool):
    try:
        from tqdm import tqdm
    except ImportError:  # pragma: no cover - tqdm is in requirements
        enabled = False
    if not enabled:
        class _Null:
            def update(self, n: int) -> None: ...
            def close(self) -> None: ...
        return _Null()
    return tqdm(total=total, desc=desc, unit="file", mininterval=2.0)
