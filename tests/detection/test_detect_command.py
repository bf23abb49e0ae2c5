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


def manage(command: str, *args, var_dir: Path, **env) -> subprocess.CompletedProcess:
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "dfdsite.settings",
        "DJANGO_DEBUG": "1",
        "DFD_VAR_DIR": str(var_dir),
        # A database of its own in var_dir (none until a test migrates it), never the test run's.
        "DATABASE_URL": f"sqlite:///{var_dir}/db.sqlite3",
        **env,
    }
    return subprocess.run(
        [sys.executable, "manage.py", command, *map(str, args)],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )


def detect(*args, var_dir: Path, **env) -> subprocess.CompletedProcess:
    return manage("detect", *args, var_dir=var_dir, **env)


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


def test_a_photo_is_judged_face_by_face_and_other_images_are_refused(material, tmp_path):
    """A JPEG, PNG or WebP is judged as the site judges it: every face on its own, the most
    suspicious decides. Other images (GIF) are still refused, saying what they are, rather
    than read by OpenCV as a one-frame video without a face."""
    from tests import stills

    photo = tmp_path / "two.png"
    photo.write_bytes(stills.encode(stills.face_photo(faces=2), ".png"))
    gif = tmp_path / "anim.gif"
    gif.write_bytes(b"GIF89a" + b"\x00" * 200)
    run = detect(photo, gif, "--model", material["checkpoint"], "--json", var_dir=tmp_path / "var")
    assert run.returncode == 1, run.stdout
    judged, refused = json.loads(run.stdout)
    result = judged["result"]
    assert result["aggregation"] == "most-suspicious-face" and result["frames_analysed"] == 2
    assert result["probability_fake"] == max(face["probability_fake"] for face in result["frames"])
    assert [face["timestamp"] for face in result["frames"]] == [0.0, 0.0]
    assert refused["ok"] is False
    assert "This is a GIF image, not a video or a JPEG, PNG or WebP photo." in refused["error"]


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


@pytest.fixture
def registry_setup(material, tmp_path):
    """A migrated database whose registry holds the seed checkpoint as its default detector,
    and beside it in the models folder a newer file that is not a checkpoint at all."""
    var, models = tmp_path / "var", tmp_path / "models"
    env = {"var_dir": var, "DFD_MODELS_DIR": str(models)}
    assert manage("migrate", "--no-input", **env).returncode == 0
    installed = manage("install_model", material["checkpoint"], "--name", "seedling", **env)
    assert installed.returncode == 0, installed.stderr
    (models / "zzz-newest.pt").write_bytes(b"not a checkpoint")  # the newest file: never picked for its time
    return {"env": env, "models": models}


def test_the_registered_default_detector_is_used_and_named_ones_chosen(material, registry_setup):
    env = registry_setup["env"]
    run = detect(material["face"], "--frames", "4", **env)
    assert run.returncode == 0, run.stderr
    assert "Using the default detector seedling (seed-checkpoint.pt)." in run.stderr
    assert run.stdout.strip().splitlines()[-1].startswith("model: seed-checkpoint.pt (seed, sha256 ")

    unknown = detect(material["face"], "--detector", "nope", **env)
    assert unknown.returncode == 2
    assert "No detector 'nope'" in unknown.stderr and "seedling" in unknown.stderr

    as_path = detect(material["face"], "--detector", registry_setup["models"] / "zzz-newest.pt", **env)
    assert as_path.returncode == 2 and "not a PyTorch checkpoint" in as_path.stderr  # a path, taken as given


def test_a_missing_or_changed_registered_checkpoint_is_refused(material, registry_setup):
    env = registry_setup["env"]
    checkpoint = registry_setup["models"] / "seed-checkpoint.pt"
    with open(checkpoint, "ab") as handle:
        handle.write(b"appended")
    changed = detect(material["face"], **env)
    assert changed.returncode == 2, changed.stderr
    assert "The detector seedling cannot be used." in changed.stderr
    assert "The checkpoint file seed-checkpoint.pt has changed" in changed.stderr

    checkpoint.unlink()
    missing = detect(material["face"], "--detector", "seedling", **env)
    assert missing.returncode == 2
    assert "The checkpoint file seed-checkpoint.pt is missing" in missing.stderr
    assert "Traceback" not in missing.stderr + changed.stderr


def test_several_unregistered_checkpoints_are_not_chosen_by_their_time(material, tmp_path):
    models = tmp_path / "models"
    models.mkdir()
    (models / "a.pt").symlink_to(material["checkpoint"])
    (models / "b.pt").symlink_to(material["checkpoint"])

    run = detect(material["face"], "--models-dir", models, var_dir=tmp_path / "var")

    assert run.returncode == 2
    assert "2 checkpoints in" in run.stderr and "a.pt, b.pt" in run.stderr and "--detector PATH" in run.stderr


def test_without_a_database_the_models_folder_decides(material, tmp_path):
    empty = tmp_path / "models"
    empty.mkdir()
    env = {"var_dir": tmp_path / "var", "DFD_MODELS_DIR": str(empty)}  # var/ has no database

    nothing = detect(material["face"], **env)
    assert nothing.returncode == 2 and f"No detector model found in {empty}" in nothing.stderr

    by_name = detect(material["face"], "--detector", "seedling", **env)
    assert by_name.returncode == 2
    assert "Cannot look up the detector 'seedling' without the database" in by_name.stderr
    assert "Traceback" not in nothing.stderr + by_name.stderr
