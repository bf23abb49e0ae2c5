"""The default detector committed under models/: loads strictly, matches its model card, judges a video."""

import re
from pathlib import Path

import pytest

from detection.engine.checkpoint import file_sha256, load_checkpoint
from detection.engine.predictor import Predictor
from tests import videos

ROOT = Path(__file__).resolve().parents[2]
CHECKPOINT = ROOT / "models" / "dfd-efficientnet-lite0-v1.pt"
CARD = ROOT / "models" / "dfd-efficientnet-lite0-v1.md"

pytestmark = pytest.mark.skipif(
    not CHECKPOINT.is_file(), reason=f"the default detector {CHECKPOINT.name} is not in models/ (not committed here)"
)


@pytest.fixture(scope="module")
def loaded():
    return load_checkpoint(CHECKPOINT)  # strict key and shape matching inside


def test_loads_strictly_with_its_metadata(loaded):
    meta = loaded.metadata
    assert loaded.format == "dfd-checkpoint"
    assert (meta.variant, meta.backbone) == ("temporal", "efficientnet_lite0")
    assert meta.input_size == 112 and meta.channel_order == "RGB"
    assert meta.training_data
    metrics = meta.metrics
    for key in ("split", "samples", "roc_auc", "accuracy", "balanced_accuracy", "log_loss", "confusion",
                "by_source", "by_method", "roc"):
        assert key in metrics
    assert len(metrics["roc"]["fpr"]) <= 101
    assert CHECKPOINT.stat().st_size <= 15 * 1024 * 1024


def test_sha256_matches_the_model_card(loaded):
    assert CARD.is_file(), "the model card must sit beside the checkpoint"
    card_hashes = set(re.findall(r"\b[0-9a-f]{64}\b", CARD.read_text()))
    assert file_sha256(CHECKPOINT) == loaded.sha256
    assert loaded.sha256 in card_hashes


def test_judges_an_astronaut_video(tmp_path):
    clip = videos.face_video(tmp_path / "astronaut.mp4", seconds=1.0)
    predictor = Predictor.from_checkpoint(CHECKPOINT, device="cpu")
    prediction = predictor.predict(clip, frames=8, heatmaps=1)

    assert prediction.label in ("real", "fake")
    assert 0.0 <= prediction.probability_fake <= 1.0
    assert prediction.aggregation == "sequence"
    assert prediction.frames_analysed == len(prediction.frames) >= 6
    assert all(0.0 <= f.probability_fake <= 1.0 for f in prediction.frames)
    assert prediction.heatmaps and prediction.heatmaps[0].cam.shape == (112, 112)


ENSEMBLES = sorted((ROOT / "models").glob("dfd-ensemble-v*.json"))


@pytest.mark.skipif(not ENSEMBLES, reason="no default ensemble in models/ (not committed here)")
@pytest.mark.parametrize("committed", ENSEMBLES, ids=[path.stem for path in ENSEMBLES])
def test_the_committed_ensembles_are_pinned_small_carded_and_judge_with_every_member(tmp_path, committed):
    from detection.engine.detector import load_detector, read_definition

    manifest = read_definition(committed)  # every member present with the sha256 the manifest names
    sizes = [manifest.member_path(m).stat().st_size for m in manifest.members]
    assert len(sizes) >= 2 and max(sizes) <= 10.5 * 1e6 and sum(sizes) <= 31.5 * 1e6  # fp16, <= 10 MiB / 30 MiB
    card = committed.with_suffix(".md").read_text()
    assert manifest.sha256 in card and all(m.sha256 in card or m.name in card for m in manifest.members)
    assert manifest.metrics["comparison"]["table"]["H.264 c40"]["ensemble"]["overall"]["auc"] is not None

    ensemble = load_detector(committed, device="cpu")
    prediction = ensemble.predict(videos.face_video(tmp_path / "astronaut.mp4", seconds=1.0), frames=8)
    assert prediction.label in ("real", "fake") and prediction.band in ("manipulated", "inconclusive",
                                                                         "no_manipulation")
    assert list(prediction.member_scores) == [m.name for m in manifest.members]
