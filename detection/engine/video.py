"""Reading videos: probe a file, choose which frames to analyse, decode only those.

Frames come back as OpenCV gives them: BGR ``uint8`` arrays (the seed model was trained on
BGR data and never converted), turned upright when the container carries a rotation
(phones record portrait video as landscape plus a rotation tag). OpenCV's FFmpeg backend
applies that rotation itself when ``CAP_PROP_ORIENTATION_AUTO`` is on (its default); we
switch it on explicitly and rotate by hand only if a backend refuses.

Container headers lie: a frame count of 0, -1.9e14 or a billion, an fps of 0. ``probe``
falls back to counting frames by decoding, or to a default fps, and ``read_frames`` simply
returns fewer frames when the stream ends before the header said it would.
"""

from __future__ import annotations

import math
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from detection.engine.errors import VideoError

DEFAULT_FPS = 25.0
MAX_FPS = 240.0
# A header announcing more than a day of video is treated as wrong rather than trusted.
MAX_DURATION_S = 24 * 3600
STRATEGIES = ("uniform", "contiguous")

_ROTATE_CODES = {
    90: cv2.ROTATE_90_CLOCKWISE,
    180: cv2.ROTATE_180,
    270: cv2.ROTATE_90_COUNTERCLOCKWISE,
}


@dataclass(frozen=True)
class VideoInfo:
    """What ``probe`` learned about a video. Width and height are of the upright frames."""

    fps: float
    frame_count: int
    duration: float  # seconds: frame_count / fps
    width: int
    height: int
    rotation: int  # degrees (0, 90, 180, 270) the container asks for; frames are already upright
    codec: str  # FourCC as text, e.g. "mp4v", "h264"; "" when unknown
    fps_guessed: bool = False  # the header's fps was unusable and DEFAULT_FPS is assumed
    frame_count_counted: bool = False  # the header's frame count was unusable; frames were counted


@dataclass(frozen=True)
class Frame:
    index: int  # position in decoding order, from 0
    timestamp: float  # seconds from the start of the video
    image: np.ndarray  # BGR uint8, H x W x 3, upright


class _Capture:
    """An opened ``cv2.VideoCapture`` that yields upright frames, whatever the backend does."""

    def __init__(self, path: str | Path) -> None:
        path = Path(path)
        if not path.exists():
            raise VideoError("The video file does not exist.")
        if not path.is_file():
            raise VideoError("The path is not a file, so it cannot be read as a video.")
        if path.stat().st_size == 0:
            raise VideoError("The video file is empty (0 bytes).")
        # Naming the FFmpeg backend stops OpenCV from trying its image-sequence reader on
        # names containing '%' and from giving up on files with an unusual extension.
        self.cap = cv2.VideoCapture(str(path), cv2.CAP_FFMPEG)
        if not self.cap.isOpened():
            self.cap.release()
            raise VideoError(
                "The file could not be opened as a video: it is damaged, truncated, "
                "or not in a video format that can be read."
            )
        rotation = self.cap.get(cv2.CAP_PROP_ORIENTATION_META)
        self.rotation = int(round(rotation)) % 360 if math.isfinite(rotation) else 0
        if self.rotation not in _ROTATE_CODES:
            self.rotation = 0
        auto_rotates = self.cap.set(cv2.CAP_PROP_ORIENTATION_AUTO, 1)
        self._manual_rotation = _ROTATE_CODES.get(self.rotation) if not auto_rotates else None
        self.fps, self.fps_guessed = _sane_fps(self.cap.get(cv2.CAP_PROP_FPS))
        self.reported_frame_count = self.cap.get(cv2.CAP_PROP_FRAME_COUNT)
        self.file_size = path.stat().st_size

    def codec(self) -> str:
        code = int(self.cap.get(cv2.CAP_PROP_FOURCC)) & 0xFFFFFFFF
        text = "".join(chr((code >> (8 * i)) & 0xFF) for i in range(4))
        return text.strip("\x00 ") if text.isprintable() else ""

    def grab(self) -> bool:
        return bool(self.cap.grab())

    def retrieve(self) -> np.ndarray | None:
        ok, image = self.cap.retrieve()
        if not ok or image is None:
            return None
        if self._manual_rotation is not None:
            image = cv2.rotate(image, self._manual_rotation)
        return image

    def position_seconds(self, index: int) -> float:
        # The decoder's own timestamp is right for variable frame rates; fall back to
        # index / fps when a container does not provide one.
        msec = self.cap.get(cv2.CAP_PROP_POS_MSEC)
        if math.isfinite(msec) and msec >= 0 and (msec > 0 or index == 0):
            return msec / 1000.0
        return index / self.fps

    def release(self) -> None:
        self.cap.release()


def _sane_fps(value: float) -> tuple[float, bool]:
    if math.isfinite(value) and 0 < value <= MAX_FPS:
        return float(value), False
    return DEFAULT_FPS, True


def _plausible_frame_count(reported: float, fps: float, file_size: int) -> bool:
    # Every encoded frame takes at least a byte, and nobody uploads a day-long clip.
    return math.isfinite(reported) and 1 <= reported <= min(fps * MAX_DURATION_S, file_size)


def probe(path: str | Path) -> VideoInfo:
    """Open a video and describe it; raise VideoError if it cannot be decoded at all.

    Decodes the first frame to prove the file is usable (and to learn the upright size).
    If the header's frame count is missing or implausible, counts frames by decoding them.
    """
    capture = _Capture(path)
    try:
        if not capture.grab():
            raise VideoError("The file opened as a video, but none of its frames could be decoded.")
        first = capture.retrieve()
        if first is None:
            raise VideoError("The file opened as a video, but none of its frames could be decoded.")
        height, width = first.shape[:2]
        info = VideoInfo(
            fps=capture.fps,
            frame_count=0,
            duration=0.0,
            width=int(width),
            height=int(height),
            rotation=capture.rotation,
            codec=capture.codec(),
            fps_guessed=capture.fps_guessed,
        )
        reported = capture.reported_frame_count
        plausible = _plausible_frame_count(reported, capture.fps, capture.file_size)
    finally:
        capture.release()

    if plausible:
        frame_count, counted = int(reported), False
    else:
        frame_count, counted = count_frames(path), True
    return VideoInfo(
        fps=info.fps,
        frame_count=frame_count,
        duration=frame_count / info.fps,
        width=info.width,
        height=info.height,
        rotation=info.rotation,
        codec=info.codec,
        fps_guessed=info.fps_guessed,
        frame_count_counted=counted,
    )


def count_frames(path: str | Path) -> int:
    """Count the frames that actually decode (slow: decodes the whole stream)."""
    capture = _Capture(path)
    try:
        count = 0
        while capture.grab():
            count += 1
        return count
    finally:
        capture.release()


def sample_indices(frame_count: int, n: int, strategy: str = "uniform") -> list[int]:
    """Choose which frames to analyse, in increasing order, without duplicates.

    ``uniform``: ``n`` frames spread over the whole video, the middle frame of each of ``n``
    equal segments (this never picks the very last frame, which some containers announce
    but cannot decode). ``contiguous``: the first ``n`` frames, as the seed project did.
    Either way a video shorter than ``n`` frames gives all its frames.
    """
    if n < 1:
        raise ValueError(f"the number of frames to sample must be at least 1, got {n}")
    if strategy not in STRATEGIES:
        raise ValueError(f"unknown sampling strategy {strategy!r}: use 'uniform' or 'contiguous'")
    if frame_count <= 0:
        return []
    if n >= frame_count or strategy == "contiguous":
        return list(range(min(n, frame_count)))
    return [int((i + 0.5) * frame_count / n) for i in range(n)]


def iter_frames(path: str | Path, indices: Sequence[int]) -> Iterator[Frame]:
    """Yield the wanted frames in order, decoding sequentially.

    ``grab()`` advances without converting the picture; ``retrieve()`` (colour conversion,
    rotation) runs only for wanted frames. Seeking with ``CAP_PROP_POS_FRAMES`` instead is
    about 7x slower on H.264 and not frame-exact on every container. Stops after the last
    wanted index, or earlier when the stream ends (a header that over-counted); frames that
    fail to decode are skipped.
    """
    wanted = sorted({int(i) for i in indices if i >= 0})
    if not wanted:
        return
    capture = _Capture(path)
    try:
        position = 0
        for target in wanted:
            while position < target:
                if not capture.grab():
                    return
                position += 1
            if not capture.grab():
                return
            image = capture.retrieve()
            if image is not None:
                yield Frame(index=target, timestamp=capture.position_seconds(target), image=image)
            position += 1
    finally:
        capture.release()


def read_frames(path: str | Path, indices: Sequence[int]) -> list[Frame]:
    """The frames at ``indices`` that exist, in increasing index order (see ``iter_frames``)."""
    return list(iter_frames(path, indices))
