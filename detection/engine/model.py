"""BackboneLSTM: a frame backbone (ResNeXt50_32x4d or EfficientNet-Lite0) feeding an LSTM, in two variants.

``seed``: the published layout, kept parameter for parameter so its checkpoint loads with
strict key matching: ``model`` (the torchvision ResNeXt without its pool and fc, keys
``model.0.*`` .. ``model.7.*``), ``lstm = nn.LSTM(2048, 2048, 1, False)`` (the 4th positional
argument is ``bias``: no bias keys; ``batch_first`` stays False), ``linear1 = nn.Linear(2048, 2)``.
Because ``batch_first`` is False, the seed's (1, S, 2048) input is read as a sequence of
length 1 with S batch items: the LSTM never links frames, every frame gets its own score,
and the seed's verdict ``x_lstm[:, -1, :]`` is simply the last frame's score.

``temporal``: the corrected model our training writes: ``LSTM(2048, hidden, batch_first=True,
bias=True)`` over the frame sequence, classifier on the last (or mean) LSTM output.

Class index 0 = FAKE, 1 = REAL in both. The backbone is built with ``weights=None``: nothing is
ever downloaded; real weights come from a checkpoint.

Backbones (``backbones.py``): ``resnext50`` (the seed's, 2048 features, the default), or
``efficientnet_lite0``/``1``/``2`` or ``mobilenet_v2`` (1280 features; temporal variant only).
Either way the backbone sits in ``self.model`` and its output (the last block's feature maps)
is Grad-CAM's layer.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager

import torch
from torch import nn

from detection.engine.backbones import BACKBONES, FEATURE_SIZES, build_backbone

FAKE = 0
REAL = 1
FEATURES = 2048  # the seed's (ResNeXt50's) feature size; see ``feature_size`` for others
VARIANTS = ("seed", "temporal")
POOLINGS = ("last", "mean")


_flag_lock = threading.RLock()


@contextmanager
def backend_flag(namespace, name: str, value) -> Iterator[None]:
    """Set a process-wide ``torch.backends`` flag for the duration of a block.

    The lock stops two threads from restoring each other's values in the wrong order; code
    in another thread that runs meanwhile sees the flag too (slower at worst, never wrong).
    """
    with _flag_lock:
        previous = getattr(namespace, name)
        setattr(namespace, name, value)
        try:
            yield
        finally:
            setattr(namespace, name, previous)


class BackboneLSTM(nn.Module):
    def __init__(
        self, variant: str = "seed", hidden_size: int = 2048, pooling: str = "last", backbone: str = "resnext50"
    ) -> None:
        super().__init__()
        if backbone not in BACKBONES:
            raise ValueError(f"unknown backbone {backbone!r}: use one of {', '.join(BACKBONES)}")
        if variant == "seed" and backbone != "resnext50":
            raise ValueError(f"the seed variant has a resnext50 backbone, not {backbone!r}")
        if variant not in VARIANTS:
            raise ValueError(f"unknown model variant {variant!r}: use 'seed' or 'temporal'")
        if pooling not in POOLINGS:
            raise ValueError(f"unknown pooling {pooling!r}: use 'last' or 'mean'")
        if variant == "seed" and hidden_size != FEATURES:
            raise ValueError(f"the seed variant has a fixed LSTM size of {FEATURES}, got {hidden_size}")
        self.variant = variant
        self.hidden_size = hidden_size
        self.pooling = pooling
        self.backbone = backbone
        self.feature_size = FEATURE_SIZES[backbone]

        self.model = build_backbone(backbone)
        if variant == "seed":
            self.lstm = nn.LSTM(FEATURES, FEATURES, 1, False)
        else:
            self.lstm = nn.LSTM(self.feature_size, hidden_size, num_layers=1, batch_first=True, bias=True)
        self.dropout = nn.Dropout(0.4)
        self.linear1 = nn.Linear(hidden_size, 2)
        self.avgpool = nn.AdaptiveAvgPool2d(1)

    def feature_maps(self, images: torch.Tensor) -> torch.Tensor:
        """(N, 3, H, W) -> the last block's output (N, C, H/32, W/32): Grad-CAM's layer
        (C = 2048 for resnext50, 1280 for the others)."""
        return self.model(images)

    def pool(self, fmaps: torch.Tensor) -> torch.Tensor:
        """(N, C, h, w) -> (N, C)."""
        return self.avgpool(fmaps).flatten(1)

    def features(self, images: torch.Tensor) -> torch.Tensor:
        return self.pool(self.feature_maps(images))

    def _run_lstm(self, x: torch.Tensor) -> torch.Tensor:
        # PyTorch's own LSTM kernel, not the vendor one, in two cases. On CPU, oneDNN repacks
        # the weights (2 x 64 MB for the seed) on every call: about 80 ms against 15 ms for 20
        # frames. On CUDA with gradients on (Grad-CAM), cuDNN refuses a backward pass in eval mode.
        if x.device.type == "cpu":
            with backend_flag(torch.backends.mkldnn, "enabled", False):
                return self.lstm(x, None)[0]
        if torch.is_grad_enabled():
            with backend_flag(torch.backends.cudnn, "enabled", False):
                return self.lstm(x, None)[0]
        return self.lstm(x, None)[0]

    def classify_frames(self, features: torch.Tensor) -> torch.Tensor:
        """Per-frame logits (N, 2) from per-frame features (N, 2048).

        seed: exactly the seed's own computation (one length-1 sequence with N batch items),
        so row i is what the seed would say if frame i were last.
        temporal: each frame is run as a one-frame sequence through the LSTM and head: a score
        for that frame alone, without its neighbours.
        """
        if self.variant == "seed":
            x_lstm = self._run_lstm(features.unsqueeze(0))
            return self.dropout(self.linear1(x_lstm[0]))
        out = self._run_lstm(features.unsqueeze(1))
        return self.linear1(self.dropout(out[:, -1, :]))

    def classify_sequence(self, features: torch.Tensor) -> torch.Tensor:
        """Video logits (B, 2) from features (B, S, 2048).

        seed: the seed's forward verbatim (dropout after the linear layer, as it was written).
        With B=1 this is the last frame's score; with B>1 the seed would mix videos, which is
        why we only call it one video at a time.
        """
        if self.variant == "seed":
            x_lstm = self._run_lstm(features)
            return self.dropout(self.linear1(x_lstm[:, -1, :]))
        out = self._run_lstm(features)
        pooled = out[:, -1, :] if self.pooling == "last" else out.mean(dim=1)
        return self.linear1(self.dropout(pooled))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """(B, S, 3, H, W) -> logits (B, 2)."""
        batch_size, seq_length, c, h, w = x.shape
        features = self.features(x.view(batch_size * seq_length, c, h, w))
        return self.classify_sequence(features.view(batch_size, seq_length, self.feature_size))
