"""The detector registry notices a checkpoint file that went missing or changed, and
detector_resolve refuses such a detector with a plain message."""

import os
import shutil

import pytest

from detection import registry
from detection.models import DetectorModel
from dfdsite.errors import DetectorUnavailable, Invalid

pytestmark = pytest.mark.django_db


@pytest.fixture(scope="session")
def other_checkpoint_path(tmp_path_factory):
    """A second, different checkpoint (the registry tells checkpoints apart by their sha256):
    small random EfficientNet-Lite0 weights, written once per session."""
    import torch

    from detection.engine.checkpoint import CheckpointMetadata, save_checkpoint
    from detection.engine.model import BackboneLSTM

    path = tmp_path_factory.mktemp("other-checkpoint") / "other.pt"
    torch.manual_seed(1)
    model = BackboneLSTM(variant="temporal", hidden_size=32, backbone="efficientnet_lite0")
    metadata = CheckpointMetadata(variant="temporal", hidden_size=32, backbone="efficientnet_lite0",
                                  training_data="random weights (tests)")
    save_checkpoint(model, path, metadata, half=True)
    return path


@pytest.fixture
def other_detector(own_detector, other_checkpoint_path, settings):
    """A second detector beside own_detector, in the same models folder; not the default."""
    path = shutil.copy(other_checkpoint_path, settings.DFD_MODELS_DIR / "other.pt")
    other = registry.detector_register(path=path, name="Other")
    assert other.id != own_detector.id and not other.is_default
    return other


def test_an_untouched_checkpoint_is_ok(own_detector):
    status = registry.detector_check(own_detector)
    assert status.ok and status.state == "ok" and status.problem == ""
    assert status.file_name == "own-detector.pt"


def test_a_missing_checkpoint(own_detector, settings):
    own_detector.path.unlink()
    status = registry.detector_check(own_detector)
    assert status.state == "missing" and not status.ok
    assert "own-detector.pt is missing" in status.problem
    assert str(settings.DFD_MODELS_DIR) not in status.problem  # the name, never the folder


def test_a_changed_checkpoint_and_its_restoration(own_detector, checkpoint_path):
    original = own_detector.path.read_bytes()
    own_detector.path.write_bytes(original + b"tampered")
    status = registry.detector_check(own_detector)
    assert status.state == "changed" and "own-detector.pt has changed" in status.problem

    shutil.copy(checkpoint_path, own_detector.path)
    assert registry.detector_check(own_detector).ok


def test_a_checkpoint_replaced_by_a_folder_is_missing(own_detector):
    own_detector.path.unlink()
    own_detector.path.mkdir()
    assert registry.detector_check(own_detector).state == "missing"


def test_the_hash_is_computed_again_only_when_mtime_or_size_change(own_detector):
    path = own_detector.path
    assert registry.detector_check(own_detector).ok  # hashed and remembered
    before = path.stat()
    # The same size and modification time: the remembered hash stands (no 10 MB re-read per poll)...
    content = bytearray(path.read_bytes())
    content[-1] ^= 0xFF
    path.write_bytes(bytes(content))
    os.utime(path, ns=(before.st_atime_ns, before.st_mtime_ns))
    assert registry.detector_check(own_detector).ok
    # ...and a new modification time makes it look again.
    os.utime(path, ns=(before.st_atime_ns, before.st_mtime_ns + 1_000_000_000))
    assert registry.detector_check(own_detector).state == "changed"


def test_detector_problems_lists_only_unusable_detectors(own_detector, other_detector):
    assert registry.detector_problems() == {}
    other_detector.path.unlink()
    problems = registry.detector_problems()
    assert list(problems) == [other_detector] and problems[other_detector].state == "missing"


# --- detector_resolve ----------------------------------------------------------------------------


def test_resolve_gives_the_default_or_the_chosen_detector(own_detector, other_detector):
    assert registry.detector_get_default() == own_detector
    assert registry.detector_resolve() == own_detector
    assert registry.detector_resolve(detector_id=other_detector.id) == other_detector


@pytest.mark.parametrize("damage", ["remove", "change"])
def test_resolve_refuses_an_unusable_default_without_naming_files(own_detector, settings, damage):
    if damage == "remove":
        own_detector.path.unlink()
    else:
        own_detector.path.write_bytes(b"not the registered checkpoint")
    with pytest.raises(DetectorUnavailable) as raised:
        registry.detector_resolve()
    message = raised.value.message
    assert "detector is unavailable" in message
    for secret in ("own-detector", ".pt", str(settings.DFD_MODELS_DIR), "/"):
        assert secret not in message


def test_resolve_refuses_an_unusable_chosen_detector(own_detector, other_detector):
    other_detector.path.unlink()
    with pytest.raises(DetectorUnavailable):
        registry.detector_resolve(detector_id=other_detector.id)
    assert registry.detector_resolve() == own_detector  # the default is still fine


def test_resolve_without_any_detector(db):
    assert not DetectorModel.objects.exists()
    with pytest.raises(Invalid) as raised:
        registry.detector_resolve()
    assert raised.value.field == "detector" and "install_model" in raised.value.message


def test_resolve_an_unknown_detector(own_detector):
    with pytest.raises(Invalid) as raised:
        registry.detector_resolve(detector_id=own_detector.id + 100)
    assert raised.value.field == "detector"
