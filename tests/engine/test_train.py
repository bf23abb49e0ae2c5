"""Training end to end on a tiny dataset built at test time, with the real EfficientNet-Lite0
backbone, on the CPU: a few steps, the loss goes down, checkpoints round-trip, resume works."""

import json

import numpy as np
import pytest
import torch

from detection.engine import train as tr
from detection.engine.augment import AugmentSettings
from detection.engine.checkpoint import load_checkpoint
from detection.engine.datasets import grouped_split, load_samples

NO_AUGMENT = AugmentSettings(output_size=64, crop_scale=(1.0, 1.0), flip=0.0, jpeg=0.0, blur=0.0, rescale=0.0,
                             noise=0.0, colour=0.0)


def tiny_config(data, out, cache, **overrides) -> tr.TrainConfig:
    values = dict(
        data=[str(data)], out_dir=str(out), cache_dir=str(cache), backbone="efficientnet_lite0",
        hidden_size=16, input_size=64, cache_size=72, video_frames=6, sequence_length=4,
        frame_epochs=4, sequence_epochs=1, epoch_samples=16, batch_size=8, lr=2e-3, backbone_lr=1e-3,
        warmup_steps=1, self_blend=0.0, val_fraction=0.3, views_per_image=2, device="cpu",
        progress=False, augment=NO_AUGMENT,
    )
    values.update(overrides)
    return tr.TrainConfig(**values)


@pytest.fixture(scope="module")
def cache_dir(tiny_face_cache):
    return tiny_face_cache


def test_dataset_layout_and_grouped_split(tiny_deepfake_dataset):
    samples = load_samples(tiny_deepfake_dataset)
    assert {(s.label, s.kind) for s in samples} == {("real", "video"), ("real", "image"), ("fake", "video"),
                                                    ("fake", "image")}
    train, val = grouped_split(samples, 0.3, seed=0)
    assert train and val
    assert not {s.group for s in train} & {s.group for s in val}
    assert grouped_split(samples, 0.3, seed=0) == (train, val)  # deterministic


@pytest.fixture(scope="module")
def trained(tiny_deepfake_dataset, tmp_path_factory, cache_dir):
    torch.manual_seed(0)
    out = tmp_path_factory.mktemp("run")
    config = tiny_config(tiny_deepfake_dataset, out, cache_dir)
    result = tr.train(config)
    return config, result, out


def test_training_runs_and_the_loss_goes_down(trained):
    _, result, out = trained
    history = result["history"]
    frames = [h for h in history if h["stage"] == "frames"]
    assert [h["epoch"] for h in frames] == [1, 2, 3, 4]
    assert [h["stage"] for h in history][-1] == "sequence"
    assert frames[-1]["train_loss"] < frames[0]["train_loss"]
    assert all(np.isfinite(h["train_loss"]) for h in history)
    assert json.loads((out / "history.json").read_text()) == history
    assert (out / "curves.png").read_bytes()[:4] == b"\x89PNG"


def test_checkpoint_round_trips_with_its_metadata(trained):
    config, result, out = trained
    for name in ("best.pt", "last.pt"):
        loaded = load_checkpoint(out / name)
        meta = loaded.metadata
        assert (meta.variant, meta.backbone, meta.hidden_size, meta.input_size) == (
            "temporal", "efficientnet_lite0", 16, 64)
        assert meta.channel_order == "RGB"
        assert meta.normalisation["mean"] == pytest.approx([127 / 255] * 3)
        assert "ImageNet-pretrained" in meta.training_data
        assert meta.metrics["training"]["backbone"] == "efficientnet_lite0"
        assert 0.0 <= meta.metrics["val_auc"] <= 1.0
    best = load_checkpoint(out / "best.pt").metadata.metrics["val_auc"]
    assert best == pytest.approx(result["best_auc"])
    # the loaded model gives the same outputs as the trained one in the last checkpoint
    last = load_checkpoint(out / "last.pt").model
    again = load_checkpoint(out / "last.pt").model
    x = torch.randn(1, 3, 3, 64, 64)
    with torch.no_grad():
        assert torch.equal(last(x), again(x))


def test_a_resumed_run_continues_where_it_stopped(tiny_deepfake_dataset, tmp_path, cache_dir):
    out = tmp_path / "run"
    first = tr.train(tiny_config(tiny_deepfake_dataset, out, cache_dir, frame_epochs=1, sequence_epochs=0,
                                 epoch_samples=8))
    assert [h["epoch"] for h in first["history"]] == [1]
    state = torch.load(out / "state.pt", weights_only=True)
    assert (state["stage"], state["epoch"], state["step"]) == ("frames", 1, 1)

    run = tr.Run(tiny_config(tiny_deepfake_dataset, out, cache_dir, frame_epochs=2, sequence_epochs=0,
                             epoch_samples=8))
    assert run.resume()
    assert (run.epoch, run.step) == (1, 1)
    weights = {k: v.clone() for k, v in run.model.state_dict().items()}
    saved = torch.load(out / "state.pt", weights_only=True)["model"]
    assert all(torch.equal(weights[k].cpu(), saved[k]) for k in saved)

    second = tr.train(tiny_config(tiny_deepfake_dataset, out, cache_dir, frame_epochs=2, sequence_epochs=0,
                                  epoch_samples=8), resume=True)
    assert [h["epoch"] for h in second["history"]] == [1, 2]
    assert second["history"][0] == first["history"][0]  # epoch 1 was not run again
    assert torch.load(out / "state.pt", weights_only=True)["step"] == 2


def test_resume_refuses_another_architecture(tiny_deepfake_dataset, tmp_path, cache_dir):
    out = tmp_path / "run"
    tr.train(tiny_config(tiny_deepfake_dataset, out, cache_dir, frame_epochs=1, sequence_epochs=0, epoch_samples=8))
    with pytest.raises(ValueError, match="hidden_size"):
        tr.train(tiny_config(tiny_deepfake_dataset, out, cache_dir, hidden_size=8, frame_epochs=2,
                             sequence_epochs=0), resume=True)


def test_command_line_smoke(tiny_deepfake_dataset, tmp_path, cache_dir):
    code = tr.main([
        "--data", str(tiny_deepfake_dataset), "--out", str(tmp_path / "cli"), "--cache-dir", str(cache_dir),
        "--backbone", "efficientnet_lite0", "--hidden-size", "8", "--input-size", "64", "--frame-epochs", "1",
        "--sequence-epochs", "1", "--epoch-samples", "8", "--batch-size", "4", "--max-steps", "1",
        "--sequence-length", "3", "--cache-size", "72", "--video-frames", "6", "--no-progress",
        "--export", str(tmp_path / "exported.pt"), "--device", "cpu",
    ])
    assert code == 0
    exported = load_checkpoint(tmp_path / "exported.pt")
    payload = torch.load(tmp_path / "exported.pt", weights_only=True)
    assert payload["storage_dtype"] == "float16"
    assert exported.metadata.hidden_size == 8


def test_missing_data_is_a_clear_error(tmp_path):
    assert tr.main(["--data", str(tmp_path / "nowhere"), "--out", str(tmp_path / "o"), "--no-progress"]) == 2


def test_calibration_is_fitted_on_one_half_reported_on_the_other_and_stored(trained, tiny_deepfake_dataset,
                                                                             cache_dir, tmp_path):
    import shutil

    from detection.engine.calibrate import calibrate_checkpoint
    from detection.engine.calibration import Calibration
    from detection.engine.datasets import halves

    config, _, out = trained
    checkpoint = tmp_path / "best.pt"
    shutil.copy(out / "best.pt", checkpoint)
    samples = load_samples(tiny_deepfake_dataset)
    fit_on, test_on = halves(samples)
    assert fit_on and test_on and not {s.group for s in fit_on} & {s.group for s in test_on}

    result = calibrate_checkpoint(checkpoint, config.data, cache_dir=str(cache_dir), device="cpu",
                                  out_dir=tmp_path / "report", update_checkpoint=True, progress=False)
    calibration = Calibration.from_dict(result["calibration"])
    assert calibration.temperature > 0 and 0 <= calibration.clear_below <= calibration.likely_at <= 1
    test = result["test_half"]
    assert test["videos"] >= 1 and 0 <= test["ece_after"] <= 1
    assert all(len(source["auc_95"]) == 2 for source in test["per_source"].values())
    assert sum(test["bands"][band]["count"] for band in ("manipulated", "inconclusive", "no_manipulation")) == (
        test["videos"])
    stored = load_checkpoint(checkpoint).metadata.metrics
    assert Calibration.from_dict(stored["calibration"]) == calibration
    assert stored["training"] == load_checkpoint(out / "best.pt").metadata.metrics["training"]
    assert json.loads((tmp_path / "report" / "calibration.json").read_text())["calibration"] == result["calibration"]


def test_compare_builds_an_ensemble_on_validation_and_reports_test_per_compression(trained, cache_dir, tmp_path):
    import shutil

    from detection.engine import compare
    from detection.engine.detector import load_detector

    config, _, out = trained
    folder = tmp_path / "models"
    folder.mkdir()
    first, second = shutil.copy(out / "best.pt", folder / "first.pt"), shutil.copy(out / "last.pt", folder / "second.pt")
    manifest = folder / "pair.json"
    code = compare.main([str(first), str(second), "--data", config.data[0], "--cache-dir", str(cache_dir),
                         "--device", "cpu", "--out", str(tmp_path / "report"), "--ensemble", str(manifest)])
    assert code == 0
    result = json.loads((tmp_path / "report" / "compare.json").read_text())
    assert list(result["table"]) == ["as uploaded", "H.264 c23", "H.264 c40"]
    for by_name in result["table"].values():
        assert list(by_name) == ["first", "second", "ensemble"]
        assert all(len(figures["overall"]["auc_95"]) == 2 for figures in by_name.values())
    assert "| H.264 c40 | ensemble |" in (tmp_path / "report" / "compare.md").read_text()
    # what a choice may look at: each detector's AUC on the validation half, per compression
    assert list(result["validation_auc"]) == list(result["table"])
    assert all(set(by_name) == {"first", "second"} for by_name in result["validation_auc"].values())
    best = result["choice"]["candidates"][0]
    assert result["choice"]["criterion"] == "method_balanced_auc" and best["weights"] == result["weights"]
    ensemble = load_detector(manifest, device="cpu")
    assert [w for w in result["weights"] if w > 0] == ensemble.weights
    assert ensemble.calibration.to_dict()["temperature"] == result["calibration"]["temperature"]


def test_method_balanced_auc_counts_each_kind_of_fake_the_same():
    from detection.engine.compare import method_balanced_auc

    # 4 reals; method A's 3 fakes are all caught (AUC 1), method B's one fake ranks below every real (AUC 0)
    labels = [0, 0, 0, 0, 1, 1, 1, 1]
    probabilities = [0.1, 0.2, 0.3, 0.4, 0.9, 0.8, 0.7, 0.05]
    methods = ["none"] * 4 + ["A", "A", "A", "B"]
    assert method_balanced_auc(labels, probabilities, methods) == pytest.approx(0.5)  # pooled AUC would be 0.75


def test_fine_tuning_starts_from_a_checkpoint_of_the_same_architecture(trained, tiny_deepfake_dataset, tmp_path,
                                                                       cache_dir):
    config, _, out = trained
    start = load_checkpoint(out / "best.pt")
    tuned = tiny_config(tiny_deepfake_dataset, tmp_path / "tuned", cache_dir, init_from=str(out / "best.pt"),
                        frame_epochs=1, sequence_epochs=0, max_steps=1, lr=0.0, backbone_lr=0.0)
    model, pretrained = tr.build(tuned)
    assert pretrained
    for name, value in start.model.state_dict().items():
        assert torch.equal(model.state_dict()[name], value), name
    other = tiny_config(tiny_deepfake_dataset, tmp_path / "other", cache_dir, init_from=str(out / "best.pt"),
                        hidden_size=8)
    with pytest.raises(ValueError, match="not"):
        tr.build(other)
