"""Self-blended fakes: the change is confined to the face mask and looks like a blend."""

import numpy as np
import pytest

from detection.engine.facecache import _landmarks_for
from detection.engine.faces import FaceDetector
from detection.engine.selfblend import landmark_mask, self_blend
from tests import videos


@pytest.fixture(scope="module")
def face_and_landmarks():
    head = videos.astronaut_head()
    location = FaceDetector(max_side=None, margin=0.0).locate(head)
    assert location is not None
    marks = _landmarks_for(head, location.face)
    assert np.isfinite(marks).all()
    return head, marks


@pytest.mark.parametrize("seed", range(6))
def test_difference_is_confined_to_the_face_mask(face_and_landmarks, seed):
    head, marks = face_and_landmarks
    result = self_blend(head, marks, np.random.default_rng(seed))

    assert result.image.shape == head.shape and result.image.dtype == np.uint8
    changed = np.any(result.image != head, axis=2)
    assert changed.any(), "a self-blended fake must differ from its real"
    assert not changed[result.mask == 0].any(), "pixels outside the mask must be untouched"
    # The mask sits on the face: its centre of mass lies inside the landmarks' bounding box.
    ys, xs = np.nonzero(result.mask)
    (x0, y0), (x1, y1) = marks.min(axis=0), marks.max(axis=0)
    assert x0 <= xs.mean() <= x1 and y0 <= ys.mean() <= y1
    # and it covers far less than the whole crop
    assert (result.mask > 0).mean() < 0.8


def test_mask_follows_the_landmarks(face_and_landmarks):
    head, marks = face_and_landmarks
    mask = landmark_mask(marks, head.shape[:2], np.random.default_rng(0))
    nose_tip = marks[30].round().astype(int)
    assert mask[nose_tip[1], nose_tip[0]] == 1
    assert mask[0, 0] == 0 and mask[-1, -1] == 0


def test_needs_landmarks(face_and_landmarks):
    head, _ = face_and_landmarks
    with pytest.raises(ValueError, match="landmarks"):
        self_blend(head, np.full((68, 2), np.nan))
