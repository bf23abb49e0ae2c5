"""Tiny ensembles for tests: two random-weight EfficientNet-Lite0 members (a few MB each,
different seeds, input sizes and calibrations) and their manifest, in one folder."""

from pathlib import Path

import torch

from detection.engine.calibration import Calibration
from detection.engine.checkpoint import CheckpointMetadata, save_checkpoint
from detection.engine.ensemble import write_manifest
from detection.engine.model import BackboneLSTM

MEMBERS = (("member-a", 112, 2.0, 1.0), ("member-b", 128, 0.5, 2.0))  # name, input size, temperature, weight


def write_tiny_ensemble(folder: Path, name: str = "tiny-ensemble",
                        description: str = "Two random-weight members (tests).") -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    members = []
    for seed, (member, size, temperature, weight) in enumerate(MEMBERS):
        path = folder / f"{member}.pt"
        if not path.exists():
            torch.manual_seed(seed)
            model = BackboneLSTM(variant="temporal", backbone="efficientnet_lite0", hidden_size=16, pooling="mean")
            calibration = Calibration(temperature=temperature, likely_at=0.6, clear_below=0.4)
            save_checkpoint(model, path, CheckpointMetadata(
                variant="temporal", backbone="efficientnet_lite0", hidden_size=16, pooling="mean", input_size=size,
                training_data="random weights (tests)", metrics={"calibration": calibration.to_dict()}), half=True)
        members.append((path, weight))
    manifest = folder / f"{name}.json"
    write_manifest(manifest, members, Calibration(temperature=1.5, likely_at=0.55, clear_below=0.45),
                   description=description, metrics={"test_half": {"auc": 0.5}})
    return manifest
