"""Reading videos: probe a file, choose which frames to analyse, decode only those.

Frames come back as OpenCV gives them: BGR ``uint8`` arrays (the seed model was trained on
BGR data and never converted), turned upright when the container carries a rotation
(phones record portrait video as landscape plus a rotation tag). OpenCV's FFmpeg backend
applies that rotation itself when ``CAP_PROP_ORIENTATION_AUTO`` is on (its default); we
switch it on explicitly and rotate by hand only if a backend refuses.

``iter_frames`` reaches sparse frames by seeking to the keyframe before each (PyAV), dense ones
by decoding through (OpenCV); either way frame ``i`` is the same image.

Container headers lie: a frame count of 0, -1.9e14 or a billion, an fps of 0. ``probe``
falls back to counting frames by decoding, or to a default fps, and ``read_frames`` simply
returns fewer frames when the stream ends before the header said it would.
"""

from __future__ import annotations

import bisect
import math
import os
import threading
from collections import deque
from collections.abc import Iterable, Iterator, Sequence
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


# Seeking pays when it skips at least this many frames: a seek flushes the decoder and
# restarts it at a keyframe, which costs about as much as decoding a few frames.
MIN_SEEK_SKIP = 8
# Pixel formats whose conversion to BGR by PyAV's swscale is bit-identical to OpenCV's
# (checked by tests/engine/test_video.py); others (10-bit, say) decode sequentially.
_SEEKABLE_PIXEL_FORMATS = frozenset(
    {"yuv420p", "yuvj420p", "yuv422p", "yuvj422p", "yuv444p", "yuvj444p", "nv12", "gray"}
)
# Containers whose packet timestamps and keyframe flags were checked against sequential
# decoding; others decode sequentially.
_SEEKABLE_CONTAINERS = ("mov", "mp4", "matroska", "webm", "avi")


def iter_frames(path: str | Path, indices: Sequence[int], *, seek: bool | None = None) -> Iterator[Frame]:
    """Yield the wanted frames in increasing index order.

    Frame ``i`` is always the ``i``-th frame that sequential decoding gives, bit for bit,
    however it was reached. Two ways of reaching it:

    - sequential (OpenCV): ``grab()`` advances without converting the picture; ``retrieve()``
      (colour conversion, rotation) runs only for wanted frames. Decodes every frame up to
      the last wanted one, so its cost grows with the video's length.
    - seeking (PyAV, when installed): the container's packets are read once without decoding
      (35 ms for a 60 s 1080p mp4) to learn each frame's timestamp and where the keyframes
      are; for a wanted frame at least ``MIN_SEEK_SKIP`` frames past the next keyframe, the
      reader jumps to the keyframe before it and decodes forward from there, skipping the
      pictures no other picture refers to (most B-frames) unless they are wanted. Its cost
      grows with the frames asked for, each about half a keyframe interval of decoding. With
      four frames or more and two cores, two decoders each take half of the frames.
      OpenCV's ``CAP_PROP_POS_FRAMES`` gave the same frames on our H.264 clips but took 1.4x
      as long: it decodes every picture after the keyframe.

    ``seek=None`` (the default) uses the seeking reader for sparse frames (at most half of
    those up to the last wanted one; the first n frames gain nothing) where the file allows
    it; ``False`` always decodes sequentially; ``True`` also uses the seeking reader where it would not
    skip anything (for tests). Seeking falls back to sequential decoding, from where it
    stands, for containers or pixel formats it was not checked on, files whose packets lack
    timestamps, and any frame that does not come out where the index said it would.

    Stops after the last wanted index, or earlier when the stream ends (a header that
    over-counted); frames that fail to decode are skipped.
    """
    wanted = sorted({int(i) for i in indices if i >= 0})
    if not wanted:
        return
    plan = None
    if seek or (seek is None and _sparse(wanted)):
        plan = _SeekIndex.build(path)
    if plan is None:
        yield from _iter_sequential(path, wanted)
        return
    # Two decoders, one a core, each on its half of the frames: short runs from a keyframe keep
    # FFmpeg's frame threads from filling both cores, and what they decode ahead of a wanted
    # frame is thrown away at the next seek.
    halves = 2 if len(wanted) >= 4 and (os.cpu_count() or 1) >= 2 else 1
    cut = len(wanted) // 2
    parts = [wanted[:cut], wanted[cut:]] if halves == 2 else [wanted]
    stop = threading.Event()
    readers = [plan.reader(threads="NONE" if halves == 2 else "AUTO", stop=stop) for _ in parts]
    later: dict[int, list[Frame]] = {}

    def read_later(k: int) -> None:
        try:
            later[k] = list(readers[k].frames(parts[k]))
        except Exception:  # noqa: BLE001 - whatever it was, the sequential reader takes over
            later[k] = []
            readers[k].complete = False

    workers = [threading.Thread(target=read_later, args=(k,), daemon=True) for k in range(1, len(parts))]
    for worker in workers:
        worker.start()
    try:
        for k, part in enumerate(parts):
            if k == 0:
                frames: Iterable[Frame] = readers[0].frames(part)
            else:
                workers[k - 1].join()
                frames = later.pop(k)
            done = -1
            for frame in frames:
                done = frame.index
                yield frame
            if not readers[k].complete:  # the seeking reader gave up: finish sequentially
                yield from _iter_sequential(path, [i for i in part if i > done])
    finally:
        stop.set()  # a caller that stops early (a cancelled analysis) stops the other decoder too
        for worker in workers:
            worker.join()  # within a picture's decoding, once stopped


def _sparse(wanted: list[int]) -> bool:
    # At most half of the frames up to the last wanted one are wanted: the seeking reader can
    # skip some (by seeking, or by not decoding pictures nothing refers to). For denser runs
    # (the first n frames, say) both readers decode the same pictures.
    return 2 * len(wanted) <= wanted[-1] + 1


def _iter_sequential(path: str | Path, wanted: list[int]) -> Iterator[Frame]:
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


class _SeekIndex:
    """A video's frames as its container lists them: timestamps in display order and the
    positions of keyframes, read from the packets without decoding them."""

    def __init__(
        self, path: Path, pts: list[int], keyframes: list[int], rotation: int, seek_ts: dict
    ) -> None:
        self.path = path
        self.pts = pts  # display order: pts[i] is frame i's presentation timestamp
        self.index_of = {p: i for i, p in enumerate(pts)}
        self.keyframes = keyframes  # frame indices of keyframes, increasing
        self.rotation = rotation
        self.seek_ts = seek_ts  # keyframe index -> timestamp to hand to the demuxer's seek
        self.complete = False  # every wanted frame came out of this reader
        self.threads = "AUTO"  # FFmpeg's threading: "AUTO" (frame and slice threads) or "NONE"
        self.stop: threading.Event | None = None

    def reader(self, threads: str, stop: threading.Event) -> _SeekIndex:
        """A copy to read with (each has its own ``complete``), sharing the index."""
        copy = _SeekIndex(self.path, self.pts, self.keyframes, self.rotation, self.seek_ts)
        copy.threads, copy.stop = threads, stop
        return copy

    @classmethod
    def build(cls, path: str | Path) -> _SeekIndex | None:
        """The index, or None when this file should be read sequentially."""
        try:
            import av
        except ImportError:
            return None
        path = Path(path)
        capture = _Capture(path)  # the same checks and messages as sequential reading, and the rotation
        rotation = capture.rotation
        capture.release()
        try:
            with av.open(str(path), metadata_errors="ignore") as container:
                if not container.streams.video:
                    return None
                names = set(container.format.name.split(","))
                if not names & set(_SEEKABLE_CONTAINERS):
                    return None
                stream = container.streams.video[0]
                if stream.codec_context.pix_fmt not in _SEEKABLE_PIXEL_FORMATS:
                    return None
                packets = []
                for packet in container.demux(stream):
                    if packet.size == 0:
                        continue  # the demuxer's end-of-stream marker
                    if packet.pts is None or packet.is_discard or packet.is_corrupt:
                        return None
                    packets.append((packet.pts, packet.dts, packet.is_keyframe))
        except (av.FFmpegError, OSError, UnicodeDecodeError, ValueError):
            return None
        pts = sorted(p for p, _, _ in packets)
        if not packets or len(set(pts)) != len(pts):
            return None
        index_of = {p: i for i, p in enumerate(pts)}
        seek_ts = {index_of[p]: p for p, _, key in packets if key}
        keyframes = sorted(seek_ts)
        if not keyframes or keyframes[0] != 0:
            return None  # frames before the first keyframe cannot be reached by seeking
        return cls(path, pts, keyframes, rotation, seek_ts)

    def keyframe_before(self, index: int) -> int:
        return self.keyframes[bisect.bisect_right(self.keyframes, index) - 1]

    def frames(self, wanted: list[int]) -> Iterator[Frame]:
        """The wanted frames (increasing), until all are out or something is not as indexed;
        ``complete`` tells which."""
        import av

        rotate = _ROTATE_CODES.get(self.rotation)
        wanted = [i for i in wanted if i < len(self.pts)]
        wanted_pts = {self.pts[i] for i in wanted}
        with av.open(str(self.path), metadata_errors="ignore") as container:
            stream = container.streams.video[0]
            stream.thread_type = self.threads
            context = stream.codec_context
            time_base = float(stream.time_base) if stream.time_base else 0.0
            start = stream.start_time or 0
            packets = container.demux(stream)
            ready: deque = deque()  # pictures out of the decoder, not yet looked at

            def next_picture():
                while not ready:
                    packet = next(packets, None)
                    if packet is None:
                        return None
                    # A picture nothing refers to (most B-frames) need not be decoded unless it
                    # is wanted: the others come out bit for bit the same without it.
                    keep = packet.pts is None or packet.pts in wanted_pts
                    context.skip_frame = "DEFAULT" if keep else "NONREF"
                    ready.extend(context.decode(packet))
                return ready.popleft()

            position = -1  # index of the last picture out of the decoder
            try:
                for target in wanted:
                    keyframe = self.keyframe_before(target)
                    if keyframe - (position + 1) >= MIN_SEEK_SKIP:
                        # PyAV's seek also flushes the decoder, so nothing from before the jump comes out.
                        container.seek(self.seek_ts[keyframe], stream=stream, backward=True)
                        packets = container.demux(stream)
                        ready.clear()
                    while True:
                        picture = next_picture()
                        if picture is None:
                            return  # the stream ended before the wanted frame
                        if self.stop is not None and self.stop.is_set():
                            return
                        index = self.index_of.get(picture.pts)
                        if index is None or picture.is_corrupt:
                            return  # not what the index says: the caller reads on sequentially
                        position = index
                        if index == target:
                            break
                        if index > target:
                            return  # the wanted frame did not come out
                        # else on the way, or a leading picture of an open GOP
                    image = picture.to_ndarray(format="bgr24")
                    if rotate is not None:
                        image = cv2.rotate(image, rotate)
                    timestamp = (picture.pts - start) * time_base if time_base else index / DEFAULT_FPS
                    yield Frame(index=index, timestamp=timestamp, image=image)
            except av.FFmpegError:
                return
        self.complete = True


def read_frames(path: str | Path, indices: Sequence[int], *, seek: bool | None = None) -> list[Frame]:
    """The frames at ``indices`` that exist, in increasing index order (see ``iter_frames``)."""
    return list(iter_frames(path, indices, seek=seek))
