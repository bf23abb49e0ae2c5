"""manage.py install_model: files, hashes, seed and own checkpoints, downloads from a real
local HTTP server (with Range support), interrupted and resumed."""

import hashlib
import shutil
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
import torch
from django.core.management import CommandError, call_command

from detection.engine.model import BackboneLSTM
from detection.models import DetectorModel

pytestmark = pytest.mark.django_db


@pytest.fixture
def models_dir(settings, tmp_path):
    settings.DFD_MODELS_DIR = tmp_path / "models"
    return settings.DFD_MODELS_DIR


@pytest.fixture(scope="session")
def seed_checkpoint_file(tmp_path_factory):
    """A bare state_dict with the published seed layout (random weights)."""
    path = tmp_path_factory.mktemp("seed") / "checkpoint.pt"
    torch.manual_seed(1)
    torch.save(BackboneLSTM(variant="seed").state_dict(), path)
    return path


@pytest.fixture
def own_checkpoint_file(checkpoint_path, tmp_path):
    return shutil.copy(checkpoint_path, tmp_path / "ours.pt")


def sha256_of(path) -> str:
    return hashlib.sha256(open(path, "rb").read()).hexdigest()


def test_installs_our_checkpoint_with_its_metadata(models_dir, own_checkpoint_file, capsys):
    call_command("install_model", str(own_checkpoint_file), "--name", "Ours", "--sha256", sha256_of(own_checkpoint_file))
    detector = DetectorModel.objects.get()
    assert (detector.name, detector.variant, detector.file, detector.is_default) == ("Ours", "temporal", "ours.pt", True)
    assert detector.sha256 == sha256_of(models_dir / "ours.pt")
    assert detector.training_data == "random weights (tests)"
    assert detector.metadata["hidden_size"] == 32
    assert "installed Ours (default)" in capsys.readouterr().out
    # Installing the same file again updates the same record.
    call_command("install_model", str(own_checkpoint_file))
    assert DetectorModel.objects.count() == 1


def test_installs_the_seed_checkpoint_unchanged(models_dir, seed_checkpoint_file, own_checkpoint_file):
    call_command("install_model", str(own_checkpoint_file))
    call_command("install_model", str(seed_checkpoint_file), "--name", "Seed", "--default")
    seed = DetectorModel.objects.get(name="Seed")
    assert (seed.variant, seed.metadata["format"], seed.is_default) == ("seed", "seed-state-dict", True)
    assert sha256_of(models_dir / "checkpoint.pt") == sha256_of(seed_checkpoint_file)  # byte for byte
    assert DetectorModel.objects.filter(is_default=True).count() == 1


def test_wrong_hash_is_refused(models_dir, own_checkpoint_file):
    with pytest.raises(CommandError, match="not the expected 0000"):
        call_command("install_model", str(own_checkpoint_file), "--sha256", "0" * 64)
    assert not DetectorModel.objects.exists()
    assert not models_dir.exists() or list(models_dir.iterdir()) == []


@pytest.mark.parametrize("content", [b"this is not a checkpoint\n", b"\x00" * 1000])
def test_non_checkpoint_file_is_refused(models_dir, tmp_path, content):
    bogus = tmp_path / "bogus.pt"
    bogus.write_bytes(content)
    with pytest.raises(CommandError, match="not a usable checkpoint"):
        call_command("install_model", str(bogus))
    assert not DetectorModel.objects.exists() and not (models_dir / "bogus.pt").exists()


def _truncated_zip(path, own_checkpoint_file):
    data = Path(own_checkpoint_file).read_bytes()
    path.write_bytes(data[: len(data) // 2])  # what an interrupted copy leaves


@pytest.mark.parametrize("make, says", [
    (lambda p, ours: p.write_bytes(bytes(range(256)) * 40),
     "is not a PyTorch checkpoint: it is neither a zip archive (what torch.save writes) nor a pickle"),
    (lambda p, ours: p.write_text("model weights go here\n" * 10),
     "is not a PyTorch checkpoint: it is a text file, starting 'model weights go here"),
    (lambda p, ours: p.write_text("<!DOCTYPE html><html><body>Not Found</body></html>"),
     "it is a text file (an error page saved instead of the file?)"),
    (_truncated_zip,
     "is a zip archive, but not a complete PyTorch checkpoint: it is damaged, cut short (an interrupted download?)"),
], ids=["random-bytes", "text", "html-page", "malformed-zip"])
def test_a_file_that_is_no_checkpoint_is_named_for_what_it_is(models_dir, tmp_path, own_checkpoint_file, make, says):
    """Finding 10: random bytes were said to hold "Python objects that could only be loaded by
    running code", a text file got just "(101)", a cut zip PyTorch's "(Could this error
    message be improved?...)"."""
    bogus = tmp_path / "model.pt"
    make(bogus, own_checkpoint_file)
    with pytest.raises(CommandError) as refused:
        call_command("install_model", str(bogus))
    message = str(refused.value)
    assert says in message
    for misleading in ("running code", "(101)", "Could this error message be improved", "miniz"):
        assert misleading not in message
    assert not DetectorModel.objects.exists() and not (models_dir / "model.pt").exists()


def test_missing_file_and_missing_argument(models_dir, tmp_path):
    with pytest.raises(CommandError, match="No such file"):
        call_command("install_model", str(tmp_path / "nope.pt"))
    with pytest.raises(CommandError, match="or --scan"):
        call_command("install_model")


def test_scan_registers_what_lies_in_the_models_folder(models_dir, own_checkpoint_file, capsys):
    models_dir.mkdir()
    shutil.copy(own_checkpoint_file, models_dir / "found.pt")
    (models_dir / "broken.pt").write_bytes(b"nope")
    call_command("install_model", "--scan")
    captured = capsys.readouterr()
    assert "registered found" in captured.out and "skipped broken.pt" in captured.err
    assert list(DetectorModel.objects.values_list("name", flat=True)) == ["found"]
    (models_dir / "broken.pt").unlink()
    call_command("install_model", "--scan")
    assert "nothing new" in capsys.readouterr().out


def test_scan_warns_about_detectors_whose_file_is_missing_or_changed(models_dir, own_checkpoint_file,
                                                                     seed_checkpoint_file, capsys):
    call_command("install_model", str(own_checkpoint_file), "--name", "Ours")
    call_command("install_model", str(seed_checkpoint_file), "--name", "Seed")
    capsys.readouterr()
    call_command("install_model", "--scan")
    assert "WARNING" not in capsys.readouterr().err

    (models_dir / "ours.pt").unlink()
    # Cut short, it no longer loads: a scan cannot register it again, and says why.
    (models_dir / "checkpoint.pt").write_bytes((models_dir / "checkpoint.pt").read_bytes()[:-10])
    call_command("install_model", "--scan")
    err = capsys.readouterr().err
    assert ("WARNING: detector Ours (the default: new analyses are refused until this is fixed) "
            "is unavailable. The checkpoint file ours.pt is missing") in err
    assert "WARNING: detector Seed is unavailable. The checkpoint file checkpoint.pt has changed" in err
    assert str(models_dir) not in err


class FileServer:
    """Serves one file with Range support; can cut the first response short."""

    def __init__(self, payload: bytes, cut_after: int | None = None):
        server = self
        self.payload, self.cut_after, self.requests = payload, cut_after, []

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def do_GET(self):
                server.requests.append(self.headers.get("Range"))
                start = 0
                if self.headers.get("Range"):
                    start = int(self.headers["Range"].split("=")[1].split("-")[0])
                    self.send_response(206)
                    self.send_header("Content-Range", f"bytes {start}-{len(server.payload) - 1}/{len(server.payload)}")
                else:
                    self.send_response(200)
                body = server.payload[start:]
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                if server.cut_after is not None:
                    cut, server.cut_after = server.cut_after, None
                    self.wfile.write(body[:cut])
                    self.wfile.flush()
                    self.connection.shutdown(2)  # the connection drops mid-file
                    return
                self.wfile.write(body)

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_port}/models/ours.pt"
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()

    def close(self):
        self.httpd.shutdown()
        self.httpd.server_close()


def test_download_from_a_local_server(models_dir, own_checkpoint_file, capsys):
    server = FileServer(own_checkpoint_file.read_bytes())
    try:
        call_command("install_model", server.url, "--sha256", sha256_of(own_checkpoint_file))
    finally:
        server.close()
    detector = DetectorModel.objects.get()
    assert detector.file == "ours.pt" and detector.sha256 == sha256_of(own_checkpoint_file)
    assert "100.0%" in capsys.readouterr().err
    assert list((models_dir / ".downloads").iterdir()) == []


def test_interrupted_download_is_not_registered_and_resumes(models_dir, own_checkpoint_file):
    payload = own_checkpoint_file.read_bytes()
    server = FileServer(payload, cut_after=len(payload) // 3)
    try:
        with pytest.raises(CommandError, match="run the same command again to resume"):
            call_command("install_model", server.url)
        assert not DetectorModel.objects.exists() and not (models_dir / "ours.pt").exists()
        partial = models_dir / ".downloads" / "ours.pt.part"
        assert partial.stat().st_size == len(payload) // 3

        call_command("install_model", server.url, "--sha256", sha256_of(own_checkpoint_file))
    finally:
        server.close()
    assert server.requests == [None, f"bytes={len(payload) // 3}-"]  # the second asked only for the rest
    assert DetectorModel.objects.get().sha256 == sha256_of(own_checkpoint_file)
    assert not partial.exists()


def test_download_of_a_wrong_file_leaves_nothing(models_dir):
    server = FileServer(b"<html>not found page</html>")
    try:
        with pytest.raises(CommandError, match="not a usable checkpoint"):
            call_command("install_model", server.url)
    finally:
        server.close()
    assert not DetectorModel.objects.exists()
    assert [p for p in models_dir.rglob("*") if p.is_file()] == []


def test_scan_registers_again_in_place_a_checkpoint_updated_under_the_same_name(models_dir, own_checkpoint_file,
                                                                                capsys):
    from detection.engine.checkpoint import load_checkpoint, save_checkpoint

    call_command("install_model", str(own_checkpoint_file), "--name", "Ours")
    before = DetectorModel.objects.get()
    loaded = load_checkpoint(models_dir / "ours.pt")
    loaded.metadata.metrics = {"calibration": {"temperature": 1.5, "likely_at": 0.8, "clear_below": 0.3}}
    save_checkpoint(loaded.model, models_dir / "ours.pt", loaded.metadata)  # what a `git pull` could bring
    capsys.readouterr()

    call_command("install_model", "--scan")

    after = DetectorModel.objects.get()
    assert (after.id, after.name, after.is_default) == (before.id, "Ours", True)
    assert after.sha256 == sha256_of(models_dir / "ours.pt") != before.sha256
    assert after.metrics["calibration"]["temperature"] == 1.5
    captured = capsys.readouterr()
    assert "updated Ours: its file ours.pt changed" in captured.out and "WARNING" not in captured.err
