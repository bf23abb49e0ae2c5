"""The Detector interface: what the worker, the ``detect`` command and the API run on a video.

A detector turns a video into a ``Prediction`` (``predictor.py``) and face crops into
``FaceJudgement``s (still images). Two kinds implement it: ``Predictor``, one checkpoint
(``.pt``/``.pth``), and ``Ensemble``, a JSON manifest naming member checkpoints by sha256
(``ensemble.py``). ``load_detector`` returns the kind the file defines, so callers never
learn which kind they hold; ``read_definition`` checks a file without building the models.

Progress: ``progress(stage, fraction)`` is called as the work goes, with ``fraction`` the
overall share done in [0, 1], never decreasing, and ``stage`` a word for what runs now (the
single checkpoint reports decode, faces, model, cam, done). An exception raised by the
callback stops the prediction and reaches the caller unchanged: that is how a caller
cancels an analysis between stages.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Protocol, runtime_checkable

import numpy as np

from detection.engine.checkpoint import LoadedCheckpoint, load_checkpoint
from detection.engine.ensemble import Ensemble, EnsembleManifest, is_manifest, read_manifest
from detection.engine.predictor import FaceJudgement, Prediction, Predictor

ProgressCallback = Callable[[str, float], None]


@runtime_checkable
class Detector(Protocol):
    name: str  # shown to people: for a checkpoint, its file name without the suffix
    sha256: str  # of the file that defines the detector: which model judged, exactly

    def predict(
        self,
        video: str | Path,
        *,
        frames: int = 20,
        strategy: str = "uniform",
        progress: ProgressCallback | None = None,
    ) -> Prediction:
        """Analyse one video file. Raises VideoError when it cannot be decoded."""
        ...

    def judge_faces(self, crops: list[np.ndarray], *, heatmaps: int = 3) -> list[FaceJudgement]:
        """Each BGR face crop (face box plus margin) judged on its own, with heat maps on the
        ``heatmaps`` most suspicious."""
        ...


def load_detector(path: str | Path, *, device: str = "auto") -> Detector:
    """The detector a file defines, loaded once per process and reused (replacing the file
    loads it again). Raises CheckpointError for a file that cannot be used and ValueError
    for a device this machine does not have."""
    if is_manifest(path):
        return Ensemble.from_manifest(path, device=device)
    return Predictor.from_checkpoint(path, device=device)


def read_definition(path: str | Path) -> LoadedCheckpoint | EnsembleManifest:
    """The checked contents of a detector file: ``.metadata``, ``.sha256``, ``.format``.
    Raises CheckpointError for a file that cannot be used (for a manifest: a member missing
    or changed too)."""
    return read_manifest(path) if is_manifest(path) else load_checkpoint(path)
