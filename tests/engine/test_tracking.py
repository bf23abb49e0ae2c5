"""FaceTracker: faces found where a person sees one (small, dim, portrait, rotated), one
person followed across frames, and the costly searches kept to a few frames."""

import cv2
import numpy as np
import pytest

from detection.engine import tracking, video
from detection.engine.faces import Box, FaceDetector
from detection.engine.tracking import FaceTracker, iou, same_face
from tests import videos

FRAMES = 20


def sampled(path, n=FRAMES):
    info = video.probe(path)
    frames = video.read_frames(path, video.sample_indices(info.frame_count, n))
    return info, frames


def assert_on_the_small_face(info, frames, result, face_width=70):
    found = [loc for loc in result.locations if loc is not None]
    assert len(found) >= 0.9 * len(frames), result.sources
    for frame, loc in zip(frames, result.locations, strict=True):
        if loc is None:
            continue
        cx, cy = videos.small_face_centre(info.width, info.height, frame.index, info.frame_count)
        fx, fy = (loc.face.left + loc.face.right) / 2, (loc.face.top + loc.face.bottom) / 2
        assert abs(fx - cx) < face_width and abs(fy - cy) < face_width
        assert 0.5 * face_width < loc.face.width < 2 * face_width
        assert loc.crop.left < loc.face.left and loc.crop.right > loc.face.right  # the margin


def test_small_face_in_a_portrait_video_is_found(small_face_clip):
    info, frames = sampled(small_face_clip)
    assert (info.width, info.height) == (1080, 1920)

    result = FaceTracker().track([f.image for f in frames], [f.timestamp for f in frames])

    assert_on_the_small_face(info, frames, result)
    # The whole-frame search at the small faces' scale (0.3 s a frame) ran on a few frames only.
    assert result.calls.get("fine", 0) <= 3
    assert result.tracks == 1
    # What the engine did before: HOG on a 480 px copy of each frame sees a 17 px face.
    assert all(FaceDetector().locate(f.image) is None for f in frames[::5])


def test_dim_small_face_is_found(tmp_path):
    path = videos.small_face_video(tmp_path / "dim.mp4", seconds=1.6, brightness=0.3)
    info, frames = sampled(path)
    assert np.mean([f.image.mean() for f in frames]) < 25

    result = FaceTracker().track([f.image for f in frames], [f.timestamp for f in frames])

    assert_on_the_small_face(info, frames, result)


def test_small_face_in_a_rotated_phone_video_is_found(tmp_path):
    path = videos.small_face_video(tmp_path / "phone.mp4", seconds=1.0, rotation=90)
    info, frames = sampled(path, 12)
    assert info.rotation == 90 and (info.width, info.height) == (1080, 1920)

    result = FaceTracker().track([f.image for f in frames], [f.timestamp for f in frames])

    assert_on_the_small_face(info, frames, result)


def test_large_faces_cost_less_than_one_search_per_frame(face_clip):
    _, frames = sampled(face_clip)

    result = FaceTracker().track([f.image for f in frames], [f.timestamp for f in frames])

    assert all(loc is not None for loc in result.locations)
    # Whole-frame searches on the anchors (every 4th frame and the last); the rest are found
    # by searching a small region around where the face should be.
    assert result.calls["coarse"] <= FRAMES // 4 + 2
    assert "fine" not in result.calls and "cnn" not in result.calls
    # The boxes agree with a per-frame search of each frame.
    detector = FaceDetector(margin=0.15)
    for frame, loc in zip(frames, result.locations, strict=True):
        alone = detector.locate(frame.image)
        assert iou(alone.face, loc.face) > 0.5


def two_people_frames(count=12, width=640, height=360):
    """Person A (left) in every frame; person B (right) smaller, but nearer the camera and
    larger than A in frames 4-6."""
    head = videos.astronaut_head()
    for i in range(count):
        frame = videos.background(width, height, i / count)
        frame[60:260, 20:220] = cv2.resize(head, (200, 200))
        side = 230 if 4 <= i <= 6 else 150
        frame[40 : 40 + side, 600 - side : 600] = cv2.resize(head, (side, side))
        yield frame


def test_the_same_person_is_followed_when_several_faces_appear():
    frames = list(two_people_frames())
    per_frame = [FaceDetector().locate(f) for f in frames]
    assert any(loc.face.left > 320 for loc in per_frame)  # largest-per-frame switches person

    result = FaceTracker().track(frames, [i / 25 for i in range(len(frames))])

    assert all(loc is not None and loc.face.right < 320 for loc in result.locations)
    assert result.tracks == 2


def test_no_face_is_invented_far_from_a_detection():
    head = videos.astronaut_head()
    frames = []
    for i in range(12):
        frame = videos.background(320, 240, i / 12)
        if i < 6:
            frame[0:240, 40:280] = head
        frames.append(frame)

    result = FaceTracker().track(frames, [float(i) for i in range(12)])  # one second apart

    assert all(loc is not None for loc in result.locations[:6])
    assert all(loc is None for loc in result.locations[6:])


def test_no_face_video_gives_none_everywhere(no_face_clip, monkeypatch):
    _, frames = sampled(no_face_clip, 10)
    cnn_frames = []
    real_cnn = FaceTracker._cnn

    def counting_cnn(self, image, max_pixels):
        cnn_frames.append(image.shape)
        return real_cnn(self, image, max_pixels)

    monkeypatch.setattr(FaceTracker, "_cnn", counting_cnn)

    result = FaceTracker().track([f.image for f in frames], [f.timestamp for f in frames])

    assert result.locations == [None] * 10 and result.tracks == 0
    assert len(cnn_frames) == 2  # the CNN fallback ran, on two frames only


def test_cnn_fallback_finds_what_hog_misses(face_clip, monkeypatch):
    """HOG blinded: the CNN finds the face on a few frames and the tracker follows it."""
    _, frames = sampled(face_clip, 8)
    monkeypatch.setattr(FaceTracker, "_hog", lambda self, gray, scale, upsample: [])

    result = FaceTracker(cnn_regions=4).track([f.image for f in frames], [f.timestamp for f in frames])

    assert result.calls["cnn"] <= 2 and result.calls.get("cnn-region", 0) <= 4
    assert sum(loc is not None for loc in result.locations) >= 6
    assert {"cnn"} <= set(result.sources)


def test_progress_rises_to_one(face_clip):
    _, frames = sampled(face_clip, 10)
    seen = []

    FaceTracker().track([f.image for f in frames], [f.timestamp for f in frames], progress=seen.append)

    assert seen == sorted(seen) and seen[-1] == 1.0


def test_fine_level_follows_the_frame_size():
    tracker = FaceTracker(min_face=40)
    # A small frame's coarse search (full size, upsampled) already finds 27 px faces.
    assert tracker.fine_level(240, 320) is None
    scale, upsample = tracker.fine_level(1920, 1080)
    assert upsample == 1 and 40 * scale * 2 == pytest.approx(tracking.HOG_SMALLEST_FACE)
    # A 4K frame is capped by max_pixels rather than searched at 15 million pixels.
    scale, upsample = tracker.fine_level(2160, 3840)
    assert (2160 * 3840) * (scale * 2**upsample) ** 2 <= tracker.max_pixels * 1.001


def test_same_face_accepts_overlap_or_a_short_move_at_a_similar_size():
    a = Box(top=100, right=200, bottom=200, left=100)
    assert same_face(a, Box(top=110, right=210, bottom=210, left=110)) > 1
    assert 0 < same_face(a, Box(top=100, right=290, bottom=200, left=190)) < 1  # moved 90 px
    assert same_face(a, Box(top=100, right=450, bottom=200, left=350)) == 0  # too far
    assert same_face(a, Box(top=100, right=510, bottom=500, left=110)) == 0  # 4x the size


def test_invalid_settings_are_refused():
    with pytest.raises(ValueError, match="margin"):
        FaceTracker(margin=-1)
    with pytest.raises(ValueError, match="min_face"):
        FaceTracker(min_face=2)
    with pytest.raises(ValueError, match="stride"):
        FaceTracker(stride=0)


def test_the_chosen_track_is_continued_by_tracks_never_seen_at_the_same_time():
    big = Box(top=0, right=200, bottom=200, left=0)
    moved = Box(top=0, right=900, bottom=200, left=700)  # the same person, far away later on
    small = Box(top=300, right=350, bottom=350, left=300)  # someone else, always there
    tracks = [
        {0: (big, "detected"), 1: (big, "detected"), 2: (big, "detected")},
        {3: (moved, "detected"), 4: (moved, "detected")},
        {p: (small, "detected") for p in range(5)},
    ]

    chosen = tracking._choose(tracks)

    assert [chosen[p][0] for p in range(5)] == [big, big, big, moved, moved]
