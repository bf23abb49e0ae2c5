"""manage.py train_model / evaluate_model: thin wrappers over the engine, on a tiny dataset
built at test time (the real EfficientNet-Lite0 backbone, a couple of steps on the CPU)."""

import shutil

import pytest
from django.core.management import CommandError, call_command

from detection.engine.checkpoint import file_sha256, load_checkpoint
from detection.management.commands import evaluate_model, train_model
from detection.models import DetectorModel

pytestmark = pytest.mark.django_db


@pytest.fixture
def models_dir(settings, tmp_path):
    settings.DFD_MODELS_DIR = tmp_path / "models"
    settings.DFD_MODELS_DIR.mkdir()
    return settings.DFD_MODELS_DIR


@pytest.fixture(scope="module")
def trained_run(tiny_deepfake_dataset, tmp_path_factory, tiny_face_cache):
    out = tmp_path_factory.mktemp("train-command")
    call_command(
        "train_model", "--data", str(tiny_deepfake_dataset), "--out", str(out / "run"),
        "--cache-dir", str(tiny_face_cache), "--backbone", "efficientnet_lite0", "--hidden-size", "8",
        "--input-size", "64", "--cache-size", "72", "--video-frames", "6", "--frame-epochs", "1", "--sequence-epochs", "1", "--epoch-samples", "8",
        "--batch-size", "4", "--max-steps", "2", "--sequence-length", "3", "--device", "cpu", "--no-progress",
        "--export", str(out / "tiny-lite0.pt"), verbosity=0,
    )
    return out


def test_help_describes_both_commands():
    train_help = train_model.Command().create_parser("manage.py", "train_model").format_help()
    assert "--backbone-weights" in train_help and "--resume" in train_help and "self-blended" in train_help
    evaluate_help = evaluate_model.Command().create_parser("manage.py", "evaluate_model").format_help()
    assert "--split" in evaluate_help and "--no-update" in evaluate_help


def test_train_model_writes_checkpoints_and_curves(trained_run):
    run = trained_run / "run"
    for name in ("best.pt", "last.pt", "state.pt", "curves.png", "history.json"):
        assert (run / name).is_file()
    assert load_checkpoint(trained_run / "tiny-lite0.pt").metadata.backbone == "efficientnet_lite0"


def test_scan_registers_the_exported_detector(models_dir, trained_run, capsys):
    shutil.copy(trained_run / "tiny-lite0.pt", models_dir / "tiny-lite0.pt")
    call_command("install_model", "--scan")
    detector = DetectorModel.objects.get()
    assert (detector.name, detector.backbone, detector.variant) == ("tiny-lite0", "efficientnet_lite0", "temporal")
    assert detector.sha256 == file_sha256(models_dir / "tiny-lite0.pt")


def test_evaluate_model_stores_metrics_and_updates_the_detector(
    models_dir, trained_run, tiny_deepfake_dataset, tiny_face_cache, tmp_path, capsys
):
    path = models_dir / "tiny-lite0.pt"
    shutil.copy(trained_run / "tiny-lite0.pt", path)
    call_command("install_model", str(path), "--name", "Tiny", "--default")
    before = DetectorModel.objects.get()

    call_command("evaluate_model", str(path), "--data", str(tiny_deepfake_dataset), "--split", "all",
                 "--cache-dir", str(tiny_face_cache), "--device", "cpu", "--out", str(tmp_path / "report"))

    detector = DetectorModel.objects.get()  # the same row, not a second one
    assert detector.pk == before.pk and detector.name == "Tiny" and detector.is_default
    assert detector.sha256 == file_sha256(path) != before.sha256
    metrics = detector.metrics
    assert metrics["samples"] == 10  # 3 + 3 videos, 2 + 2 stills (each its own source video)
    assert set(metrics["confusion"]) == {"tp", "fp", "fn", "tn"}
    assert sum(metrics["confusion"].values()) == 10
    assert "tiny-deepfakes" in next(iter(metrics["by_source"]))
    assert {"none"} <= set(metrics["by_method"])
    assert load_checkpoint(path).metadata.metrics["roc_auc"] == metrics["roc_auc"]
    assert (tmp_path / "report" / "report.json").is_file() and (tmp_path / "report" / "roc.png").is_file()
    assert "updated detector Tiny" in capsys.readouterr().out


def test_evaluate_model_no_update_leaves_the_file_alone(models_dir, trained_run, tiny_deepfake_dataset,
                                                        tiny_face_cache):
    path = models_dir / "tiny-lite0.pt"
    shutil.copy(trained_run / "tiny-lite0.pt", path)
    sha = file_sha256(path)
    call_command("evaluate_model", str(path), "--data", str(tiny_deepfake_dataset), "--split", "all",
                 "--cache-dir", str(tiny_face_cache), "--device", "cpu", "--no-update")
    assert file_sha256(path) == sha


def test_clear_errors(tmp_path, tiny_deepfake_dataset):
    with pytest.raises(CommandError, match="No checkpoint file"):
        call_command("evaluate_model", str(tmp_path / "missing.pt"), "--data", str(tiny_deepfake_dataset))
    with pytest.raises(CommandError, match="no dataset folder"):
        call_command("train_model", "--data", str(tmp_path / "nowhere"), "--out", str(tmp_path / "o"),
                     "--no-progress", "--backbone", "efficientnet_lite0")


def test_the_committed_default_detector_registers(models_dir, settings):
    from pathlib import Path

    committed = Path(settings.BASE_DIR) / "models" / "dfd-efficientnet-lite0-v1.pt"
    if not committed.is_file():
        pytest.skip(f"{committed.name} is not in models/ (not committed here)")
    shutil.copy(committed, models_dir / committed.name)
    call_command("install_model", "--scan")
    detector = DetectorModel.objects.get()
    assert (detector.name, detector.backbone, detector.is_default) == ("dfd-efficientnet-lite0-v1",
                                                                       "efficientnet_lite0", True)
    assert detector.metrics["roc_auc"] is not None and detector.metrics["by_source"]
    # and by path, under a chosen name
    call_command("install_model", str(models_dir / committed.name), "--name", "Default detector", "--default")
    assert DetectorModel.objects.get().name == "Default detector"
