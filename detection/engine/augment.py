"""Training augmentations that matter for deepfake detection, on BGR uint8 face crops.

Real-world fakes arrive re-encoded, rescaled and recoloured, so the detector must not lean on
pristine high-frequency detail: compression (JPEG down to quality 15, and a real H.264 round
trip through PyAV's libx264 at a quantiser between FaceForensics++'s c23 and c40, which is
what uploads and social-media re-encodes look like), blur, down- and
up-scaling, noise, colour jitter, horizontal flips, and a small random crop / scale (face
boxes are never placed exactly alike). Every training sample is also re-encoded as JPEG at a
random quality half of the time by default, so a source whose classes differ in file format
(the Ecuador set: PNG fakes, JPEG reals) cannot be told apart by its format alone; the face
cache already resizes every crop to 128 px, which erases most of the difference.
"""

from __future__ import annotations

import io
from collections.abc import Sequence
from dataclasses import dataclass

import cv2
import numpy as np


@dataclass(frozen=True)
class AugmentSettings:
    output_size: int = 112
    crop_scale: tuple[float, float] = (0.85, 1.0)  # side of the random crop, as a share of the input
    flip: float = 0.5
    jpeg: float = 0.5  # probability of a JPEG round trip
    jpeg_quality: tuple[int, int] = (20, 95)
    video_codec: float = 0.0  # probability of an H.264 round trip
    h264_qp: tuple[int, int] = (23, 40)  # FF++ c23 .. c40
    blur: float = 0.1
    rescale: float = 0.2  # down to 35-90% and back up
    noise: float = 0.1
    colour: float = 0.3


def jpeg_roundtrip(image: np.ndarray, quality: int) -> np.ndarray:
    ok, data = cv2.imencode(".jpg", image, [cv2.IMWRITE_JPEG_QUALITY, int(quality)])
    return cv2.imdecode(data, cv2.IMREAD_COLOR) if ok else image


def h264_roundtrip(frames: Sequence[np.ndarray], qp: int) -> list[np.ndarray]:
    """BGR frames of one size through libx264 at a constant quantiser and back, as one clip:
    qp 23 and 40 are FaceForensics++'s c23 and c40. A single frame comes back as an I-frame;
    a clip also gets the P-frame smearing that video compression adds. Odd sides are padded
    (4:2:0 needs even ones) and cropped off again."""
    import av  # PyAV ships its own FFmpeg with libx264

    height, width = frames[0].shape[:2]
    even = lambda side: side + side % 2  # noqa: E731
    buffer = io.BytesIO()
    with av.open(buffer, "w", format="mp4") as container:
        stream = container.add_stream("libx264", rate=25)
        stream.width, stream.height, stream.pix_fmt = even(width), even(height), "yuv420p"
        stream.options = {"qp": str(int(qp)), "preset": "veryfast", "tune": "zerolatency"}
        for image in frames:
            padded = cv2.copyMakeBorder(image, 0, even(height) - height, 0, even(width) - width, cv2.BORDER_REPLICATE)
            container.mux(stream.encode(av.VideoFrame.from_ndarray(padded, format="bgr24")))
        container.mux(stream.encode())
    buffer.seek(0)
    with av.open(buffer, "r", format="mp4") as container:
        decoded = [f.to_ndarray(format="bgr24")[:height, :width] for f in container.decode(video=0)]
    return decoded if len(decoded) == len(frames) else [np.ascontiguousarray(f) for f in frames]


def colour_jitter(image: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    hsv = cv2.cvtColor(image, cv2.COLOR_BGR2HSV).astype(np.float32)
    hsv[..., 0] = (hsv[..., 0] + rng.uniform(-5, 5)) % 180
    hsv[..., 1] *= rng.uniform(0.7, 1.3)
    hsv[..., 2] = hsv[..., 2] * rng.uniform(0.75, 1.25) + rng.uniform(-15, 15)
    return cv2.cvtColor(np.clip(hsv, 0, 255).astype(np.uint8), cv2.COLOR_HSV2BGR)


def random_crop(image: np.ndarray, rng: np.random.Generator, scale: tuple[float, float]) -> np.ndarray:
    height, width = image.shape[:2]
    side = rng.uniform(*scale)
    ch, cw = max(8, int(round(height * side))), max(8, int(round(width * side * rng.uniform(0.95, 1.05))))
    cw = min(cw, width)
    top = int(rng.integers(0, height - ch + 1))
    left = int(rng.integers(0, width - cw + 1))
    return image[top : top + ch, left : left + cw]


def augment(image: np.ndarray, rng: np.random.Generator, settings: AugmentSettings = AugmentSettings()) -> np.ndarray:
    """A randomly degraded copy of a BGR uint8 crop, resized to output_size (square)."""
    out = random_crop(image, rng, settings.crop_scale)
    size = settings.output_size
    if rng.random() < settings.flip:
        out = out[:, ::-1]
    if rng.random() < settings.colour:
        out = colour_jitter(np.ascontiguousarray(out), rng)
    if rng.random() < settings.rescale:
        factor = rng.uniform(0.35, 0.9)
        small = cv2.resize(out, (max(8, int(size * factor)),) * 2, interpolation=cv2.INTER_AREA)
        out = cv2.resize(small, (size, size), interpolation=rng.choice([cv2.INTER_LINEAR, cv2.INTER_CUBIC]))
    else:
        out = cv2.resize(np.ascontiguousarray(out), (size, size), interpolation=cv2.INTER_AREA)
    if rng.random() < settings.blur:
        out = cv2.GaussianBlur(out, (0, 0), rng.uniform(0.3, 1.3))
    if rng.random() < settings.noise:
        noise = rng.normal(0, rng.uniform(2, 8), out.shape)
        out = np.clip(out.astype(np.float32) + noise, 0, 255).astype(np.uint8)
    if rng.random() < settings.video_codec:
        out = h264_roundtrip([out], int(rng.integers(settings.h264_qp[0], settings.h264_qp[1] + 1)))[0]
    if rng.random() < settings.jpeg:
        out = jpeg_roundtrip(out, int(rng.integers(settings.jpeg_quality[0], settings.jpeg_quality[1] + 1)))
    return np.ascontiguousarray(out)


def plain(image: np.ndarray, size: int) -> np.ndarray:
    """Evaluation: just the resize the predictor does (PIL bilinear)."""
    from detection.engine.preprocess import resize_crop

    return resize_crop(image, size)
