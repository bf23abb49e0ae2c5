"""Test videos built at run time, for every test suite that needs one.

Faces come from ``skimage.data.astronaut()`` (a real photo shipped inside scikit-image), so
nothing is downloaded. OpenCV's writer here (the opencv-python-headless wheel) encodes
mp4v (.mp4), MJPG / XVID (.avi), VP8 (.webm) and FFV1 (.mkv); it has no H.264 encoder.

H.264 (what phones and most uploads use) comes from PyAV's own FFmpeg, whose libx264 lets a
test choose the keyframe interval and B-frames: ``write_h264``.

Builders write to the path they are given and return it. Sizes are kept small (320x240 by
default, about one second) so suites stay fast on two cores.
"""

from __future__ import annotations

import itertools
import struct
from collections.abc import Iterable, Iterator
from fractions import Fraction
from functools import cache
from pathlib import Path

import cv2
import numpy as np
from skimage import data

# name -> (FourCC, file extension)
CODECS: dict[str, tuple[str, str]] = {
    "mp4v": ("mp4v", ".mp4"),
    "mjpg": ("MJPG", ".avi"),
    "xvid": ("XVID", ".avi"),
    "vp8": ("VP80", ".webm"),
    "ffv1": ("FFV1", ".mkv"),
}


@cache
def astronaut_head() -> np.ndarray:
    """BGR head-and-shoulders crop of the astronaut, 240x240, face about 90 px wide."""
    image = data.astronaut()[10:250, 100:340]
    return np.ascontiguousarray(image[:, :, ::-1])


def background(width: int, height: int, t: float) -> np.ndarray:
    """A smooth colour gradient that drifts with t in [0, 1]: something for codecs to encode."""
    x = np.linspace(0, 1, width, dtype=np.float32)[None, :]
    y = np.linspace(0, 1, height, dtype=np.float32)[:, None]
    blue = 60 + 120 * ((x + t) % 1.0) + 0 * y
    green = 80 + 100 * y + 0 * x
    red = 140 + 80 * np.sin(np.pi * (x + y + t)) ** 2
    return np.dstack([blue, green, red]).astype(np.uint8)


def face_frames(width: int, height: int, count: int) -> Iterator[np.ndarray]:
    """The astronaut's head moving left to right and growing, over a drifting background."""
    head = astronaut_head()
    for i in range(count):
        t = i / max(count - 1, 1)
        side = int(min(width, height) * (0.6 + 0.2 * t))
        sprite = cv2.resize(head, (side, side), interpolation=cv2.INTER_AREA)
        frame = background(width, height, t)
        cx = int((0.35 + 0.3 * t) * width)
        cy = int(0.5 * height)
        left = min(max(cx - side // 2, 0), width - side)
        top = min(max(cy - side // 2, 0), height - side)
        frame[top : top + side, left : left + side] = sprite
        yield frame


def small_face_frames(
    width: int = 1080,
    height: int = 1920,
    count: int = 25,
    *,
    face_width: int = 70,
    brightness: float = 1.0,
    seed: int = 0,
) -> Iterator[np.ndarray]:
    """One person far from a phone held upright: the astronaut's head with a face about
    ``face_width`` px wide, in the upper middle of a dark room that has some clutter, swaying
    a little. ``brightness`` scales the whole picture (0.3: a dim room, as in real footage
    that HOG on a 480 px copy misses)."""
    head = astronaut_head()
    side = round(head.shape[0] * face_width / 90)  # the head crop's face is about 90 px of 240
    sprite = cv2.resize(head, (side, side), interpolation=cv2.INTER_AREA)
    rng = np.random.default_rng(seed)
    room = np.full((height, width, 3), (38, 42, 48), np.uint8)
    for _ in range(12):  # furniture-like blocks, so the background is not a flat field
        x, y = int(rng.integers(0, width)), int(rng.integers(height // 3, height))
        w, h = int(rng.integers(width // 12, width // 3)), int(rng.integers(height // 20, height // 5))
        shade = tuple(int(v) for v in rng.integers(20, 90, size=3))
        cv2.rectangle(room, (x, y), (x + w, y + h), shade, -1)
    for i in range(count):
        t = i / max(count - 1, 1)
        frame = room.copy()
        cx = int(width * (0.5 + 0.04 * np.sin(2 * np.pi * t)))
        cy = int(height * 0.3)
        left = min(max(cx - side // 2, 0), width - side)
        top = min(max(cy - side // 2, 0), height - side)
        # a body below the head, so the head is not a sticker floating in the room
        cv2.rectangle(
            frame, (left - side // 4, top + side), (left + side + side // 4, height), (70, 60, 55), -1
        )
        frame[top : top + side, left : left + side] = sprite
        if brightness != 1.0:
            frame = np.clip(frame.astype(np.float32) * brightness, 0, 255).astype(np.uint8)
        yield frame


def no_face_frames(width: int, height: int, count: int, seed: int = 0) -> Iterator[np.ndarray]:
    """Gradient plus noise and a moving rectangle: texture, motion, no face."""
    rng = np.random.default_rng(seed)
    for i in range(count):
        t = i / max(count - 1, 1)
        frame = background(width, height, t).astype(np.int16)
        frame += rng.integers(-20, 21, size=frame.shape, dtype=np.int16)
        frame = np.clip(frame, 0, 255).astype(np.uint8)
        x = int(t * (width - 60))
        cv2.rectangle(frame, (x, height // 3), (x + 60, height // 3 + 60), (30, 30, 200), -1)
        yield frame


def write_video(
    path: str | Path, frames: Iterable[np.ndarray], fps: float = 25.0, codec: str = "mp4v"
) -> Path:
    """Encode BGR frames; the extension of ``path`` should suit the codec (see CODECS)."""
    path = Path(path)
    fourcc, _ = CODECS[codec]
    frames = iter(frames)
    first = next(frames)
    height, width = first.shape[:2]
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*fourcc), fps, (width, height))
    if not writer.isOpened():
        raise RuntimeError(f"OpenCV cannot write {codec} to {path.name} here")
    try:
        writer.write(first)
        for frame in frames:
            writer.write(frame)
    finally:
        writer.release()
    return path


def h264_available() -> bool:
    try:
        import av

        return "libx264" in av.codecs_available
    except ImportError:
        return False


def write_h264(
    path: str | Path,
    frames: Iterable[np.ndarray],
    fps: float = 25.0,
    *,
    gop: int = 25,
    bframes: int = 2,
    crf: int = 23,
    preset: str = "ultrafast",
) -> Path:
    """Encode BGR frames as H.264 in an mp4 with a keyframe (IDR) every ``gop`` frames and
    up to ``bframes`` B-frames between references (so decoding order differs from display
    order, as in most real files)."""
    import av

    path = Path(path)
    frames = iter(frames)
    first = next(frames)
    height, width = first.shape[:2]
    rate = Fraction(fps).limit_denominator(1001)
    with av.open(str(path), "w") as container:
        stream = container.add_stream("libx264", rate=rate)
        stream.width, stream.height, stream.pix_fmt = width, height, "yuv420p"
        stream.gop_size = gop
        # scenecut=0 and a fixed keyint: keyframes exactly every gop frames, as tests expect
        stream.options = {
            "crf": str(crf),
            "preset": preset,
            "x264-params": f"keyint={gop}:min-keyint={gop}:scenecut=0:bframes={bframes}",
        }
        for image in itertools.chain([first], frames):
            for packet in stream.encode(av.VideoFrame.from_ndarray(image, format="bgr24")):
                container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)
    return path


def small_face_video(
    path: str | Path,
    *,
    width: int = 1080,
    height: int = 1920,
    fps: float = 25.0,
    seconds: float = 1.0,
    face_width: int = 70,
    brightness: float = 1.0,
    gop: int = 25,
    rotation: int = 0,
) -> Path:
    """A portrait H.264 clip (mp4v when PyAV's libx264 is missing) of a small, optionally dim
    face. With ``rotation`` the frames are stored sideways and the mp4 says to turn them, as
    phones do; ``width`` x ``height`` stays the upright size."""
    count = max(1, round(fps * seconds))
    frames = small_face_frames(width, height, count, face_width=face_width, brightness=brightness)
    if rotation:
        frames = (cv2.rotate(f, _UNDO_ROTATION[rotation]) for f in frames)
    if h264_available():
        write_h264(path, frames, fps=fps, gop=gop)
    else:
        write_video(path, frames, fps=fps, codec="mp4v")
    if rotation:
        set_mp4_rotation(path, rotation)
    return Path(path)


def small_face_centre(width: int, height: int, i: int, count: int) -> tuple[int, int]:
    """Where ``small_face_frames`` puts the face's centre in frame ``i`` of ``count``, upright."""
    t = i / max(count - 1, 1)
    return int(width * (0.5 + 0.04 * np.sin(2 * np.pi * t))), int(height * 0.3)


def face_video(
    path: str | Path,
    *,
    width: int = 320,
    height: int = 240,
    fps: float = 25.0,
    seconds: float = 1.0,
    codec: str = "mp4v",
    frame_count: int | None = None,
) -> Path:
    count = frame_count if frame_count is not None else max(1, round(fps * seconds))
    return write_video(path, face_frames(width, height, count), fps=fps, codec=codec)


def no_face_video(
    path: str | Path, *, width: int = 320, height: int = 240, fps: float = 25.0, seconds: float = 1.0
) -> Path:
    return write_video(path, no_face_frames(width, height, max(1, round(fps * seconds))), fps=fps)


_UNDO_ROTATION = {
    90: cv2.ROTATE_90_COUNTERCLOCKWISE,
    180: cv2.ROTATE_180,
    270: cv2.ROTATE_90_CLOCKWISE,
}
# tkhd display matrices (16.16 fixed point a, b, u, c, d, v, x, y, w) as phones write them.
_ONE = 0x10000
_MATRICES = {
    90: (0, _ONE, 0, -_ONE, 0, 0, 0, 0, 0x40000000),
    180: (-_ONE, 0, 0, 0, -_ONE, 0, 0, 0, 0x40000000),
    270: (0, -_ONE, 0, _ONE, 0, 0, 0, 0, 0x40000000),
}


def rotated_face_video(
    path: str | Path,
    rotation: int = 90,
    *,
    width: int = 240,
    height: int = 320,
    fps: float = 25.0,
    seconds: float = 1.0,
) -> Path:
    """An mp4 whose stored frames are sideways and whose metadata says to rotate them.

    ``width`` x ``height`` is the upright size a player shows (portrait by default), like a
    phone video. A reader that ignores the rotation sees a sideways face, which HOG misses.
    """
    count = max(1, round(fps * seconds))
    stored = (cv2.rotate(f, _UNDO_ROTATION[rotation]) for f in face_frames(width, height, count))
    write_video(path, stored, fps=fps, codec="mp4v")
    set_mp4_rotation(path, rotation)
    return Path(path)


def set_mp4_rotation(path: str | Path, rotation: int) -> None:
    """Write a rotation into the first track header (tkhd) of an mp4 file, in place."""
    content = bytearray(Path(path).read_bytes())
    at = content.find(b"tkhd")
    if at < 0:
        raise ValueError(f"{path} has no tkhd box")
    version = content[at + 4]
    # after type: version+flags (4), times/ids (20 or 32), reserved, layer, group, volume (16)
    matrix_at = at + 4 + 4 + (32 if version == 1 else 20) + 16
    struct.pack_into(">9i", content, matrix_at, *_MATRICES[rotation])
    Path(path).write_bytes(bytes(content))


def set_avi_frame_count(path: str | Path, count: int) -> None:
    """Overwrite the frame count in an AVI's main and stream headers, in place."""
    content = bytearray(Path(path).read_bytes())
    avih = content.find(b"avih")
    strh = content.find(b"strh")
    # avih: dwTotalFrames is the 5th field; strh: dwLength is at byte 32 of its data
    struct.pack_into("<I", content, avih + 8 + 16, count)
    struct.pack_into("<I", content, strh + 8 + 32, count)
    Path(path).write_bytes(bytes(content))


def truncated_copy(source: str | Path, path: str | Path, fraction: float = 0.5) -> Path:
    """The first ``fraction`` of a file, as an interrupted upload or download leaves it."""
    content = Path(source).read_bytes()
    Path(path).write_bytes(content[: int(len(content) * fraction)])
    return Path(path)


def corrupt_header_copy(source: str | Path, path: str | Path, size: int = 4096) -> Path:
    """A copy whose first ``size`` bytes are random: the container header is destroyed."""
    content = bytearray(Path(source).read_bytes())
    noise = np.random.default_rng(1).integers(0, 256, size=min(size, len(content)), dtype=np.uint8)
    content[: len(noise)] = noise.tobytes()
    Path(path).write_bytes(bytes(content))
    return Path(path)


def zero_byte_file(path: str | Path) -> Path:
    Path(path).write_bytes(b"")
    return Path(path)


def text_file(path: str | Path) -> Path:
    """A text file with a video's name."""
    Path(path).write_text("This is not a video, whatever its name says.\n" * 20)
    return Path(path)


def random_bytes_file(path: str | Path, size: int = 65536) -> Path:
    Path(path).write_bytes(np.random.default_rng(2).integers(0, 256, size=size, dtype=np.uint8).tobytes())
    return Path(path)
