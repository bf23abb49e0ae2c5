"""An ensemble detector: several checkpoints judge the same faces, and their calibrated
opinions are combined. Plain PyTorch, no Django.

An ensemble is a JSON manifest beside its member checkpoints:

    {
      "format": "dfd-ensemble/1",
      "description": "what it is, in a sentence",
      "members": [
        {"file": "dfd-efficientnet-lite0-v1.pt", "sha256": "9a5c...", "weight": 1.0},
        {"file": "dfd-efficientnet-lite0-h264.pt", "sha256": "41be...", "weight": 1.0}
      ],
      "calibration": {"temperature": 1.2, "likely_at": 0.7, "clear_below": 0.2, ...},
      "metrics": {...}
    }

Each member's video probability is first calibrated by the member's own temperature (so
members trained differently speak the same scale), turned into a logit, and the logits are
averaged with the weights; the ensemble's own calibration (fitted on validation data, like a
checkpoint's) turns the average into the probability and the band. Faces are found once, by
the first member's face finder, and every member judges the same crops; heat maps come from
the first member. The manifest names each member's sha256, so its own sha256 pins exactly
which weights judged.
"""

from __future__ import annotations

import json
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from detection.engine.calibration import Calibration, logit, sigmoid
from detection.engine.checkpoint import CheckpointMetadata, file_sha256, load_checkpoint
from detection.engine.errors import CheckpointError
from detection.engine.faces import crop
from detection.engine.predictor import (
    FaceJudgement,
    FrameScore,
    Prediction,
    Predictor,
    Timings,
    _Progress,
)

ENSEMBLE_FORMAT = "dfd-ensemble/1"
MANIFEST_SUFFIX = ".json"


@dataclass(frozen=True)
class MemberSpec:
    file: str  # a file name beside the manifest
    sha256: str
    weight: float = 1.0

    @property
    def name(self) -> str:
        return Path(self.file).stem


@dataclass
class EnsembleManifest:
    """A parsed, checked manifest: every member file is there with the sha256 it names."""

    path: Path
    sha256: str
    members: list[MemberSpec]
    calibration: Calibration
    description: str = ""
    metrics: dict = field(default_factory=dict)
    format: str = ENSEMBLE_FORMAT

    def member_path(self, member: MemberSpec) -> Path:
        return self.path.parent / member.file

    @property
    def metadata(self) -> CheckpointMetadata:
        """What the registry stores for a detector, read off the members (each loaded, which
        also checks it is a usable checkpoint; the worker never needs this)."""
        member_metadata = [load_checkpoint(self.member_path(m)).metadata for m in self.members]
        lead = member_metadata[0]
        backbones = ", ".join(f"{m.name} ({meta.backbone}, {meta.input_size} px)"
                              for m, meta in zip(self.members, member_metadata, strict=True))
        return CheckpointMetadata(
            variant="ensemble", backbone="ensemble", hidden_size=lead.hidden_size, pooling=lead.pooling,
            sequence_length=lead.sequence_length, input_size=lead.input_size,
            training_data=f"An ensemble of {len(self.members)} checkpoints: {backbones}.",
            metrics={**self.metrics, "calibration": self.calibration.to_dict(),
                     "members": [{"name": m.name, "file": m.file, "sha256": m.sha256, "weight": m.weight}
                                 for m in self.members]},
        )


def is_manifest(path: str | Path) -> bool:
    return Path(path).suffix == MANIFEST_SUFFIX


def read_manifest(path: str | Path, *, check_members: bool = True) -> EnsembleManifest:
    """Parse and check a manifest. Raises CheckpointError, saying what is wrong, for a file
    that is not an ensemble manifest, a member that is missing, changed or not a checkpoint."""
    path = Path(path).absolute()
    try:
        raw = path.read_bytes()
        data = json.loads(raw)
    except OSError as error:
        raise CheckpointError(f"cannot read {path.name}: {error.strerror or error}") from None
    except (UnicodeDecodeError, json.JSONDecodeError):
        raise CheckpointError(f"{path.name} is not an ensemble manifest (not JSON)") from None
    if not isinstance(data, dict) or data.get("format") != ENSEMBLE_FORMAT:
        raise CheckpointError(f"{path.name} is not an ensemble manifest (format must be {ENSEMBLE_FORMAT!r})")
    members = []
    for entry in data.get("members") or []:
        try:
            member = MemberSpec(file=str(entry["file"]), sha256=str(entry["sha256"]).lower(),
                                weight=float(entry.get("weight", 1.0)))
        except (KeyError, TypeError, ValueError):
            raise CheckpointError(f"{path.name}: each member needs a file and a sha256") from None
        if Path(member.file).name != member.file or not member.weight > 0:
            raise CheckpointError(f"{path.name}: member {member.file!r} must be a file name beside the manifest "
                                  "with a positive weight")
        members.append(member)
    if not members:
        raise CheckpointError(f"{path.name} names no members")
    try:
        calibration = Calibration.from_dict(data.get("calibration"))
    except (TypeError, ValueError) as error:
        raise CheckpointError(f"{path.name}: calibration is not valid: {error}") from None
    manifest = EnsembleManifest(path=path, sha256=file_sha256(path), members=members, calibration=calibration,
                                description=str(data.get("description", "")), metrics=data.get("metrics") or {})
    if check_members:
        for member in members:
            member_path = manifest.member_path(member)
            if not member_path.is_file():
                raise CheckpointError(f"{path.name}: member {member.file} is missing")
            actual = file_sha256(member_path)
            if actual != member.sha256:
                raise CheckpointError(f"{path.name}: member {member.file} has sha256 {actual}, "
                                      f"not {member.sha256}")
    return manifest


def write_manifest(path: str | Path, members: list[tuple[str | Path, float]], calibration: Calibration,
                   *, description: str = "", metrics: dict | None = None) -> str:
    """Write a manifest for member checkpoints lying in the same folder; returns its sha256."""
    path = Path(path)
    entries = []
    for member, weight in members:
        member = Path(member)
        if member.parent.absolute() != path.parent.absolute():
            raise ValueError(f"{member} must lie in the manifest's folder {path.parent}")
        entries.append({"file": member.name, "sha256": file_sha256(member), "weight": weight})
    body = {"format": ENSEMBLE_FORMAT, "description": description, "members": entries,
            "calibration": calibration.to_dict(), "metrics": metrics or {}}
    path.write_text(json.dumps(body, indent=1) + "\n")
    return file_sha256(path)


def combine(probabilities: list[float], weights: list[float]) -> float:
    """Weighted mean of the members' calibrated logits, back as a probability."""
    z = sum(w * float(logit(p)) for p, w in zip(probabilities, weights, strict=True)) / sum(weights)
    return float(sigmoid(z))


_cache: dict[tuple, Ensemble] = {}
_cache_lock = threading.Lock()


class Ensemble:
    """Implements the Detector protocol (detector.py) over member Predictors."""

    def __init__(self, manifest: EnsembleManifest, device: str = "auto") -> None:
        self.manifest = manifest
        self.members = [Predictor.from_checkpoint(manifest.member_path(m), device=device) for m in manifest.members]
        self.weights = [m.weight for m in manifest.members]
        self.member_names = [m.name for m in manifest.members]
        self.calibration = manifest.calibration
        self.name = manifest.path.stem
        self.model_id = manifest.path.name
        self.sha256 = manifest.sha256
        self.variant = "ensemble"
        self.device = self.members[0].device

    @classmethod
    def from_manifest(cls, path: str | Path, device: str = "auto") -> Ensemble:
        """Loaded once per process and reused; a changed manifest is read again."""
        path = Path(path).absolute()
        try:
            stat = path.stat()
            key = (str(path), stat.st_mtime_ns, stat.st_size, device)
        except OSError:
            key = None  # read_manifest raises the readable error
        with _cache_lock:
            if key in _cache:
                return _cache[key]
            ensemble = cls(read_manifest(path), device=device)
            if key is not None:
                for old in [k for k in _cache if k[0] == key[0] and k[3] == key[3]]:
                    del _cache[old]
                _cache[key] = ensemble
            return ensemble

    def predict(self, video: str | Path, *, frames: int = 20, strategy: str = "uniform", progress=None,
                seed_exact: bool = False, heatmaps: int = 3) -> Prediction:
        """Analyse one video: decode and find faces once, let every member judge the crops."""
        if seed_exact:
            raise ValueError("seed_exact reproduces the seed's own checkpoint; an ensemble has no seed behaviour")
        if frames < 1:
            raise ValueError(f"frames must be at least 1, got {frames}")
        lead = self.members[0]
        report = _Progress(progress)
        timings = Timings()
        started = time.perf_counter()
        info, decoded = lead._decode(video, frames, strategy, report)
        timings.decode = time.perf_counter() - started
        mark = time.perf_counter()
        scored, lead_crops, without_face = lead._crop_faces(decoded, False, report)
        timings.faces = time.perf_counter() - mark
        base = dict(frames_requested=frames, frames_decoded=len(decoded), frames_without_face=without_face,
                    timings=timings, model_id=self.model_id, model_variant=self.variant, model_sha256=self.sha256,
                    device=str(self.device), video=info, strategy=strategy, seed_exact=False)
        if not scored:
            timings.total = time.perf_counter() - started
            report("done", 1.0)
            return Prediction(label="no_face", probability_fake=None, confidence=None, frames_analysed=0,
                              frames=[], heatmaps=[], aggregation="none", **base)

        mark = time.perf_counter()
        report("model", 0.0)
        video_scores, frame_scores, lead_fmaps = [], [], None
        for number, member in enumerate(self.members):
            if member.preprocessing.input_size == lead.preprocessing.input_size:
                crops = lead_crops
            else:
                crops = member.resize_crops([crop(frame.image, box) for frame, box, _ in scored])
            fmaps, frame_probs, video_prob, _ = member._score(crops, seed_exact=False)
            lead_fmaps = fmaps if number == 0 else lead_fmaps
            video_scores.append(member.calibration.probability(video_prob))
            frame_scores.append([member.calibration.probability(p) for p in frame_probs])
            report("model", (number + 1) / len(self.members))
        timings.model = time.perf_counter() - mark

        mark = time.perf_counter()
        report("cam", 0.0)
        per_frame = [self.calibration.probability(combine(list(ps), self.weights)) for ps in zip(*frame_scores)]
        frame_results = [
            FrameScore(index=frame.index, timestamp=frame.timestamp, box=box.as_xywh(),
                       face_box=face.as_xywh() if face is not None else None, probability_fake=p, crop=image)
            for (frame, box, face), image, p in zip(scored, lead_crops, per_frame, strict=True)
        ]
        heatmap_results = lead._heatmaps(lead_fmaps, frame_results, heatmaps)
        timings.cam = time.perf_counter() - mark
        report("cam", 1.0)
        timings.total = time.perf_counter() - started
        report("done", 1.0)

        raw = combine(video_scores, self.weights)
        probability = self.calibration.probability(raw)
        return Prediction(
            label="fake" if probability >= 0.5 else "real", probability_fake=probability,
            raw_probability_fake=raw, band=self.calibration.band(probability),
            confidence=max(probability, 1.0 - probability), frames_analysed=len(frame_results),
            frames=frame_results, heatmaps=heatmap_results, aggregation="ensemble",
            member_scores=dict(zip(self.member_names, video_scores, strict=True)), **base,
        )

    def judge_faces(self, crops: list[np.ndarray], *, heatmaps: int = 3) -> list[FaceJudgement]:
        if not crops:
            return []
        per_member = [member.judge_faces(crops, heatmaps=0) for member in self.members]
        judged = []
        for number, faces in enumerate(zip(*per_member)):
            scores = [face.probability_fake for face in faces]
            raw = combine(scores, self.weights)
            probability = self.calibration.probability(raw)
            judged.append(FaceJudgement(
                probability_fake=probability, raw_probability_fake=raw, band=self.calibration.band(probability),
                member_scores=dict(zip(self.member_names, scores, strict=True)), crop=per_member[0][number].crop))
        order = sorted(range(len(judged)), key=lambda i: -judged[i].probability_fake)[:heatmaps]
        if order:
            lead_maps = self.members[0].judge_faces([crops[i] for i in order], heatmaps=len(order))
            for i, face in zip(order, lead_maps, strict=True):
                judged[i].heatmap = face.heatmap
        return judged
