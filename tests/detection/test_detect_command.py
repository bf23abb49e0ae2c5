"""`manage.py detect` end to end, in a subprocess, as a person would run it."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests import videos
from tests.engine import seed_reference

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def material(tmp_path_factory):
    folder = tmp_path_factory.mktemp("detect-command")
    checkpoint = folder / "seed-checkpoint.pt"
    seed_reference.write_seed_checkpoint(checkpoint)
    return {
        "folder": folder,
        "checkpoint": checkpoint,
        "face": videos.face_video(folder / "face.mp4", seconds=1.0),
        "text": videos.text_file(folder / "notes.mp4"),
    }


def detect(*args, var_dir: Path) -> subprocess.CompletedProcess:
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "dfdsite.settings",
        "DJANGO_DEBUG": "1",
        "DFD_VAR_DIR": str(var_dir),
    }
    return subprocess.run(
        [sys.executable, "manage.py", "detect", *map(str, args)],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )


def test_json_output_and_a_bad_file(material, tmp_path):
    crops = tmp_path / "crops"

    run = detect(
        material["face"],
        material["text"],
        "--model",
        material["checkpoint"],
        "--frames",
        "6",
        "--json",
        "--save-crops",
        crops,
        var_dir=tmp_path / "var",
    )

    assert run.returncode == 1, run.stderr
    good, bad = json.loads(run.stdout)
    assert good["ok"] is True and good["error"] is None
    result = good["result"]
    assert result["label"] in ("real", "fake")
    assert 0 <= result["probability_fake"] <= 1
    assert result["frames_requested"] == 6 and result["frames_analysed"] >= 5
    assert result["strategy"] == "uniform" and result["aggregation"] == "mean"
    assert result["model"]["id"] == "seed-checkpoint.pt" and result["model"]["variant"] == "seed"
    assert [f["index"] for f in result["frames"]] == sorted(f["index"] for f in result["frames"])
    assert bad == {"video": str(material["text"]), "ok": False, "error": bad["error"], "result": None}
    assert "could not be opened as a video" in bad["error"]
    assert "faces" in run.stderr and "1 of 2 videos could not be analysed" in run.stderr

    saved = crops / "01-face"
    assert len(list(saved.glob("frame-*.png"))) == result["frames_analysed"]
    assert len(list(saved.glob("heatmap-*.png"))) == 3


def test_table_output_with_the_model_found_in_the_models_folder(material, tmp_path):
    models = tmp_path / "models"
    models.mkdir()
    (models / "detector.pt").symlink_to(material["checkpoint"])

    run = detect(
        material["face"], "--models-dir", models, "--frames", "4", "--seed-exact", var_dir=tmp_path / "var"
    )

    assert run.returncode == 0, run.stderr
    header, row, model_line = run.stdout.strip().splitlines()
    assert header.split() == ["VIDEO", "VERDICT", "P(FAKE)", "CONFIDENCE", "FRAMES", "NO", "FACE", "SECONDS"]
    assert row.split()[0] == "face.mp4" and row.split()[1] in ("REAL", "FAKE")
    assert row.split()[4] == "4/4"
    assert model_line.startswith("model: detector.pt (seed, sha256 ")


def test_no_model_says_how_to_install_one(material, tmp_path):
    empty = tmp_path / "no-models"
    empty.mkdir()

    run = detect(material["face"], "--models-dir", empty, var_dir=tmp_path / "var")

    assert run.returncode == 2
    assert "No detector model found" in run.stderr
    assert "python manage.py install_model PATH_OR_URL" in run.stderr and "--model PATH" in run.stderr
    assert run.stdout == ""


def test_unusable_model_file(material, tmp_path):
    run = detect(material["face"], "--model", material["text"], var_dir=tmp_path / "var")

    assert run.returncode == 2
    assert "not a PyTorch checkpoint" in run.stderr
    assert "Traceback" not in run.stderr
