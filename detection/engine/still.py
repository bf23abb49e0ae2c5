"""Still images (JPEG, PNG, WebP): read one safely, find every face in it, judge each face. No Django.

A photo has no frames to vote, and a group photo may hold one manipulated face among genuine
ones, so every face is judged on its own (the detector's ``judge_faces``) and the image's
verdict is its most suspicious face. The result is the same ``Prediction`` a video gets, with
one ``FrameScore`` per face (``index`` the face's number in reading order, ``timestamp`` 0), so
the worker, ``detect`` and the pages store and show both the same way.

Reading is done by Pillow in two passes: the header alone gives the size, which is checked
against ``max_pixels`` before any pixel is decoded (a 100 KB PNG can claim 60000x60000 pixels);
then ``verify`` checks the structure and a second open decodes it all. EXIF orientation is
applied, as browsers apply it when they show the image, so face boxes match what people see.
"""

from __future__ import annotations

import time
import warnings
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image, ImageFile, ImageOps

from detection.engine.errors import VideoError
from detection.engine.faces import FaceDetector, FaceLocation, crop, expand_box
from detection.engine.predictor import FrameScore, Heatmap, Prediction, Timings
from detection.engine.video import VideoInfo

# face_recognition's import sets Pillow's process-wide LOAD_TRUNCATED_IMAGES, for its own
# load_image_file (which nothing here uses): a cut-short upload would then decode as grey pixels
# and pass. Imported above through faces.py, so this runs after it and stays.
ImageFile.LOAD_TRUNCATED_IMAGES = False

AGGREGATION = "most-suspicious-face"  # Prediction.aggregation of a still image
# HOG runs on a copy with this long side: faces down to about 40 * long_side / 1280 px are
# found (125 px in a 12-megapixel photo), in about 0.3 s on one core.
STILL_FACE_DETECTOR = dict(max_side=1280, upsample=1, margin=0.15)
# EXIF orientations 5 to 8 turn the picture a quarter: width and height swap.
_QUARTER_TURNS = {5, 6, 7, 8}
_EXIF_ORIENTATION = 0x0112


class ImageError(VideoError):
    """The file cannot be used as a still image. A VideoError, so every caller that handles an
    unreadable upload handles this one too; messages never contain the path."""


class TooManyPixels(ImageError):
    def __init__(self, width: int | None, height: int | None, max_pixels: int):
        self.width, self.height = width, height
        size = f"{width}x{height} pixels" if width and height else "larger than Pillow agrees to open"
        super().__init__(f"The image is {size}; the limit is {max_pixels:,} pixels.")


@dataclass(frozen=True)
class ImageInfo:
    width: int  # upright, after the EXIF orientation
    height: int
    format: str  # Pillow's name: "JPEG", "PNG", "WEBP"


def _open(path: str | Path) -> Image.Image:
    with warnings.catch_warnings():
        # Pillow warns, then refuses, past its own pixel limit: either way it is too big for us.
        warnings.simplefilter("error", Image.DecompressionBombWarning)
        return Image.open(path)


def probe_image(path: str | Path, *, max_pixels: int) -> ImageInfo:
    """Check that ``path`` is a whole, decodable image of at most ``max_pixels`` pixels and
    return its upright size. Raises TooManyPixels (from the header, before decoding) or
    ImageError."""
    try:
        with _open(path) as image:
            width, height = image.size
            if width * height > max_pixels:
                raise TooManyPixels(width, height, max_pixels)
            image_format = image.format or ""
            image.verify()  # structure and checksums, without decoding (must come first after open)
        with _open(path) as image:
            orientation = image.getexif().get(_EXIF_ORIENTATION, 1)
            image.load()  # decodes every pixel: a truncated or corrupt file fails here
    except (Image.DecompressionBombError, Image.DecompressionBombWarning):
        raise TooManyPixels(None, None, max_pixels) from None
    except (OSError, SyntaxError, ValueError, EOFError) as error:
        raise ImageError(f"The image cannot be decoded ({_reason(error)}).") from None
    if orientation in _QUARTER_TURNS:
        width, height = height, width
    return ImageInfo(width=width, height=height, format=image_format)


def _reason(error: Exception) -> str:
    text = str(error).split(" '", 1)[0].strip() or type(error).__name__  # Pillow may quote the path
    return text[:200]


def read_image(path: str | Path, *, max_pixels: int) -> tuple[np.ndarray, ImageInfo]:
    """The image, upright, as a BGR uint8 array (what the rest of the engine works on), and what
    ``probe_image`` says of it."""
    info = probe_image(path, max_pixels=max_pixels)
    try:
        with _open(path) as image:
            upright = ImageOps.exif_transpose(image).convert("RGB")
    except (OSError, SyntaxError, ValueError, EOFError) as error:
        raise ImageError(f"The image cannot be decoded ({_reason(error)}).") from None
    return np.ascontiguousarray(np.asarray(upright)[:, :, ::-1]), info


def find_faces(image_bgr: np.ndarray, detector: FaceDetector | None = None) -> list[FaceLocation]:
    """Every face in the image with its crop box (face plus margin), in reading order: by rows
    of faces from the top, left to right within a row."""
    detector = detector or FaceDetector(**STILL_FACE_DETECTOR)
    height, width = image_bgr.shape[:2]
    boxes = detector.detect(image_bgr)
    row = max((b.height for b in boxes), default=1)  # faces whose tops are within a face's height share a row
    boxes.sort(key=lambda b: (b.top // row, b.left))
    return [FaceLocation(face=b, crop=expand_box(b, detector.margin, height, width)) for b in boxes]


def judge_still(
    detector, path: str | Path, *, max_pixels: int, heatmaps: int = 3, progress=None,
    face_detector: FaceDetector | None = None,
) -> Prediction:
    """Judge every face in one image with ``detector.judge_faces``. ``progress(stage, fraction)``
    as for a video; an exception it raises stops the work and reaches the caller."""
    report = progress or (lambda stage, fraction: None)
    timings = Timings()
    started = time.perf_counter()
    report("decode", 0.0)
    image, info = read_image(path, max_pixels=max_pixels)
    timings.decode = time.perf_counter() - started

    report("faces", 0.1)
    mark = time.perf_counter()
    faces = find_faces(image, face_detector)
    crops = [crop(image, location.crop) for location in faces]
    timings.faces = time.perf_counter() - mark

    report("model", 0.5)
    mark = time.perf_counter()
    judgements = detector.judge_faces(crops, heatmaps=heatmaps) if crops else []
    timings.model = time.perf_counter() - mark
    timings.total = time.perf_counter() - started
    report("done", 1.0)

    height, width = image.shape[:2]
    frames = [
        FrameScore(index=number, timestamp=0.0, box=location.crop.as_xywh(), face_box=location.face.as_xywh(),
                   probability_fake=float(judgement.probability_fake), crop=judgement.crop)
        for number, (location, judgement) in enumerate(zip(faces, judgements, strict=True))
    ]
    maps = sorted(
        (Heatmap(frame_index=frame.index, probability_fake=frame.probability_fake, overlay=judgement.heatmap,
                 cam=None)
         for frame, judgement in zip(frames, judgements, strict=True) if judgement.heatmap is not None),
        key=lambda heatmap: -heatmap.probability_fake,
    )
    top = max(range(len(frames)), key=lambda i: frames[i].probability_fake) if frames else None
    probability = frames[top].probability_fake if top is not None else None
    return Prediction(
        label="no_face" if top is None else ("fake" if probability >= 0.5 else "real"),
        probability_fake=probability,
        raw_probability_fake=None if top is None else float(judgements[top].raw_probability_fake),
        band=None if top is None else judgements[top].band,
        confidence=None if top is None else max(probability, 1.0 - probability),
        frames_requested=1, frames_decoded=1, frames_analysed=len(frames), frames_without_face=0 if frames else 1,
        frames=frames, heatmaps=maps, timings=timings,
        model_id=getattr(detector, "model_id", detector.name), model_variant=getattr(detector, "variant", ""),
        model_sha256=detector.sha256, device=str(getattr(detector, "device", "")),
        video=VideoInfo(fps=0.0, frame_count=1, duration=0.0, width=width, height=height, rotation=0,
                        codec=info.format.lower()),
        strategy="all-faces", seed_exact=False, aggregation=AGGREGATION,
        member_scores={} if top is None else dict(judgements[top].member_scores),
    )
