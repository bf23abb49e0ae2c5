import cv2
import numpy as np
import pytest

from detection.engine import video
from detection.engine.faces import Box, FaceDetector, clamp_box, crop, expand_box
from tests import videos


def iou(a: Box, b: Box) -> float:
    inter = Box(
        top=max(a.top, b.top),
        right=min(a.right, b.right),
        bottom=min(a.bottom, b.bottom),
        left=max(a.left, b.left),
    )
    overlap = inter.area if inter.width > 0 and inter.height > 0 else 0
    return overlap / (a.area + b.area - overlap)


@pytest.mark.parametrize("codec", list(videos.CODECS))
@pytest.mark.parametrize("width,height", [(320, 240), (640, 480), (240, 320)])
def test_face_found_in_at_least_90_percent_of_sampled_frames(tmp_path, codec, width, height):
    path = videos.face_video(
        tmp_path / f"clip{videos.CODECS[codec][1]}", width=width, height=height, seconds=1.2, codec=codec
    )
    info = video.probe(path)
    frames = video.read_frames(path, video.sample_indices(info.frame_count, 20))
    detector = FaceDetector()

    located = [detector.locate(f.image) for f in frames]

    assert len(frames) == 20
    assert sum(loc is not None for loc in located) >= 18
    for frame, loc in zip(frames, located, strict=True):
        if loc is None:
            continue
        h, w = frame.image.shape[:2]
        assert 0 <= loc.crop.left < loc.face.left < loc.face.right < loc.crop.right <= w
        assert 0 <= loc.crop.top <= loc.face.top < loc.face.bottom <= loc.crop.bottom <= h


def test_boxes_from_the_downscaled_copy_match_full_resolution_detection():
    frame = next(videos.face_frames(1280, 720, 1))
    full = FaceDetector(max_side=None, margin=0).locate(frame)
    small = FaceDetector(max_side=480, margin=0).locate(frame)

    assert full is not None and small is not None
    assert iou(full.face, small.face) > 0.7


def test_largest_face_is_chosen_and_first_is_available():
    head = videos.astronaut_head()
    frame = videos.background(640, 360, 0.3)
    frame[20:260, 20:260] = cv2.resize(head, (240, 240))  # big face on the left
    frame[150:310, 420:580] = cv2.resize(head, (160, 160))  # smaller face on the right
    detector = FaceDetector(max_side=None)

    faces = detector.detect(frame)
    largest = detector.locate(frame)

    assert len(faces) == 2
    assert largest.face == max(faces, key=lambda b: b.area)
    assert largest.face.left < 300
    first = FaceDetector(max_side=None, pick="first").locate(frame)
    assert first.face == faces[0]


def test_frame_without_face_gives_none():
    frame = next(videos.no_face_frames(320, 240, 1))
    assert FaceDetector().locate(frame) is None
    assert FaceDetector().detect(frame) == []


def test_detection_leaves_the_bgr_frame_untouched():
    frame = next(videos.face_frames(640, 480, 1))
    before = frame.copy()
    FaceDetector().locate(frame)
    assert np.array_equal(frame, before)


def test_margin_grows_the_box_on_every_side_and_clamps_to_the_frame():
    box = Box(top=100, right=200, bottom=200, left=100)

    assert expand_box(box, 0.2, 480, 640) == Box(top=80, right=220, bottom=220, left=80)
    assert expand_box(box, 0.0, 480, 640) == box
    corner = Box(top=5, right=635, bottom=90, left=560)
    assert expand_box(corner, 0.5, 100, 640) == Box(top=0, right=640, bottom=100, left=522)
    assert clamp_box(Box(top=-5, right=700, bottom=500, left=-1), 480, 640) == Box(0, 640, 480, 0)


def test_crop_and_xywh_agree():
    image = np.arange(100 * 120 * 3, dtype=np.uint32).reshape(100, 120, 3).astype(np.uint8)
    box = Box(top=10, right=50, bottom=40, left=20)
    x, y, w, h = box.as_xywh()

    assert crop(image, box).shape == (h, w, 3) == (30, 30, 3)
    assert np.array_equal(crop(image, box), image[y : y + h, x : x + w])


def test_invalid_settings_are_refused():
    with pytest.raises(ValueError, match="unknown face detector"):
        FaceDetector(model="mtcnn")
    with pytest.raises(ValueError, match="unknown face choice"):
        FaceDetector(pick="smallest")
    with pytest.raises(ValueError, match="margin"):
        FaceDetector(margin=-0.1)
