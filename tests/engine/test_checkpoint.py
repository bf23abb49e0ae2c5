import hashlib
from collections import OrderedDict
from dataclasses import asdict, replace

import numpy as np
import pytest
import torch

from detection.engine import checkpoint as ckpt
from detection.engine.checkpoint import CheckpointMetadata, load_checkpoint, save_checkpoint
from detection.engine.errors import CheckpointError
from detection.engine.model import BackboneLSTM
from tests import videos


class NotAllowed:
    """Pickled by reference: weights_only loading must refuse it."""


def sha256_of(path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


@pytest.fixture(scope="module")
def seed_state(seed_checkpoint):
    path, _ = seed_checkpoint
    return torch.load(path, map_location="cpu", weights_only=True)


def test_seed_state_dict_loads_unchanged_with_strict_keys(seed_checkpoint, seed_state, monkeypatch):
    path, reference = seed_checkpoint
    calls = []
    real_load = torch.load
    monkeypatch.setattr(torch, "load", lambda *a, **kw: calls.append(kw) or real_load(*a, **kw))

    loaded = load_checkpoint(path)

    assert calls == [{"map_location": "cpu", "weights_only": True}]
    assert loaded.format == "seed-state-dict"
    assert loaded.model.variant == "seed" and not loaded.model.training
    assert loaded.sha256 == sha256_of(path)
    state = loaded.model.state_dict()
    assert list(state) == list(reference.state_dict())
    assert all(torch.equal(state[k], seed_state[k]) for k in seed_state)
    meta = loaded.metadata
    assert (meta.variant, meta.input_size, meta.channel_order, meta.class_order) == (
        "seed",
        112,
        "BGR",
        ["fake", "real"],
    )
    assert meta.normalisation == {"mean": [0.485, 0.456, 0.406], "std": [0.229, 0.224, 0.225]}


def test_own_format_round_trip(temporal_checkpoint, temporal_metadata):
    path, model, sha256 = temporal_checkpoint

    loaded = load_checkpoint(path)

    assert loaded.format == "dfd-checkpoint"
    assert loaded.sha256 == sha256 == sha256_of(path)
    expected = asdict(temporal_metadata)
    got = asdict(loaded.metadata)
    assert got.pop("created") and expected.pop("created") == ""
    assert got == expected
    assert loaded.model.variant == "temporal" and loaded.model.hidden_size == 64
    original = model.state_dict()
    assert all(torch.equal(v, original[k]) for k, v in loaded.model.state_dict().items())
    assert loaded.metadata.preprocessing().channel_order == "RGB"


def test_saved_file_is_self_describing(temporal_checkpoint):
    path, _, _ = temporal_checkpoint
    payload = torch.load(path, map_location="cpu", weights_only=True)

    assert payload["format"] == "dfd-checkpoint" and payload["format_version"] == 1
    for name in (
        "variant",
        "backbone",
        "hidden_size",
        "sequence_length",
        "input_size",
        "channel_order",
        "class_order",
        "normalisation",
        "training_data",
        "metrics",
        "created",
        "state_dict",
    ):
        assert name in payload
    assert payload["backbone"] == "resnext50"


def test_save_is_atomic_and_stores_plain_metadata(tmp_path):
    model = BackboneLSTM("temporal", hidden_size=8)
    meta = CheckpointMetadata(
        variant="temporal", hidden_size=8, metrics={"auc": np.float32(0.75), "n": np.int64(3)}
    )
    path = tmp_path / "models" / "m.pt"
    path.parent.mkdir()
    path.write_text("an older file, replaced whole")

    sha256 = save_checkpoint(model, path, meta)

    assert [p.name for p in path.parent.iterdir()] == ["m.pt"]  # no temp file left behind
    assert sha256 == sha256_of(path)
    loaded = load_checkpoint(path)
    assert loaded.metadata.metrics == {"auc": 0.75, "n": 3}
    assert type(loaded.metadata.metrics["n"]) is int


def test_save_refuses_metadata_that_contradicts_the_model(tmp_path):
    with pytest.raises(ValueError, match="hidden_size"):
        save_checkpoint(
            BackboneLSTM("temporal", hidden_size=8), tmp_path / "m.pt", CheckpointMetadata(hidden_size=16)
        )
    assert not list(tmp_path.iterdir())


def save_state(path, state):
    torch.save(state, path)
    return path


@pytest.mark.parametrize(
    "change, expected",
    [
        (lambda s: s.pop("lstm.weight_hh_l0"), r"missing keys \(lstm\.weight_hh_l0\)"),
        (
            lambda s: s.update({"lstm.bias_ih_l0": torch.zeros(8192), "lstm.bias_hh_l0": torch.zeros(8192)}),
            r"2 unexpected keys \(lstm\.bias_ih_l0, lstm\.bias_hh_l0\)",
        ),
        (
            lambda s: s.update({"linear1.weight": torch.zeros(3, 2048), "linear1.bias": torch.zeros(3)}),
            r"wrong shapes \(linear1\.weight is \[3, 2048\] in the file but the model needs \[2, 2048\]",
        ),
    ],
    ids=["missing", "unexpected", "wrong-shape"],
)
def test_mismatched_seed_state_dict_names_the_problem(tmp_path, seed_state, change, expected):
    state = OrderedDict(seed_state)
    change(state)
    path = save_state(tmp_path / "bad.pt", state)

    with pytest.raises(CheckpointError, match=expected) as caught:
        load_checkpoint(path)
    assert "seed model layout" in str(caught.value)
    assert "Traceback" not in str(caught.value)


def test_own_format_with_weights_of_another_size(tmp_path, temporal_checkpoint):
    path, _, _ = temporal_checkpoint
    payload = torch.load(path, map_location="cpu", weights_only=True)
    payload["hidden_size"] = 32
    bad = save_state(tmp_path / "bad.pt", payload)

    with pytest.raises(
        CheckpointError, match=r"hidden size 32.*wrong shapes \(.*lstm\.weight_ih_l0 is \[256, 2048\]"
    ):
        load_checkpoint(bad)


def minimal_payload(**overrides):
    payload = {
        "format": "dfd-checkpoint",
        "format_version": 1,
        **asdict(CheckpointMetadata()),
        "state_dict": {},
    }
    payload.update(overrides)
    return payload


@pytest.mark.parametrize(
    "payload, expected",
    [
        (minimal_payload(format_version=2), "format_version 2"),
        (minimal_payload(channel_order="XYZ"), "channel_order is 'XYZ'"),
        (minimal_payload(class_order=["real", "fake"]), "class_order"),
        (minimal_payload(backbone="resnet18"), "backbone is 'resnet18'"),
        (minimal_payload(normalisation={"mean": [0.5], "std": [0.5]}), "normalisation"),
        ({k: v for k, v in minimal_payload().items() if k != "input_size"}, "lacks input_size"),
        (minimal_payload(state_dict=None), "no state_dict"),
        (minimal_payload(format="other-tool"), "format is 'other-tool'"),
        ({"weights": torch.zeros(2)}, "not a detector checkpoint"),
        ([torch.zeros(2)], "holds a list"),
    ],
    ids=[
        "version",
        "channels",
        "classes",
        "backbone",
        "normalisation",
        "missing-field",
        "no-state",
        "format",
        "foreign-dict",
        "list",
    ],
)
def test_invalid_checkpoint_contents(tmp_path, payload, expected):
    path = save_state(tmp_path / "bad.pt", payload)
    with pytest.raises(CheckpointError, match=expected):
        load_checkpoint(path)


@pytest.mark.parametrize(
    "make, expected",
    [
        (lambda p: videos.text_file(p), "not a PyTorch checkpoint"),
        (lambda p: videos.random_bytes_file(p), "not a PyTorch checkpoint"),
        (lambda p: videos.zero_byte_file(p), "empty"),
        (lambda p: p.parent / "missing.pt", "no checkpoint file"),
        (lambda p: save_state(p, {"lstm.weight_ih_l0": NotAllowed()}), "loaded safely"),
    ],
    ids=["text", "random-bytes", "zero-byte", "missing", "unsafe-pickle"],
)
def test_files_that_are_not_checkpoints(tmp_path, make, expected):
    path = make(tmp_path / "model.pt")
    with pytest.raises(CheckpointError, match=expected):
        load_checkpoint(path)


def test_file_sha256_reads_in_chunks(tmp_path, monkeypatch):
    monkeypatch.setattr(ckpt, "_HASH_CHUNK", 7)
    path = tmp_path / "f.bin"
    path.write_bytes(bytes(range(256)) * 3)
    assert ckpt.file_sha256(path) == sha256_of(path)


def test_metadata_preprocessing():
    meta = replace(ckpt.seed_metadata(), input_size=128)
    prep = meta.preprocessing()
    assert (prep.input_size, prep.channel_order, prep.mean) == (128, "BGR", (0.485, 0.456, 0.406))
