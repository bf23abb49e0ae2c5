"""Predictor: a video in, a Prediction (plain dataclass) out.

Pipeline: probe -> choose frames -> decode them -> find the face in each -> crop, resize to
the checkpoint's input size, normalise -> backbone (one batch) -> per-frame and video
scores -> Grad-CAM on the most suspicious frames.

Aggregation (how the video's ``probability_fake`` is made):

- ``seed`` variant: every frame has its own score (the seed's LSTM never links frames, see
  ``model.py``); the video's probability is the **mean** of the per-frame fake probabilities.
- ``temporal`` variant: the LSTM reads the analysed frames in time order and its sequence
  output decides (``aggregation="sequence"``). Per-frame scores come from running each frame
  alone, as a one-frame sequence, through the same LSTM and head: they show which frames
  look fake in themselves, but the verdict is the sequence's.
- ``seed_exact=True`` reproduces the seed's pipeline: the first ``frames`` consecutive frames,
  faces found on the full-resolution frame, face_recognition's first face with no margin, the
  whole frame when a frame has no face (as the seed did), and, for the seed variant, its
  forward pass whose verdict is the **last** frame's output (``aggregation="last-frame"``).

Calibration: a checkpoint may carry a temperature and two band thresholds fitted on validation
data (``metrics["calibration"]``, see ``calibration.py``); ``probability_fake`` is the video's
calibrated probability (``raw_probability_fake`` the model's own), and ``band`` says which of
three verdicts it falls in: ``manipulated``, ``inconclusive`` or ``no_manipulation``. Without
a calibration the temperature is 1 and both thresholds 0.5 (no inconclusive band).

Label: ``"fake"`` when probability_fake >= 0.5, else ``"real"`` (at exactly 0.5 the seed's
argmax also chose index 0, FAKE). ``confidence`` = max(p, 1 - p), the probability of the
chosen label, in [0.5, 1] (the seed showed the same number as a percentage). A video in which
no analysed frame has a face gets label ``"no_face"`` and ``None`` for both.

Faces: by default one person's face followed across the analysed frames (``FaceTracker``,
tracking.py: HOG at a scale chosen from the frame size and the smallest face worth finding,
CLAHE on dim frames, the CNN detector on a few frames when HOG finds nothing, the person with
the largest face most of the time), grown by a 15% margin on each side; frames without a
face are skipped and counted. A ``FaceDetector`` given to the constructor instead judges the
largest face of each frame on its own, as before. The seed checkpoint was trained on tight
face_recognition boxes, so for it a margin of 0 may match its training better; ours should
be trained with the same detector settings they are served with.

Decoding seeks to the keyframe before each wanted frame when that saves work (``video.py``);
``seek=False`` on the constructor decodes sequentially, as before.

Boxes in results are (x, y, width, height) in pixels of the upright full-resolution frame.

``Predictor`` implements the ``Detector`` interface (``detector.py``): its ``progress``
callback gets the stages decode, faces, model, cam and done, and an exception it raises stops
the prediction and reaches the caller unchanged.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import torch

from detection.engine.calibration import Calibration
from detection.engine.cam import grad_cam_from_feature_maps, overlay
from detection.engine.checkpoint import LoadedCheckpoint, load_checkpoint
from detection.engine.devices import resolve_device
from detection.engine.errors import VideoError
from detection.engine.faces import Box, FaceDetector, crop
from detection.engine.model import FAKE, backend_flag
from detection.engine.preprocess import resize_crop, to_tensor
from detection.engine.tracking import FaceTracker
from detection.engine.video import (
    Frame,
    VideoInfo,
    count_frames,
    iter_frames,
    probe,
    read_frames,
    sample_indices,
)

if TYPE_CHECKING:  # only for annotations: detector.py imports this module
    from detection.engine.detector import ProgressCallback

# Share of the overall progress bar each stage takes, roughly its share of the time on a CPU.
_STAGE_SPANS = {"decode": (0.0, 0.2), "faces": (0.2, 0.7), "model": (0.7, 0.9), "cam": (0.9, 1.0)}
_BACKBONE_BATCH = 32  # bounds memory for long requests; 20 crops of 112x112 are one batch


@dataclass
class FrameScore:
    index: int  # frame number in the video, from 0
    timestamp: float  # seconds
    box: tuple[int, int, int, int]  # (x, y, w, h) of the crop the model saw (face + margin)
    face_box: tuple[int, int, int, int] | None  # (x, y, w, h) of the detected face; None: no face
    probability_fake: float
    crop: np.ndarray = field(repr=False)  # input_size x input_size BGR uint8, what the model saw


@dataclass
class Heatmap:
    frame_index: int
    probability_fake: float
    overlay: np.ndarray = field(repr=False)  # BGR uint8, the crop with the map drawn over it
    cam: np.ndarray = field(repr=False)  # float32 in [0, 1], same size as the crop


@dataclass
class Timings:
    """Seconds spent in each stage."""

    decode: float = 0.0  # probe and frame decoding
    faces: float = 0.0  # detection, cropping and resizing
    model: float = 0.0  # normalisation and the forward pass
    cam: float = 0.0
    total: float = 0.0


@dataclass
class Prediction:
    label: str  # "real", "fake" or "no_face"
    probability_fake: float | None
    confidence: float | None  # max(p, 1 - p); None for no_face
    frames_requested: int
    frames_decoded: int
    frames_analysed: int  # frames that were scored
    frames_without_face: int
    frames: list[FrameScore]
    heatmaps: list[Heatmap]  # the most suspicious frames first
    timings: Timings
    model_id: str  # the checkpoint's file name
    model_variant: str
    model_sha256: str
    device: str
    video: VideoInfo
    strategy: str
    seed_exact: bool
    aggregation: str  # "mean", "sequence", "last-frame" or "none"
    band: str | None = None  # "manipulated", "inconclusive", "no_manipulation"; None for no_face
    raw_probability_fake: float | None = None  # before calibration
    member_scores: dict[str, float] = field(default_factory=dict)  # an ensemble's members, calibrated

    def to_dict(self) -> dict:
        """JSON-ready summary (no image arrays)."""
        return {
            "label": self.label,
            "band": self.band,
            "probability_fake": self.probability_fake,
            "raw_probability_fake": self.raw_probability_fake,
            "member_scores": self.member_scores,
            "confidence": self.confidence,
            "frames_requested": self.frames_requested,
            "frames_decoded": self.frames_decoded,
            "frames_analysed": self.frames_analysed,
            "frames_without_face": self.frames_without_face,
            "aggregation": self.aggregation,
            "strategy": self.strategy,
            "seed_exact": self.seed_exact,
            "model": {
                "id": self.model_id,
                "variant": self.model_variant,
                "sha256": self.model_sha256,
                "device": self.device,
            },
            "video": asdict(self.video),
            "timings": asdict(self.timings),
            "frames": [
                {
                    "index": f.index,
                    "timestamp": f.timestamp,
                    "box": list(f.box),
                    "face_box": list(f.face_box) if f.face_box else None,
                    "probability_fake": f.probability_fake,
                }
                for f in self.frames
            ],
            "heatmaps": [
                {"frame_index": h.frame_index, "probability_fake": h.probability_fake} for h in self.heatmaps
            ],
        }


@dataclass
class FaceJudgement:
    """One face crop judged on its own by the frame model (still images)."""

    probability_fake: float  # calibrated
    raw_probability_fake: float
    band: str
    member_scores: dict[str, float]  # an ensemble's members, calibrated; empty for one checkpoint
    crop: np.ndarray = field(repr=False)  # what the model saw, BGR uint8
    heatmap: np.ndarray | None = field(default=None, repr=False)  # BGR overlay, for the most suspicious faces


class _Progress:
    def __init__(self, callback: ProgressCallback | None) -> None:
        self.callback = callback

    def __call__(self, stage: str, within: float) -> None:
        if self.callback is None:
            return
        if stage == "done":
            self.callback("done", 1.0)
            return
        start, end = _STAGE_SPANS[stage]
        self.callback(stage, start + (end - start) * min(max(within, 0.0), 1.0))


@contextmanager
def _full_fp32_convolutions(device: torch.device) -> Iterator[None]:
    """cuDNN runs float32 convolutions in TF32 on Ampere and later GPUs by default, which moved
    the seed's probabilities by 1.3e-2 on an H200 and would break seed_exact's reproduction.
    20 crops of 112x112 take milliseconds either way. Restored afterwards: other code in the
    process may want TF32."""
    if device.type != "cuda":
        yield
        return
    with backend_flag(torch.backends.cudnn, "allow_tf32", False):
        yield


_cache: dict[tuple, Predictor] = {}
_cache_lock = threading.Lock()


class Predictor:
    def __init__(
        self,
        checkpoint: LoadedCheckpoint,
        device: str = "auto",
        face_detector: FaceDetector | None = None,
        *,
        face_tracker: FaceTracker | None = None,
        seek: bool | None = None,
    ) -> None:
        self.device = resolve_device(device)
        if self.device.type == "cpu":
            # Random or weakly trained weights can drive activations into denormal floats,
            # which x86 CPUs process up to 10x slower (measured: 1.8 s instead of 0.16 s for
            # the backbone). Flushing them to zero changes results by less than 1e-30.
            # Process-wide, as PyTorch's CPU inference guide recommends.
            torch.set_flush_denormal(True)
        # channels_last lets oneDNN (CPU) and cuDNN pick their fast convolution kernels:
        # about 2x on the backbone on a 2-core CPU.
        self.model = checkpoint.model.to(self.device, memory_format=torch.channels_last).eval()
        self.metadata = checkpoint.metadata
        self.calibration = Calibration.from_dict((checkpoint.metadata.metrics or {}).get("calibration"))
        self.model_id = checkpoint.path.name
        self.name = checkpoint.path.stem
        self.sha256 = checkpoint.sha256
        self.preprocessing = checkpoint.metadata.preprocessing()
        if face_detector is not None and face_tracker is not None:
            raise TypeError("pass face_detector= (each frame on its own) or face_tracker=, not both")
        # What finds the faces: a tracker over the whole video unless a per-frame detector is given.
        self.faces: FaceDetector | FaceTracker = face_detector or face_tracker or FaceTracker()
        self.seek = seek  # video.iter_frames: None seeks where it pays, False never
        # The seed ran face_recognition's default HOG on full frames and took faces[0] as is.
        self.seed_face_detector = FaceDetector(
            max_side=None, upsample=1, margin=0.0, pick="first", grayscale=False
        )

    @classmethod
    def from_checkpoint(
        cls,
        path: str | Path,
        device: str = "auto",
        face_detector: FaceDetector | None = None,
        *,
        face_tracker: FaceTracker | None = None,
        seek: bool | None = None,
    ) -> Predictor:
        """A Predictor for a checkpoint file, loaded once per process and reused.

        Cached by (path, modification time, size, device, face finding settings, seek):
        replacing the file loads it again. Raises CheckpointError for a file that cannot be used.
        """
        path = Path(path).absolute()  # not resolve(): a symlink's name is the model's name
        if face_detector is not None and face_tracker is not None:
            raise TypeError("pass face_detector= (each frame on its own) or face_tracker=, not both")
        faces = face_detector or face_tracker or FaceTracker()
        resolved = resolve_device(device)
        try:
            stat = path.stat()
            key = (str(path), stat.st_mtime_ns, stat.st_size, str(resolved), faces.settings(), seek)
        except OSError:
            key = None  # load_checkpoint raises the readable error
        with _cache_lock:
            if key is not None and key in _cache:
                return _cache[key]
            predictor = cls(
                load_checkpoint(path),
                device=str(resolved),
                face_detector=face_detector,
                face_tracker=face_tracker,
                seek=seek,
            )
            # A checkpoint replaced on disk drops the predictors of its older version.
            for old in [
                k for k in _cache if key and k[0] == key[0] and k[3] == key[3] and k[1:3] != key[1:3]
            ]:
                del _cache[old]
            if key is not None:
                _cache[key] = predictor
            return predictor

    @property
    def variant(self) -> str:
        return self.metadata.variant

    def predict(
        self,
        video: str | Path,
        *,
        frames: int = 20,
        strategy: str = "uniform",
        progress: ProgressCallback | None = None,
        seed_exact: bool = False,
        heatmaps: int = 3,
    ) -> Prediction:
        """Analyse one video. Raises VideoError when the file cannot be decoded."""
        if frames < 1:
            raise ValueError(f"frames must be at least 1, got {frames}")
        if heatmaps < 0:
            raise ValueError(f"heatmaps must not be negative, got {heatmaps}")
        if seed_exact:
            strategy = "contiguous"
        report = _Progress(progress)
        timings = Timings()
        started = time.perf_counter()

        info, decoded = self._decode(video, frames, strategy, report)
        timings.decode = time.perf_counter() - started

        mark = time.perf_counter()
        scored_frames, crops, without_face = self._crop_faces(decoded, seed_exact, report)
        timings.faces = time.perf_counter() - mark

        base = dict(
            frames_requested=frames,
            frames_decoded=len(decoded),
            frames_without_face=without_face,
            timings=timings,
            model_id=self.model_id,
            model_variant=self.variant,
            model_sha256=self.sha256,
            device=str(self.device),
            video=info,
            strategy=strategy,
            seed_exact=seed_exact,
        )
        if without_face == len(decoded):
            timings.total = time.perf_counter() - started
            report("done", 1.0)
            return Prediction(
                label="no_face",
                probability_fake=None,
                confidence=None,
                frames_analysed=0,
                frames=[],
                heatmaps=[],
                aggregation="none",
                **base,
            )

        mark = time.perf_counter()
        report("model", 0.0)
        fmaps, frame_probs, video_prob, aggregation = self._score(crops, seed_exact)
        timings.model = time.perf_counter() - mark
        report("model", 1.0)

        mark = time.perf_counter()
        report("cam", 0.0)
        frame_results = [
            FrameScore(
                index=frame.index,
                timestamp=frame.timestamp,
                box=box.as_xywh(),
                face_box=face.as_xywh() if face is not None else None,
                probability_fake=float(p),
                crop=crop_image,
            )
            for (frame, box, face), crop_image, p in zip(scored_frames, crops, frame_probs, strict=True)
        ]
        heatmap_results = self._heatmaps(fmaps, frame_results, heatmaps)
        timings.cam = time.perf_counter() - mark
        report("cam", 1.0)

        timings.total = time.perf_counter() - started
        report("done", 1.0)
        probability = self.calibration.probability(video_prob)
        return Prediction(
            label="fake" if probability >= 0.5 else "real",
            probability_fake=probability,
            raw_probability_fake=video_prob,
            band=self.calibration.band(probability),
            confidence=max(probability, 1.0 - probability),
            frames_analysed=len(frame_results),
            frames=frame_results,
            heatmaps=heatmap_results,
            aggregation=aggregation,
            **base,
        )

    def judge_faces(self, crops: list[np.ndarray], *, heatmaps: int = 3) -> list[FaceJudgement]:
        """Each BGR face crop (face box plus margin, any size) judged by the frame model, with a
        heat map on the ``heatmaps`` most suspicious ones. The video calibration is applied to
        each face's probability: the closest fitted reading there is for a single frame."""
        if not crops:
            return []
        resized = self.resize_crops(crops)
        fmaps, frame_probs, _, _ = self._score(resized, seed_exact=False)
        probabilities = [self.calibration.probability(p) for p in frame_probs]
        judged = [
            FaceJudgement(probability_fake=p, raw_probability_fake=raw, band=self.calibration.band(p),
                          member_scores={}, crop=image)
            for p, raw, image in zip(probabilities, frame_probs, resized, strict=True)
        ]
        order = sorted(range(len(judged)), key=lambda i: -judged[i].probability_fake)[:heatmaps]
        if order:
            size = self.preprocessing.input_size
            for i, cam in zip(order, grad_cam_from_feature_maps(self.model, fmaps[order], size=(size, size)),
                              strict=True):
                judged[i].heatmap = overlay(judged[i].crop, cam)
        return judged

    def resize_crops(self, crops: list[np.ndarray]) -> list[np.ndarray]:
        size = self.preprocessing.input_size
        return [resize_crop(image, size) for image in crops]

    def _decode(
        self, video_path: str | Path, frames: int, strategy: str, progress: _Progress
    ) -> tuple[VideoInfo, list[Frame]]:
        info = probe(video_path)
        indices = sample_indices(info.frame_count, frames, strategy)
        decoded = []
        for frame in iter_frames(video_path, indices, seek=self.seek):
            decoded.append(frame)
            progress("decode", len(decoded) / len(indices))
        if len(decoded) < len(indices) and not info.frame_count_counted:
            # The stream ended before its header said: sample again within what really exists.
            actual = count_frames(video_path)
            if actual < info.frame_count:
                info = replace(info, frame_count=actual, duration=actual / info.fps, frame_count_counted=True)
                indices = sample_indices(actual, frames, strategy)
                if indices != [f.index for f in decoded]:
                    decoded = read_frames(video_path, indices, seek=self.seek)
        if not decoded:
            raise VideoError("None of the video's frames could be decoded.")
        progress("decode", 1.0)
        return info, decoded

    def _crop_faces(
        self, decoded: list[Frame], seed_exact: bool, progress: _Progress
    ) -> tuple[list[tuple[Frame, Box, Box | None]], list[np.ndarray], int]:
        """(frame, crop box, face box or None) per frame to score, their resized crops, and
        the number of frames without a face."""
        detector = self.seed_face_detector if seed_exact else self.faces
        locations = detector.locate_all(
            [frame.image for frame in decoded],
            [frame.timestamp for frame in decoded],
            progress=lambda done: progress("faces", done),
        )
        scored: list[tuple[Frame, Box, Box | None]] = []
        without_face = 0
        for frame, location in zip(decoded, locations, strict=True):
            if location is not None:
                scored.append((frame, location.crop, location.face))
            else:
                without_face += 1
                if seed_exact:
                    # The seed fed the whole frame when face_recognition found nothing.
                    height, width = frame.image.shape[:2]
                    scored.append((frame, Box(top=0, right=width, bottom=height, left=0), None))
        progress("faces", 1.0)
        crops = self.resize_crops([crop(frame.image, box) for frame, box, _ in scored])
        return scored, crops, without_face

    def _score(
        self, crops: list[np.ndarray], seed_exact: bool
    ) -> tuple[torch.Tensor, list[float], float, str]:
        batch = (
            to_tensor(crops, self.preprocessing).to(self.device).contiguous(memory_format=torch.channels_last)
        )
        with torch.inference_mode(), _full_fp32_convolutions(self.device):
            fmaps = torch.cat([self.model.feature_maps(chunk) for chunk in batch.split(_BACKBONE_BATCH)])
            features = self.model.pool(fmaps)
            frame_probs = torch.softmax(self.model.classify_frames(features), dim=1)[:, FAKE]
            if self.variant == "seed" and not seed_exact:
                video_prob = frame_probs.mean()
                aggregation = "mean"
            else:
                # One video at a time: (1, S, 2048). For the seed this is its own forward pass,
                # whose output is the last frame's score.
                logits = self.model.classify_sequence(features.unsqueeze(0))
                video_prob = torch.softmax(logits, dim=1)[0, FAKE]
                aggregation = "last-frame" if self.variant == "seed" else "sequence"
        return fmaps, frame_probs.cpu().tolist(), float(video_prob), aggregation

    def _heatmaps(self, fmaps: torch.Tensor, frame_results: list[FrameScore], count: int) -> list[Heatmap]:
        if count == 0:
            return []
        order = sorted(range(len(frame_results)), key=lambda i: -frame_results[i].probability_fake)[:count]
        size = self.preprocessing.input_size
        cams = grad_cam_from_feature_maps(self.model, fmaps[order], size=(size, size))
        return [
            Heatmap(
                frame_index=frame_results[i].index,
                probability_fake=frame_results[i].probability_fake,
                overlay=overlay(frame_results[i].crop, cam),
                cam=cam,
            )
            for i, cam in zip(order, cams, strict=True)
        ]
