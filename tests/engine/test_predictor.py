import json
import os

import numpy as np
import pytest
import torch

from detection.engine import video
from detection.engine.errors import CheckpointError, VideoError
from detection.engine.faces import FaceDetector
from detection.engine.predictor import Prediction, Predictor
from detection.engine.preprocess import to_tensor
from detection.engine.tracking import FaceTracker
from tests import videos
from tests.engine import seed_reference

# How closely two correct float32 runs of the seed model agree on a fake probability. The
# Predictor and the seed's code see bit-identical input (asserted below) and differ only in the
# order their kernels sum: channels_last makes oneDNN pick other convolution kernels than
# NCHW (8.5e-6 on p here, 1.5e-5 on another CPU); PyTorch's LSTM kernel instead of oneDNN's
# adds under 1e-6; denormal flushing, thread count and batch splitting change nothing.
# Against a float64 run of the same weights (bench/seed_numerics.py) each side's per-frame p
# is off by up to 2.8e-5: its pooled features by 3.3e-5 relative, about 550 float32 roundoffs
# (2**-24), which is the sqrt(K) * eps growth of K = 256..2048-term sums over ~50 layers.
# Two correct runs may therefore differ by twice that, 5.6e-5; 1e-4 leaves room for kernels
# that sum in yet another order. Real mistakes move p by far more (BGR read as RGB: 0.42, one
# uint8 level brighter: 0.26), so this still catches any change to the pipeline.
FLOAT32_P_TOLERANCE = 1e-4


@pytest.fixture(scope="module")
def seed_predictor(seed_checkpoint):
    path, _ = seed_checkpoint
    return Predictor.from_checkpoint(path, device="cpu")


@pytest.fixture(scope="module")
def temporal_predictor(temporal_checkpoint):
    path, _, _ = temporal_checkpoint
    return Predictor.from_checkpoint(path, device="cpu")


@pytest.fixture(scope="module")
def face_result(seed_predictor, face_clip):
    stages = []
    result = seed_predictor.predict(face_clip, frames=20, progress=lambda s, f: stages.append((s, f)))
    return result, stages


def test_seed_exact_reproduces_the_seed(seed_checkpoint, seed_predictor, face_clip):
    _, reference = seed_checkpoint
    item = seed_reference.video_item(face_clip, count=20)
    (ref_class, ref_confidence), ref_probs = seed_reference.predict(reference, item)
    with torch.no_grad():
        fmap = reference.model(item[0])
        x_lstm, _ = reference.lstm(reference.avgpool(fmap).view(1, 20, 2048), None)
        ref_per_frame = torch.softmax(reference.linear1(x_lstm[0]), dim=1)[:, 0]

    result = seed_predictor.predict(face_clip, frames=20, seed_exact=True)

    # Frames, crops and the model's input are the seed's exactly: faces[0] with no margin,
    # resized and normalised the seed's way, bit for bit.
    assert result.aggregation == "last-frame" and result.strategy == "contiguous"
    assert [f.index for f in result.frames] == list(range(20))
    for frame, seed_crop in zip(result.frames, seed_reference.seed_crop_faces(face_clip), strict=True):
        assert frame.face_box == frame.box
        assert frame.box[2:] == (seed_crop.shape[1], seed_crop.shape[0])
    assert torch.equal(to_tensor([f.crop for f in result.frames], seed_predictor.preprocessing), item[0])
    # The verdict is exact: the material keeps the seed's p clear of the 0.5 threshold.
    assert abs(float(ref_probs[0]) - 0.5) > 10 * FLOAT32_P_TOLERANCE
    assert result.label == ("fake" if ref_class == 0 else "real")
    # The scores agree within float32 arithmetic.
    assert result.probability_fake == pytest.approx(float(ref_probs[0]), abs=FLOAT32_P_TOLERANCE)
    assert result.confidence * 100 == pytest.approx(ref_confidence, abs=100 * FLOAT32_P_TOLERANCE)
    assert [f.probability_fake for f in result.frames] == pytest.approx(
        ref_per_frame.tolist(), abs=FLOAT32_P_TOLERANCE
    )
    # The same LSTM output; only the head's 2048-term sums run in a batch of 20 against 1.
    assert result.frames[-1].probability_fake == pytest.approx(result.probability_fake, abs=FLOAT32_P_TOLERANCE)


def test_default_prediction_on_a_face_video(face_result, face_clip):
    result, _ = face_result
    info = video.probe(face_clip)
    sampled = video.sample_indices(info.frame_count, 20, "uniform")

    assert isinstance(result, Prediction)
    assert result.frames_requested == 20 and result.frames_decoded == 20
    assert result.frames_analysed == len(result.frames) >= 18
    assert result.frames_analysed + result.frames_without_face == 20
    assert set(f.index for f in result.frames) <= set(sampled)
    assert [f.index for f in result.frames] == sorted(f.index for f in result.frames)
    for frame in result.frames:
        assert frame.timestamp == pytest.approx(frame.index / info.fps, abs=1e-3)
        assert frame.crop.shape == (112, 112, 3) and frame.crop.dtype == np.uint8
        x, y, w, h = frame.box
        fx, fy, fw, fh = frame.face_box
        assert 0 <= x <= fx and 0 <= y <= fy and fx + fw <= x + w <= 320 and fy + fh <= y + h <= 240
        assert 0.0 <= frame.probability_fake <= 1.0
    assert result.aggregation == "mean"
    assert result.probability_fake == pytest.approx(
        np.mean([f.probability_fake for f in result.frames]), abs=1e-6
    )
    assert result.label == ("fake" if result.probability_fake >= 0.5 else "real")
    assert result.confidence == pytest.approx(max(result.probability_fake, 1 - result.probability_fake))
    assert result.video == info
    assert result.model_variant == "seed" and len(result.model_sha256) == 64 and result.device == "cpu"


def test_heatmaps_cover_the_most_suspicious_frames(face_result):
    result, _ = face_result
    ranked = sorted(result.frames, key=lambda f: -f.probability_fake)[:3]

    assert [h.frame_index for h in result.heatmaps] == [f.index for f in ranked]
    for heatmap in result.heatmaps:
        assert heatmap.overlay.shape == (112, 112, 3) and heatmap.overlay.dtype == np.uint8
        assert heatmap.cam.shape == (112, 112) and 0 <= heatmap.cam.min() <= heatmap.cam.max() <= 1


def test_timings_and_progress(face_result):
    result, stages = face_result
    t = result.timings

    assert all(value > 0 for value in (t.decode, t.faces, t.model, t.cam, t.total))
    assert t.total >= t.decode + t.faces + t.model + t.cam - 1e-6
    fractions = [f for _, f in stages]
    assert fractions == sorted(fractions) and 0 <= fractions[0] and fractions[-1] == 1.0
    order = [s for i, (s, _) in enumerate(stages) if i == 0 or stages[i - 1][0] != s]
    assert order == ["decode", "faces", "model", "cam", "done"]


def test_result_serialises_to_json(face_result):
    result, _ = face_result
    data = json.loads(json.dumps(result.to_dict()))

    assert data["label"] == result.label
    assert len(data["frames"]) == result.frames_analysed
    assert data["frames"][0]["box"] == list(result.frames[0].box)
    assert data["model"]["sha256"] == result.model_sha256
    assert data["video"]["frame_count"] == result.video.frame_count


def test_temporal_checkpoint_decides_on_the_sequence(temporal_predictor, face_clip):
    result = temporal_predictor.predict(face_clip, frames=8, strategy="contiguous", heatmaps=2)

    assert result.model_variant == "temporal" and result.aggregation == "sequence"
    assert [f.index for f in result.frames] == list(range(8))
    assert 0 <= result.probability_fake <= 1 and len(result.heatmaps) == 2


def test_small_face_in_a_portrait_video_is_judged(seed_predictor, small_face_clip):
    result = seed_predictor.predict(small_face_clip, frames=20, heatmaps=1)

    assert result.label in ("real", "fake")
    assert result.frames_analysed >= 18
    for frame in result.frames:
        _, y, w, h = frame.face_box
        assert 35 < w < 140 and 1920 * 0.2 < y + h / 2 < 1920 * 0.4  # the small face, upper middle


def test_per_frame_detector_and_sequential_decoding_remain_available(seed_checkpoint, face_clip):
    path, _ = seed_checkpoint
    old_way = Predictor.from_checkpoint(path, device="cpu", face_detector=FaceDetector(), seek=False)
    new_way = Predictor.from_checkpoint(path, device="cpu")

    before, after = old_way.predict(face_clip, frames=10), new_way.predict(face_clip, frames=10)

    assert old_way is not new_way and isinstance(new_way.faces, FaceTracker)
    assert [f.index for f in before.frames] == [f.index for f in after.frames]
    assert before.frames_analysed == after.frames_analysed == 10
    with pytest.raises(TypeError, match="not both"):
        Predictor.from_checkpoint(path, face_detector=FaceDetector(), face_tracker=FaceTracker())


def test_video_without_faces_gives_no_face(seed_predictor, no_face_clip):
    for seed_exact in (False, True):
        result = seed_predictor.predict(no_face_clip, frames=10, seed_exact=seed_exact)

        assert result.label == "no_face"
        assert result.probability_fake is None and result.confidence is None
        assert result.frames_analysed == 0 and result.frames == [] and result.heatmaps == []
        assert result.frames_without_face == result.frames_decoded == 10
        json.dumps(result.to_dict())


@pytest.mark.parametrize(
    "make",
    [
        lambda d: videos.zero_byte_file(d / "empty.mp4"),
        lambda d: videos.text_file(d / "text.mp4"),
        lambda d: videos.truncated_copy(videos.face_video(d / "src.mp4"), d / "cut.mp4"),
        lambda d: videos.corrupt_header_copy(videos.face_video(d / "src.avi", codec="mjpg"), d / "bad.avi"),
    ],
    ids=["zero-byte", "text", "truncated-mp4", "corrupt-avi"],
)
def test_unreadable_videos_raise_video_error(seed_predictor, tmp_path, make):
    with pytest.raises(VideoError):
        seed_predictor.predict(make(tmp_path))


def test_truncated_avi_is_analysed_on_what_remains(seed_predictor, tmp_path):
    source = videos.face_video(tmp_path / "full.avi", codec="mjpg", seconds=2)
    path = videos.truncated_copy(source, tmp_path / "cut.avi", 0.5)

    result = seed_predictor.predict(path, frames=20)

    assert result.video.frame_count_counted and result.video.frame_count < 50
    assert result.frames_decoded == min(20, result.video.frame_count)
    assert max(f.index for f in result.frames) < result.video.frame_count


def test_one_frame_and_rotated_videos(seed_predictor, tmp_path):
    one = seed_predictor.predict(videos.face_video(tmp_path / "one.mp4", frame_count=1))
    assert (one.frames_decoded, one.frames_analysed) == (1, 1)

    phone = seed_predictor.predict(videos.rotated_face_video(tmp_path / "phone.mp4", 90), frames=10)
    assert phone.video.rotation == 90 and phone.frames_analysed >= 9


def test_predictors_are_cached_per_file_version(seed_checkpoint, tmp_path):
    path, _ = seed_checkpoint
    copy = tmp_path / "copy.pt"
    copy.write_bytes(path.read_bytes())

    first = Predictor.from_checkpoint(copy, device="cpu")
    assert Predictor.from_checkpoint(str(copy), device="auto") is first
    stat = copy.stat()
    os.utime(copy, ns=(stat.st_atime_ns, stat.st_mtime_ns + 10**9))
    assert Predictor.from_checkpoint(copy, device="cpu") is not first


def test_bad_checkpoint_and_arguments(tmp_path, seed_predictor, face_clip):
    with pytest.raises(CheckpointError):
        Predictor.from_checkpoint(videos.text_file(tmp_path / "model.pt"))
    with pytest.raises(ValueError, match="frames"):
        seed_predictor.predict(face_clip, frames=0)
    with pytest.raises(ValueError, match="strategy"):
        seed_predictor.predict(face_clip, strategy="random")


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")
def test_cuda_matches_cpu_and_the_seed(seed_checkpoint, seed_predictor, face_clip):
    path, reference = seed_checkpoint
    gpu = Predictor.from_checkpoint(path, device="cuda")
    (_, _), ref_probs = seed_reference.predict(reference, seed_reference.video_item(face_clip, count=20))

    exact = gpu.predict(face_clip, seed_exact=True)
    on_gpu, on_cpu = gpu.predict(face_clip), seed_predictor.predict(face_clip)

    # cuDNN's kernels (TF32 off) sum in yet another order than oneDNN's.
    assert exact.probability_fake == pytest.approx(float(ref_probs[0]), abs=FLOAT32_P_TOLERANCE)
    assert [f.probability_fake for f in on_gpu.frames] == pytest.approx(
        [f.probability_fake for f in on_cpu.frames], abs=1e-4
    )
    assert len(on_gpu.heatmaps) == 3 and on_gpu.device.startswith("cuda")


def test_a_calibrated_checkpoint_softens_the_score_and_gives_a_band(temporal_checkpoint, face_clip, tmp_path):
    """The same weights with a stored temperature and thresholds: the ranking-preserving
    calibrated probability, the raw one beside it, and the band the thresholds give."""
    from detection.engine.calibration import Calibration
    from detection.engine.checkpoint import load_checkpoint, save_checkpoint

    path, _, _ = temporal_checkpoint
    plain = Predictor.from_checkpoint(path, device="cpu").predict(face_clip, frames=6, heatmaps=0)
    loaded = load_checkpoint(path)
    raw = plain.probability_fake
    calibration = Calibration(temperature=3.0, likely_at=0.99, clear_below=0.01)
    loaded.metadata.metrics = {**loaded.metadata.metrics, "calibration": calibration.to_dict()}
    save_checkpoint(loaded.model, tmp_path / "calibrated.pt", loaded.metadata)

    calibrated = Predictor.from_checkpoint(tmp_path / "calibrated.pt", device="cpu").predict(
        face_clip, frames=6, heatmaps=0)

    assert plain.raw_probability_fake == raw and plain.band == ("manipulated" if raw >= 0.5 else "no_manipulation")
    assert calibrated.raw_probability_fake == pytest.approx(raw, abs=1e-6)
    assert calibrated.probability_fake == pytest.approx(calibration.probability(raw), abs=1e-6)
    assert abs(calibrated.probability_fake - 0.5) < abs(raw - 0.5)  # T > 1 softens
    assert calibrated.band == "inconclusive"
    assert calibrated.to_dict()["band"] == "inconclusive"
