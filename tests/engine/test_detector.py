"""The Detector interface, as the worker and the detect command use it."""

import pytest

from detection.engine.checkpoint import file_sha256
from detection.engine.detector import Detector, load_detector
from detection.engine.predictor import Predictor


@pytest.fixture(scope="module")
def detector(seed_checkpoint):
    path, _ = seed_checkpoint
    return load_detector(path, device="cpu")


def test_load_detector_gives_the_cached_checkpoint_detector(detector, seed_checkpoint):
    path, _ = seed_checkpoint

    assert isinstance(detector, Detector)
    assert load_detector(str(path), device="cpu") is detector
    assert Predictor.from_checkpoint(path, device="cpu") is detector
    assert detector.name == "seed-checkpoint"
    assert detector.sha256 == file_sha256(path)


def test_options_are_keywords(detector, face_clip):
    with pytest.raises(TypeError):
        detector.predict(face_clip, 2)


@pytest.mark.parametrize("stage", ["decode", "faces", "model", "cam"])
def test_an_exception_from_the_progress_callback_cancels_and_reaches_the_caller(detector, face_clip, stage):
    class Cancelled(Exception):
        pass

    raised = Cancelled("the user cancelled")
    seen = []

    def progress(name, fraction):
        seen.append(name)
        if name == stage:
            raise raised

    with pytest.raises(Cancelled) as caught:
        detector.predict(face_clip, frames=4, progress=progress)

    assert caught.value is raised and caught.value.__cause__ is None
    assert seen[-1] == stage and seen.count(stage) == 1  # nothing ran after it
    assert "done" not in seen
