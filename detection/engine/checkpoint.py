"""Loading and saving detector checkpoints.

Two formats are read, both with ``torch.load(..., weights_only=True)`` (no pickled code runs):

1. The seed's bare ``state_dict`` (keys ``model.*``, ``lstm.weight_ih_l0``, ``lstm.weight_hh_l0``,
   ``linear1.*``), loaded unchanged with strict key matching into the ``seed`` variant.
   Everything the file does not say is the seed's known preprocessing (``seed_metadata``).
2. Our self-describing format: a dict with ``format: "dfd-checkpoint"``, ``format_version: 1``,
   the fields of ``CheckpointMetadata`` and ``state_dict``.

Every problem becomes a CheckpointError whose message names it (missing or unexpected keys,
wrong shapes, bad metadata, not a checkpoint at all), never a raw torch traceback.
"""

from __future__ import annotations

import hashlib
import numbers
import os
import tempfile
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field, fields
from datetime import UTC, datetime
from pathlib import Path

import torch

from detection.engine.backbones import BACKBONES
from detection.engine.errors import CheckpointError
from detection.engine.model import POOLINGS, VARIANTS, BackboneLSTM
from detection.engine.preprocess import IMAGENET_MEAN, IMAGENET_STD, Preprocessing

FORMAT = "dfd-checkpoint"
FORMAT_VERSION = 1
SEED_FORMAT = "seed-state-dict"
CLASS_ORDER = ["fake", "real"]
_HASH_CHUNK = 1 << 20
_LIST_LIMIT = 5


@dataclass
class CheckpointMetadata:
    variant: str = "temporal"
    backbone: str = "resnext50"
    hidden_size: int = 2048
    pooling: str = "last"  # temporal only: classify the last LSTM output or the mean of all
    sequence_length: int = 20  # frames per video in training
    input_size: int = 112
    channel_order: str = "BGR"
    class_order: list[str] = field(default_factory=lambda: list(CLASS_ORDER))
    normalisation: dict = field(
        default_factory=lambda: {"mean": list(IMAGENET_MEAN), "std": list(IMAGENET_STD)}
    )
    training_data: str = ""
    metrics: dict = field(default_factory=dict)
    created: str = ""  # ISO 8601, UTC; save_checkpoint fills it in when empty

    def preprocessing(self) -> Preprocessing:
        return Preprocessing(
            input_size=self.input_size,
            channel_order=self.channel_order,
            mean=tuple(self.normalisation["mean"]),
            std=tuple(self.normalisation["std"]),
        )


@dataclass
class LoadedCheckpoint:
    model: BackboneLSTM  # on the CPU, in eval mode
    metadata: CheckpointMetadata
    sha256: str
    path: Path
    format: str  # "dfd-checkpoint" or "seed-state-dict"


def seed_metadata() -> CheckpointMetadata:
    """What is known about the published seed checkpoint, which carries no metadata."""
    return CheckpointMetadata(
        variant="seed",
        hidden_size=2048,
        sequence_length=20,
        input_size=112,
        channel_order="BGR",
        training_data="unknown: the published seed checkpoint (detect-deepfake project)",
    )


def build_model(metadata: CheckpointMetadata) -> BackboneLSTM:
    return BackboneLSTM(
        variant=metadata.variant,
        hidden_size=metadata.hidden_size,
        pooling=metadata.pooling,
        backbone=metadata.backbone,
    )


def file_sha256(path: str | Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        while chunk := handle.read(_HASH_CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


def _listed(names: list[str]) -> str:
    shown = ", ".join(names[:_LIST_LIMIT])
    if len(names) > _LIST_LIMIT:
        shown += f" and {len(names) - _LIST_LIMIT} more"
    return shown


def _load_weights(model: BackboneLSTM, state: Mapping, described_as: str) -> None:
    """Strict load, with a readable message instead of torch's wall of text."""
    expected = model.state_dict()
    not_tensors = [k for k, v in state.items() if not isinstance(v, torch.Tensor)]
    missing = [k for k in expected if k not in state]
    unexpected = [k for k in state if k not in expected]
    wrong_shapes = [
        f"{k} is {list(state[k].shape)} in the file but the model needs {list(expected[k].shape)}"
        for k in expected
        if k in state and isinstance(state[k], torch.Tensor) and state[k].shape != expected[k].shape
    ]
    problems = []
    if not_tensors:
        problems.append(f"{len(not_tensors)} entries that are not tensors ({_listed(not_tensors)})")
    if missing:
        problems.append(f"{len(missing)} missing keys ({_listed(missing)})")
    if unexpected:
        problems.append(f"{len(unexpected)} unexpected keys ({_listed(unexpected)})")
    if wrong_shapes:
        problems.append(f"{len(wrong_shapes)} wrong shapes ({'; '.join(wrong_shapes[:_LIST_LIMIT])})")
    if problems:
        raise CheckpointError(f"The checkpoint does not match {described_as}: " + "; ".join(problems) + ".")
    model.load_state_dict(state, strict=True)


def _metadata_from(payload: Mapping) -> CheckpointMetadata:
    version = payload.get("format_version")
    if version != FORMAT_VERSION:
        raise CheckpointError(
            f"The checkpoint has format_version {version!r}; this version of the software reads "
            f"format_version {FORMAT_VERSION}."
        )
    names = [f.name for f in fields(CheckpointMetadata)]
    missing = [name for name in names if name not in payload]
    if missing:
        raise CheckpointError(f"The checkpoint's metadata lacks {_listed(missing)}.")
    meta = CheckpointMetadata(**{name: payload[name] for name in names})

    problems = []
    if meta.variant not in VARIANTS:
        problems.append(f"variant is {meta.variant!r} (expected one of {', '.join(VARIANTS)})")
    if meta.backbone not in BACKBONES:
        problems.append(f"backbone is {meta.backbone!r} (expected one of {', '.join(BACKBONES)})")
    if meta.pooling not in POOLINGS:
        problems.append(f"pooling is {meta.pooling!r} (expected one of {', '.join(POOLINGS)})")
    if not isinstance(meta.hidden_size, int) or meta.hidden_size < 1:
        problems.append(f"hidden_size is {meta.hidden_size!r} (expected a positive integer)")
    if not isinstance(meta.input_size, int) or meta.input_size < 32:
        problems.append(f"input_size is {meta.input_size!r} (expected an integer of at least 32)")
    if meta.channel_order not in ("BGR", "RGB"):
        problems.append(f"channel_order is {meta.channel_order!r} (expected 'BGR' or 'RGB')")
    if list(meta.class_order) != CLASS_ORDER:
        problems.append(f"class_order is {meta.class_order!r} (expected {CLASS_ORDER!r})")
    if not _valid_normalisation(meta.normalisation):
        problems.append(
            f"normalisation is {meta.normalisation!r} (expected mean and std of 3 numbers each, std > 0)"
        )
    if problems:
        raise CheckpointError("The checkpoint's metadata is invalid: " + "; ".join(problems) + ".")
    return meta


def _valid_normalisation(norm) -> bool:
    if not isinstance(norm, Mapping):
        return False
    try:
        mean = [float(v) for v in norm["mean"]]
        std = [float(v) for v in norm["std"]]
    except (KeyError, TypeError, ValueError):
        return False
    return len(mean) == 3 and len(std) == 3 and all(v > 0 for v in std)


def _is_seed_state_dict(payload: Mapping) -> bool:
    return "format" not in payload and any(isinstance(k, str) and k.startswith("lstm.") for k in payload)


def _file_kind(head: bytes) -> str:
    """"zip" (what torch.save writes), "pickle" (what it wrote before PyTorch 1.6), or what
    else the first bytes say the file is, in words."""
    if head.startswith(b"PK\x03\x04"):
        return "zip"
    if len(head) > 1 and head[0] == 0x80 and 2 <= head[1] <= 5:  # PROTO opcode and version
        return "pickle"
    try:
        text = head.decode("utf-8")
    except UnicodeDecodeError:
        text = None
    if text is not None and "\x00" not in text:
        start = " ".join(text.split())[:40]
        hint = " (an error page saved instead of the file?)" if start.lower().startswith(("<!doctype", "<html")) else ""
        return f"it is a text file{hint}, starting {start!r}"
    return ("it is neither a zip archive (what torch.save writes) nor a pickle (what older versions wrote); "
            f"its first bytes are {head[:8].hex(' ')}")


def load_checkpoint(path: str | Path) -> LoadedCheckpoint:
    """Load a seed state_dict or one of our checkpoints into a CPU model in eval mode."""
    path = Path(path)
    if not path.is_file():
        raise CheckpointError(f"There is no checkpoint file at {path}.")
    if path.stat().st_size == 0:
        raise CheckpointError(f"The checkpoint file {path} is empty (0 bytes).")
    sha256 = file_sha256(path)
    with open(path, "rb") as handle:
        head = handle.read(512)
    kind = _file_kind(head)
    if kind not in ("zip", "pickle"):
        raise CheckpointError(f"The file {path.name} is not a PyTorch checkpoint: {kind}.")
    try:
        payload = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # torch raises many types here; all mean "not a loadable checkpoint"
        text = str(exc)
        if "Unsupported global" in text:
            # torch's own text suggests turning the safety off; we never load code from a file.
            raise CheckpointError(
                f"The file {path.name} is not a checkpoint that can be loaded safely: it holds Python objects "
                "that could only be loaded by running code, which is refused."
            ) from None
        if kind == "zip":  # torch's own text asks whether its message could be improved
            raise CheckpointError(
                f"The file {path.name} is a zip archive, but not a complete PyTorch checkpoint: it is damaged, "
                "cut short (an interrupted download?) or some other zip file."
            ) from None
        # torch's text is mostly advice to turn the safety off; its last detail is the reason.
        reason = " ".join(text.split("WeightsUnpickler error:")[-1].split("Check the documentation")[0].split())
        raise CheckpointError(
            f"The file {path.name} starts like a pickle (the format of older PyTorch checkpoints), but it is "
            f"damaged or is not a checkpoint ({reason[:120] or type(exc).__name__})."
        ) from None
    if not isinstance(payload, Mapping):
        raise CheckpointError(
            f"The file {path.name} holds a {type(payload).__name__}, not a state_dict or a checkpoint dict."
        )

    if payload.get("format") == FORMAT:
        metadata = _metadata_from(payload)
        state = payload.get("state_dict")
        if not isinstance(state, Mapping):
            raise CheckpointError("The checkpoint has no state_dict.")
        fmt = FORMAT
        described_as = f"the {metadata.variant} model with hidden size {metadata.hidden_size}"
    elif _is_seed_state_dict(payload):
        metadata = seed_metadata()
        state = payload
        fmt = SEED_FORMAT
        described_as = "the seed model layout (model.*, lstm.weight_ih_l0, lstm.weight_hh_l0, linear1.*)"
    elif "format" in payload:
        raise CheckpointError(f"The checkpoint's format is {payload['format']!r}; expected {FORMAT!r}.")
    else:
        keys = [str(k) for k in payload][:_LIST_LIMIT]
        raise CheckpointError(
            "The file is not a detector checkpoint: it has no LSTM weights and no 'format' field "
            f"(first keys: {', '.join(keys) or 'none'})."
        )

    try:
        model = build_model(metadata)
    except ValueError as exc:
        raise CheckpointError(f"The checkpoint describes a model that cannot be built: {exc}.") from None
    # Weights may be stored in float16 to halve the file (save_checkpoint(half=True)); the model
    # always computes in float32.
    state = {
        k: v.float() if isinstance(v, torch.Tensor) and v.dtype in (torch.float16, torch.bfloat16) else v
        for k, v in state.items()
    }
    _load_weights(model, state, described_as)
    model.eval()
    return LoadedCheckpoint(model=model, metadata=metadata, sha256=sha256, path=path, format=fmt)


def _plain(value, where: str):
    """Metadata as plain Python values: weights_only loading refuses numpy scalars and objects."""
    if value is None or isinstance(value, (bool, str, int)):
        return value
    if isinstance(value, numbers.Integral):
        return int(value)
    if isinstance(value, numbers.Real):
        return float(value)
    if isinstance(value, torch.Tensor) and value.numel() == 1:
        return value.item()
    if isinstance(value, Mapping):
        return {str(k): _plain(v, f"{where}.{k}") for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v, f"{where}[{i}]") for i, v in enumerate(value)]
    raise ValueError(f"metadata {where} is a {type(value).__name__}; use numbers, strings, lists or dicts")


def save_checkpoint(
    model: BackboneLSTM, path: str | Path, metadata: CheckpointMetadata, half: bool = False
) -> str:
    """Write our self-describing format atomically and return the file's sha256.

    The variant, hidden size, pooling and backbone are taken from the model itself (the
    metadata must not contradict it). ``half=True`` stores floating-point weights as float16
    (half the size; load_checkpoint upcasts them to float32). A temp file in the same folder is renamed over ``path``, so a reader
    never sees half a checkpoint.
    """
    path = Path(path)
    meta = asdict(metadata)
    for name in ("variant", "hidden_size", "pooling", "backbone"):
        if meta[name] != getattr(model, name):
            raise ValueError(
                f"metadata says {name}={meta[name]!r} but the model has {getattr(model, name)!r}"
            )
    if not meta["created"]:
        meta["created"] = datetime.now(UTC).isoformat(timespec="seconds")
    for name in ("metrics", "normalisation"):
        meta[name] = _plain(meta[name], name)
    payload = {"format": FORMAT, "format_version": FORMAT_VERSION, **meta}
    state = {k: v.detach().cpu().contiguous() for k, v in model.state_dict().items()}
    if half:
        state = {k: v.half() if v.is_floating_point() else v for k, v in state.items()}
    payload["storage_dtype"] = "float16" if half else "float32"
    payload["state_dict"] = state

    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as handle:
            torch.save(payload, handle)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp_name, path)
    except BaseException:
        Path(tmp_name).unlink(missing_ok=True)
        raise
    return file_sha256(path)
