"""Finding the face to analyse in one frame (``tracking.py`` follows it across a video).

face_recognition's HOG detector (dlib) is the default; ``cnn`` is available but takes
seconds per frame on a CPU. HOG cost grows with the pixel count, so detection runs on a
copy scaled down to ``max_side`` pixels on its longer side and the boxes are mapped back
to full resolution. dlib's HOG window is 80 px; with ``upsample=1`` (face_recognition's
default) the smallest face found is about 40 px on the downscaled copy, i.e. about
``40 * long_side / max_side`` px in the original (107 px in a 1280x720 frame at 480).

face_recognition takes RGB or 8-bit grayscale; frames stay BGR everywhere else, so only the
small detection copy is converted. Grayscale is the default: dlib's HOG then computes one
gradient per pixel instead of three, 30% faster (20 ms instead of 29 ms on a 480x270 copy
upsampled once), with the same boxes on our test faces. ``grayscale=False`` detects on RGB,
as the seed did (HOG takes the strongest channel gradient, so BGR and RGB give the same boxes).

Boxes use face_recognition's order (top, right, bottom, left) in upright full-resolution
pixels, with ``right`` and ``bottom`` exclusive, so ``frame[top:bottom, left:right]`` is the
crop. ``Box.as_xywh`` gives (x, y, width, height).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import cv2
import face_recognition
import numpy as np

DETECTOR_MODELS = ("hog", "cnn")


@dataclass(frozen=True)
class Box:
    top: int
    right: int
    bottom: int
    left: int

    @property
    def width(self) -> int:
        return self.right - self.left

    @property
    def height(self) -> int:
        return self.bottom - self.top

    @property
    def area(self) -> int:
        return max(self.width, 0) * max(self.height, 0)

    def as_xywh(self) -> tuple[int, int, int, int]:
        return (self.left, self.top, self.width, self.height)


@dataclass(frozen=True)
class FaceLocation:
    face: Box  # what the detector found
    crop: Box  # the face plus margin, clamped to the frame: what the model sees


def clamp_box(box: Box, height: int, width: int) -> Box:
    return Box(
        top=min(max(box.top, 0), height),
        right=min(max(box.right, 0), width),
        bottom=min(max(box.bottom, 0), height),
        left=min(max(box.left, 0), width),
    )


def expand_box(box: Box, margin: float, height: int, width: int) -> Box:
    """Grow a box by ``margin`` times its width (left and right) and height (top and bottom).

    A detector box is tight around the eyes, nose and mouth; blending artefacts of face
    swaps sit at the face's border, so the model should see a little beyond it.
    """
    dx = round(box.width * margin)
    dy = round(box.height * margin)
    grown = Box(top=box.top - dy, right=box.right + dx, bottom=box.bottom + dy, left=box.left - dx)
    return clamp_box(grown, height, width)


def crop(image: np.ndarray, box: Box) -> np.ndarray:
    return image[box.top : box.bottom, box.left : box.right]


class FaceDetector:
    """Detects faces and chooses the one to analyse.

    ``pick="largest"`` takes the biggest face (the subject, not a face in the background);
    ``pick="first"`` takes face_recognition's first result, as the seed did.
    ``max_side=None`` detects on the full-resolution frame (slow; the seed's behaviour).
    """

    def __init__(
        self,
        model: str = "hog",
        max_side: int | None = 480,
        upsample: int = 1,
        margin: float = 0.15,
        pick: str = "largest",
        grayscale: bool = True,
    ) -> None:
        if model not in DETECTOR_MODELS:
            raise ValueError(f"unknown face detector {model!r}: use 'hog' or 'cnn'")
        if pick not in ("largest", "first"):
            raise ValueError(f"unknown face choice {pick!r}: use 'largest' or 'first'")
        if max_side is not None and max_side < 32:
            raise ValueError(f"max_side must be at least 32 pixels, got {max_side}")
        if margin < 0:
            raise ValueError(f"margin must not be negative, got {margin}")
        self.model = model
        self.max_side = max_side
        self.upsample = upsample
        self.margin = margin
        self.pick = pick
        self.grayscale = grayscale

    def settings(self) -> tuple:
        """What makes two detectors behave differently (used in cache keys)."""
        return (self.model, self.max_side, self.upsample, self.margin, self.pick, self.grayscale)

    def detect(self, image_bgr: np.ndarray) -> list[Box]:
        """All faces in a BGR frame, in full-resolution coordinates, in detector order."""
        height, width = image_bgr.shape[:2]
        scale = 1.0
        small = image_bgr
        if self.max_side is not None and max(height, width) > self.max_side:
            scale = self.max_side / max(height, width)
            size = (max(1, round(width * scale)), max(1, round(height * scale)))
            small = cv2.resize(image_bgr, size, interpolation=cv2.INTER_AREA)
        gray = self.grayscale and self.model == "hog"  # the CNN detector is given colour
        converted = cv2.cvtColor(small, cv2.COLOR_BGR2GRAY if gray else cv2.COLOR_BGR2RGB)
        found = face_recognition.face_locations(
            converted, number_of_times_to_upsample=self.upsample, model=self.model
        )
        boxes = []
        for top, right, bottom, left in found:
            box = Box(
                top=int(round(top / scale)),
                right=int(round(right / scale)),
                bottom=int(round(bottom / scale)),
                left=int(round(left / scale)),
            )
            box = clamp_box(box, height, width)
            if box.area > 0:
                boxes.append(box)
        return boxes

    def locate(self, image_bgr: np.ndarray) -> FaceLocation | None:
        """The face to analyse and its crop box, or None when the frame has no face."""
        boxes = self.detect(image_bgr)
        if not boxes:
            return None
        face = max(boxes, key=lambda b: b.area) if self.pick == "largest" else boxes[0]
        height, width = image_bgr.shape[:2]
        return FaceLocation(face=face, crop=expand_box(face, self.margin, height, width))

    def locate_all(
        self,
        images: Sequence[np.ndarray],
        timestamps: Sequence[float] | None = None,
        progress: Callable[[float], None] | None = None,
    ) -> list[FaceLocation | None]:
        """``locate`` on each frame on its own (``timestamps`` is unused: each frame stands alone).
        ``progress`` gets the share done after each frame."""
        locations = []
        for i, image in enumerate(images):
            locations.append(self.locate(image))
            if progress is not None:
                progress((i + 1) / len(images))
        return locations
