"""The H.264 round trip that compression-aware training applies: real libx264, stronger
damage at FF++ c40's quantiser than at c23's, any crop size, clips as well as single frames."""

import cv2
import numpy as np
import pytest

from detection.engine.augment import AugmentSettings, augment, h264_roundtrip
from tests import videos


@pytest.fixture(scope="module")
def face():
    return cv2.resize(videos.astronaut_head(), (113, 111))


def test_quantiser_40_loses_more_than_23(face):
    error = {qp: np.abs(h264_roundtrip([face], qp)[0].astype(int) - face).mean() for qp in (23, 40)}
    assert 0 < error[23] < error[40]


def test_odd_sizes_and_clips_come_back_as_they_went_in(face):
    clip = [face, face[:, ::-1].copy(), face]
    out = h264_roundtrip(clip, 30)
    assert [f.shape for f in out] == [face.shape] * 3 and all(f.dtype == np.uint8 for f in out)


def test_augment_applies_it_after_resizing():
    face = cv2.resize(videos.astronaut_head(), (128, 128))
    settings = AugmentSettings(output_size=112, video_codec=1.0, h264_qp=(40, 40), jpeg=0, flip=0, blur=0,
                               rescale=0, noise=0, colour=0, crop_scale=(1.0, 1.0))
    out = augment(face, np.random.default_rng(0), settings)
    assert out.shape == (112, 112, 3)
