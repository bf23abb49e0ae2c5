"""The ensemble detector: manifest checks, and that its verdict is the calibrated mean of what
its members say on their own about the same video."""

import json
import shutil

import pytest

from detection.engine.calibration import logit, sigmoid
from detection.engine.detector import Detector, load_detector, read_definition
from detection.engine.ensemble import Ensemble, combine, read_manifest
from detection.engine.errors import CheckpointError
from detection.engine.faces import crop
from detection.engine.predictor import Predictor
from tests.ensembles import MEMBERS, write_tiny_ensemble


@pytest.fixture(scope="module")
def manifest(tmp_path_factory):
    return write_tiny_ensemble(tmp_path_factory.mktemp("ensemble"))


def test_combine_is_the_weighted_mean_of_logits():
    assert combine([0.5, 0.5], [1, 3]) == pytest.approx(0.5)
    expected = float(sigmoid((1 * logit(0.9) + 3 * logit(0.2)) / 4))
    assert combine([0.9, 0.2], [1, 3]) == pytest.approx(expected)


def test_a_manifest_loads_as_a_detector_and_reads_like_a_checkpoint(manifest):
    ensemble = load_detector(manifest, device="cpu")
    assert isinstance(ensemble, Ensemble) and isinstance(ensemble, Detector)
    assert load_detector(manifest, device="cpu") is ensemble  # loaded once per process
    assert ensemble.name == "tiny-ensemble" and len(ensemble.sha256) == 64
    definition = read_definition(manifest)
    assert definition.sha256 == ensemble.sha256 and definition.metadata.variant == "ensemble"
    assert [m["name"] for m in definition.metadata.metrics["members"]] == [m[0] for m in MEMBERS]
    assert definition.metadata.metrics["calibration"]["temperature"] == 1.5


def test_member_scores_are_what_each_member_says_alone(manifest, face_clip):
    ensemble = load_detector(manifest, device="cpu")
    prediction = ensemble.predict(face_clip, frames=6, heatmaps=2)
    assert prediction.label in ("real", "fake") and prediction.aggregation == "ensemble"
    assert list(prediction.member_scores) == ["member-a", "member-b"]
    for name, _, _, _ in MEMBERS:
        alone = Predictor.from_checkpoint(manifest.parent / f"{name}.pt", device="cpu").predict(face_clip, frames=6)
        assert prediction.member_scores[name] == pytest.approx(alone.probability_fake, abs=1e-5)
        assert alone.member_scores == {}
    weights = [m[3] for m in MEMBERS]
    assert prediction.raw_probability_fake == pytest.approx(combine(list(prediction.member_scores.values()), weights))
    calibrated = ensemble.calibration.probability(prediction.raw_probability_fake)
    assert prediction.probability_fake == pytest.approx(calibrated)
    assert prediction.band == ensemble.calibration.band(prediction.probability_fake)
    assert len(prediction.heatmaps) == 2 and prediction.model_sha256 == ensemble.sha256
    assert prediction.to_dict()["member_scores"] == prediction.member_scores
    with pytest.raises(ValueError, match="seed"):
        ensemble.predict(face_clip, seed_exact=True)


def test_judge_faces_combines_the_members_face_by_face(manifest, face_clip):
    from detection.engine.video import read_frames

    ensemble = load_detector(manifest, device="cpu")
    frames = read_frames(face_clip, [0, 10])
    locations = ensemble.members[0].faces.locate_all([f.image for f in frames], [f.timestamp for f in frames])
    crops = [crop(frame.image, location.crop) for frame, location in zip(frames, locations) if location]
    judged = ensemble.judge_faces(crops, heatmaps=1)
    assert len(judged) == len(crops) == 2
    for face in judged:
        assert set(face.member_scores) == {"member-a", "member-b"}
        assert face.probability_fake == pytest.approx(
            ensemble.calibration.probability(combine(list(face.member_scores.values()), [1.0, 2.0])))
    assert sum(face.heatmap is not None for face in judged) == 1
    most = max(judged, key=lambda f: f.probability_fake)
    assert most.heatmap is not None and most.heatmap.shape == most.crop.shape
    alone = ensemble.members[1].judge_faces(crops, heatmaps=0)
    assert [f.probability_fake for f in alone] == pytest.approx([f.member_scores["member-b"] for f in judged])


def test_a_changed_or_missing_member_or_a_bad_manifest_is_refused(manifest, tmp_path):
    folder = tmp_path / "copy"
    shutil.copytree(manifest.parent, folder)
    copy = folder / manifest.name
    assert read_manifest(copy).members[0].file == "member-a.pt"
    (folder / "member-b.pt").write_bytes((folder / "member-b.pt").read_bytes() + b"x")
    with pytest.raises(CheckpointError, match="member-b.pt has sha256"):
        read_manifest(copy)
    (folder / "member-b.pt").unlink()
    with pytest.raises(CheckpointError, match="member-b.pt is missing"):
        load_detector(copy, device="cpu")
    body = json.loads(copy.read_text())
    for broken, message in [
        ({**body, "format": "other"}, "not an ensemble manifest"),
        ({**body, "members": []}, "names no members"),
        ({**body, "members": [{"file": "../member-a.pt", "sha256": "0" * 64}]}, "beside the manifest"),
        ({**body, "calibration": {"temperature": -1}}, "calibration is not valid"),
    ]:
        copy.write_text(json.dumps(broken))
        with pytest.raises(CheckpointError, match=message):
            read_manifest(copy)
    copy.write_text("not json")
    with pytest.raises(CheckpointError, match="not JSON"):
        read_manifest(copy)
