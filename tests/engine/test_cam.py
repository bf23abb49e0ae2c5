import numpy as np
import pytest
import torch

from detection.engine.cam import grad_cam, grad_cam_from_feature_maps, overlay
from detection.engine.model import FAKE, REAL, BackboneLSTM
from detection.engine.preprocess import Preprocessing, resize_crop, to_tensor
from tests import videos


@pytest.fixture(scope="module")
def model(seed_checkpoint):
    _, reference = seed_checkpoint
    ours = BackboneLSTM("seed").eval()
    ours.load_state_dict(reference.state_dict())
    return ours


@pytest.fixture(scope="module")
def crops():
    frames = list(videos.face_frames(320, 240, 3))
    return [resize_crop(f[40:200, 60:220], 112) for f in frames]


def test_maps_are_in_unit_range_at_crop_size(model, crops):
    images = to_tensor(crops, Preprocessing())

    maps = grad_cam(model, images)

    assert len(maps) == 3
    for cam in maps:
        assert cam.shape == (112, 112) and cam.dtype == np.float32
        assert cam.min() >= 0.0 and cam.max() <= 1.0
        assert cam.max() in (0.0, pytest.approx(1.0, abs=1e-3))


def test_feature_map_path_equals_full_path(model, crops):
    images = to_tensor(crops, Preprocessing())
    with torch.inference_mode():
        fmaps = model.feature_maps(images)

    direct = grad_cam(model, images)
    reused = grad_cam_from_feature_maps(model, fmaps, size=(112, 112))

    for a, b in zip(direct, reused, strict=True):
        assert np.allclose(a, b, atol=1e-5)


def test_fake_and_real_targets_explain_different_things(model, crops):
    images = to_tensor(crops, Preprocessing())
    fake = grad_cam(model, images, target=FAKE)
    real = grad_cam(model, images, target=REAL)
    assert any(not np.allclose(a, b) for a, b in zip(fake, real, strict=True))


def test_works_for_the_temporal_variant():
    torch.manual_seed(0)
    model = BackboneLSTM("temporal", hidden_size=16).eval()
    images = torch.randn(2, 3, 112, 112)
    maps = grad_cam(model, images)
    assert [m.shape for m in maps] == [(112, 112), (112, 112)]


def test_overlay_is_a_bgr_image_of_the_crop_size(crops):
    cam = np.zeros((4, 4), np.float32)
    cam[0, 0] = 1.0

    image = overlay(crops[0], cam)

    assert image.shape == (112, 112, 3) and image.dtype == np.uint8
    # JET maps 1.0 to red and 0.0 to blue: the hot corner is redder than the cold one.
    assert int(image[0, 0, 2]) - int(image[0, 0, 0]) > int(image[-1, -1, 2]) - int(image[-1, -1, 0])
