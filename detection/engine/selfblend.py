"""Self-blended fakes: a real face blended with a perturbed copy of itself.

After Shiohara & Yamasaki, "Detecting Deepfakes with Self-Blended Images" (CVPR 2022): a
face swap pastes a generated face into a target frame inside a face-shaped mask, leaving a
blending boundary, a colour mismatch and a slight misalignment. Re-creating those artefacts
from one real face (no second identity, no generator) gives the detector fakes of every kind of
real it sees, and teaches it the artefacts rather than one generator's fingerprint.

Recipe, on a BGR crop and its 68 landmarks (face_recognition / dlib order):
1. the source: a copy with its colour (hue, saturation, brightness, contrast, per-channel
   gain) and sharpness perturbed, then shifted and scaled a little (geometry);
2. the mask: the convex hull of the landmarks (the whole outline with eyebrows, or the inner
   face), deformed, eroded or dilated, blurred to a soft edge and scaled by a blend ratio;
3. fake = mask * source + (1 - mask) * crop. Outside the mask the crop is untouched.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

# dlib 68: jaw 0-16, eyebrows 17-26, nose 27-35, eyes 36-47, mouth 48-67
_INNER = list(range(17, 27)) + [1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15] + list(range(27, 36))


@dataclass
class BlendResult:
    image: np.ndarray  # BGR uint8, same size as the input
    mask: np.ndarray  # float32 in [0, 1]: where (and how much) the source replaced the crop


def landmark_mask(landmarks: np.ndarray, shape: tuple[int, int], rng: np.random.Generator) -> np.ndarray:
    """A binary (0/1 float32) face mask from the landmarks' convex hull, randomly varied."""
    height, width = shape
    points = landmarks if rng.random() < 0.5 else landmarks[_INNER]
    points = points.astype(np.float32).copy()
    if rng.random() < 0.5:
        # Stretch the upper part of the hull to cover the forehead, as swaps often do.
        centre = points.mean(axis=0)
        upper = points[:, 1] < centre[1]
        points[upper, 1] -= (centre[1] - points[upper, 1]) * rng.uniform(0.0, 0.4)
    # A random elastic-ish deformation of the hull's points.
    points += rng.normal(0, 0.015 * max(height, width), points.shape).astype(np.float32)
    hull = cv2.convexHull(np.round(points).astype(np.int32))
    mask = np.zeros((height, width), np.uint8)
    cv2.fillConvexPoly(mask, hull, 1)
    k = max(1, int(round(rng.uniform(0.0, 0.06) * max(height, width))))
    kernel = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * k + 1, 2 * k + 1))
    choice = rng.random()
    if choice < 0.35:
        mask = cv2.erode(mask, kernel)
    elif choice < 0.6:
        mask = cv2.dilate(mask, kernel)
    return mask.astype(np.float32)


def perturb_colour(image: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    hsv = cv2.cvtColor(image, cv2.COLOR_BGR2HSV).astype(np.float32)
    hsv[..., 0] = (hsv[..., 0] + rng.uniform(-8, 8)) % 180
    hsv[..., 1] = np.clip(hsv[..., 1] * rng.uniform(0.8, 1.25), 0, 255)
    hsv[..., 2] = np.clip(hsv[..., 2] * rng.uniform(0.85, 1.15), 0, 255)
    out = cv2.cvtColor(hsv.astype(np.uint8), cv2.COLOR_HSV2BGR).astype(np.float32)
    out = (out - out.mean()) * rng.uniform(0.85, 1.15) + out.mean()
    out *= rng.uniform(0.92, 1.08, size=(1, 1, 3))
    if rng.random() < 0.3:
        out = cv2.GaussianBlur(out, (0, 0), rng.uniform(0.5, 1.5))
    elif rng.random() < 0.3:
        blurred = cv2.GaussianBlur(out, (0, 0), 1.0)
        out = out + rng.uniform(0.3, 1.0) * (out - blurred)
    return np.clip(out, 0, 255).astype(np.uint8)


def perturb_geometry(image: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    height, width = image.shape[:2]
    scale = rng.uniform(0.95, 1.05)
    dx, dy = rng.uniform(-0.03, 0.03, 2) * (width, height)
    matrix = cv2.getRotationMatrix2D((width / 2, height / 2), rng.uniform(-2, 2), scale)
    matrix[:, 2] += (dx, dy)
    return cv2.warpAffine(image, matrix, (width, height), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REFLECT)


def self_blend(image: np.ndarray, landmarks: np.ndarray, rng: np.random.Generator | None = None) -> BlendResult:
    """A self-blended fake of a BGR uint8 face crop. Raises ValueError without landmarks."""
    rng = rng or np.random.default_rng()
    landmarks = np.asarray(landmarks, np.float32)
    if landmarks.shape != (68, 2) or not np.isfinite(landmarks).all():
        raise ValueError("self-blending needs the 68 face landmarks of the crop")
    height, width = image.shape[:2]
    source = perturb_geometry(perturb_colour(image, rng), rng)
    mask = landmark_mask(landmarks, (height, width), rng)
    sigma = rng.uniform(0.01, 0.05) * max(height, width)
    soft = cv2.GaussianBlur(mask, (0, 0), sigma)
    # Keep the blend strictly inside the hull's dilated reach: zero where the mask was zero
    # and the blur spread only a negligible amount.
    soft[soft < 1e-3] = 0.0
    soft *= rng.choice([0.25, 0.5, 0.75, 1.0, 1.0, 1.0])
    soft = soft[..., None]
    blended = soft * source.astype(np.float32) + (1 - soft) * image.astype(np.float32)
    out = np.where(soft > 0, np.clip(np.round(blended), 0, 255), image).astype(np.uint8)
    return BlendResult(image=out, mask=soft[..., 0])
