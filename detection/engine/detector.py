"""The Detector interface: what the worker, the ``detect`` command and the API run on a video.

A detector turns a video into a ``Prediction`` (``predictor.py``). Today there is one kind:
``Predictor``, a single checkpoint. An ensemble of members, or a still-image path, will be
other implementations of the same protocol, and ``load_detector`` will return them for their
own kind of file (an ensemble's manifest, say), so callers never learn which kind they hold.

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

from detection.engine.predictor import Prediction, Predictor

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


def load_detector(path: str | Path, *, device: str = "auto") -> Detector:
    """The detector a file defines, loaded once per process and reused (replacing the file
    loads it again). Raises CheckpointError for a file that cannot be used and ValueError
    for a device this machine does not have."""
    return Predictor.from_checkpoint(path, device=device)
