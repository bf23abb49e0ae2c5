"""Session-wide test material for the engine: videos and random-weight checkpoints.

A ResNeXt50 checkpoint is about 100 MB, so each is written once per session, under
pytest's temp folder, never into the repository.
"""

from pathlib import Path

import pytest

from detection.engine.checkpoint import CheckpointMetadata, save_checkpoint
from detection.engine.model import BackboneLSTM
from tests import videos
from tests.engine import seed_reference

TEMPORAL_HIDDEN = 64


@pytest.fixture(scope="session")
def video_dir(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("videos")


@pytest.fixture(scope="session")
def face_clip(video_dir) -> Path:
    """320x240 mp4v, 1.5 s at 25 fps (38 frames), the astronaut's face moving and growing."""
    return videos.face_video(video_dir / "face.mp4", seconds=1.5)


@pytest.fixture(scope="session")
def small_face_clip(video_dir) -> Path:
    """1080x1920 portrait H.264, 1.6 s, a face about 70 px wide in the upper middle of a dark
    room: what HOG on a 480 px copy misses."""
    return videos.small_face_video(video_dir / "small-face.mp4", seconds=1.6)


@pytest.fixture(scope="session")
def no_face_clip(video_dir) -> Path:
    return videos.no_face_video(video_dir / "no-face.mp4", seconds=1.0)


@pytest.fixture(scope="session")
def seed_checkpoint(tmp_path_factory):
    """(path, model): the seed's own class, random weights, its bare state_dict saved."""
    path = tmp_path_factory.mktemp("checkpoints") / "seed-checkpoint.pt"
    model = seed_reference.write_seed_checkpoint(path)
    return path, model


@pytest.fixture(scope="session")
def temporal_metadata() -> CheckpointMetadata:
    return CheckpointMetadata(
        variant="temporal",
        hidden_size=TEMPORAL_HIDDEN,
        pooling="last",
        sequence_length=20,
        channel_order="RGB",
        training_data="random weights for tests",
        metrics={"val_accuracy": 0.5, "val_auc": 0.5, "epochs": 0},
    )


@pytest.fixture(scope="session")
def temporal_checkpoint(tmp_path_factory, temporal_metadata):
    """(path, model, sha256): our own format, temporal variant, random weights."""
    path = tmp_path_factory.mktemp("checkpoints") / "temporal.pt"
    model = BackboneLSTM(variant="temporal", hidden_size=TEMPORAL_HIDDEN).eval()
    sha256 = save_checkpoint(model, path, temporal_metadata)
    return path, model, sha256
