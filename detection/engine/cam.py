"""Grad-CAM heat maps: where in a face crop the model saw evidence of FAKE.

The target layer is the backbone's last block (``model.7`` of ResNeXt50, the head convolution of
EfficientNet-Lite0: whatever ``feature_maps`` returns). Its output is average-pooled
before the LSTM, so the gradient of the FAKE logit with respect to it involves only the
pooling, LSTM and linear layer: no second pass through the backbone is needed when the
feature maps of the main forward pass are kept (``grad_cam_from_feature_maps``).

Per-frame scores are independent for both variants (see ``BackboneLSTM.classify_frames``),
so summing them and taking one gradient gives each frame its own map.

For a 112x112 input the block's output is 4x4 (both backbones), so maps are coarse; they are upsampled
bilinearly to the crop size.
"""

from __future__ import annotations

import cv2
import numpy as np
import torch

from detection.engine.model import FAKE, BackboneLSTM


def grad_cam_from_feature_maps(
    model: BackboneLSTM, fmaps: torch.Tensor, size: tuple[int, int], target: int = FAKE
) -> list[np.ndarray]:
    """Maps (one per frame) from the last block's outputs (N, C, h, w).

    Returns float32 arrays of ``size`` (height, width) scaled to [0, 1]; a frame with no
    positive evidence for ``target`` gets an all-zero map.
    """
    # Feature maps made under inference_mode cannot enter autograd; a clone made outside can.
    with torch.inference_mode(False), torch.enable_grad():
        maps = fmaps.detach().clone().requires_grad_(True)
        logits = model.classify_frames(model.pool(maps))
        (grads,) = torch.autograd.grad(logits[:, target].sum(), maps)
        weights = grads.mean(dim=(2, 3), keepdim=True)
        cams = torch.relu((weights * maps).sum(dim=1)).detach().float().cpu().numpy()

    height, width = size
    result = []
    for cam in cams:
        # Scaled after resizing, so that the hottest displayed pixel is exactly 1.
        resized = cv2.resize(cam.astype(np.float32), (width, height), interpolation=cv2.INTER_LINEAR)
        peak = float(resized.max())
        result.append(np.clip(resized / peak, 0.0, 1.0) if peak > 0 else np.zeros_like(resized))
    return result


def grad_cam(model: BackboneLSTM, images: torch.Tensor, target: int = FAKE) -> list[np.ndarray]:
    """Maps for normalised crops (N, 3, H, W), each H x W in [0, 1]."""
    with torch.inference_mode():
        fmaps = model.feature_maps(images)
    return grad_cam_from_feature_maps(model, fmaps, size=tuple(images.shape[-2:]), target=target)


def overlay(image_bgr: np.ndarray, cam: np.ndarray, alpha: float = 0.45) -> np.ndarray:
    """The crop with the map drawn over it in the JET colours (red = strongest), BGR uint8."""
    height, width = image_bgr.shape[:2]
    if cam.shape != (height, width):
        cam = cv2.resize(cam.astype(np.float32), (width, height), interpolation=cv2.INTER_LINEAR)
    colours = cv2.applyColorMap(np.uint8(np.clip(cam, 0, 1) * 255), cv2.COLORMAP_JET)
    return cv2.addWeighted(colours, alpha, np.ascontiguousarray(image_bgr, dtype=np.uint8), 1 - alpha, 0)
