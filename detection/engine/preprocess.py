"""Turning face crops into the model's input tensor.

This reproduces the seed's ``transforms.Compose([ToPILImage(), Resize((112, 112)), ToTensor(),
Normalize(mean, std)])`` applied to a BGR array: PIL bilinear resizing (with antialiasing),
scaling to [0, 1], then the ImageNet constants applied to the channels *in the order they
are stored*. For the seed that order is BGR, so "red" mean 0.485 is subtracted from the
blue channel. Our own checkpoints say which order they were trained on
(``channel_order``), and crops are converted to it before normalising.

Training code should call these same functions, so that a model sees at inference exactly
what it saw in training.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
import torch
from PIL import Image

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)


@dataclass(frozen=True)
class Preprocessing:
    input_size: int = 112
    channel_order: str = "BGR"  # order of the channels fed to the model: "BGR" (seed) or "RGB"
    mean: tuple[float, float, float] = field(default=IMAGENET_MEAN)
    std: tuple[float, float, float] = field(default=IMAGENET_STD)

    def __post_init__(self) -> None:
        if self.channel_order not in ("BGR", "RGB"):
            raise ValueError(f"channel_order must be 'BGR' or 'RGB', got {self.channel_order!r}")


def resize_crop(crop_bgr: np.ndarray, size: int) -> np.ndarray:
    """A face crop resized to size x size, still BGR uint8 (the thumbnail people see)."""
    # PIL ignores the channel meaning, so BGR stays BGR, exactly as in the seed's transform.
    resized = Image.fromarray(np.ascontiguousarray(crop_bgr)).resize((size, size), Image.BILINEAR)
    return np.asarray(resized)


def to_tensor(crops_bgr: Sequence[np.ndarray], prep: Preprocessing) -> torch.Tensor:
    """Stack resized BGR uint8 crops into a normalised float tensor of shape (N, 3, H, W).

    Uses the same torch operations as torchvision's ToTensor and Normalize so the result
    matches the seed's pipeline bit for bit.
    """
    if not crops_bgr:
        raise ValueError("no crops to convert")
    batch = np.stack([np.ascontiguousarray(c) for c in crops_bgr])
    if prep.channel_order == "RGB":
        batch = np.ascontiguousarray(batch[..., ::-1])
    tensor = torch.from_numpy(batch).permute(0, 3, 1, 2).float().div(255)
    mean = torch.tensor(prep.mean, dtype=torch.float32).view(1, 3, 1, 1)
    std = torch.tensor(prep.std, dtype=torch.float32).view(1, 3, 1, 1)
    return tensor.sub_(mean).div_(std)
