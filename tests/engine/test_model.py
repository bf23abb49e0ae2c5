import pytest
import torch

from detection.engine.model import FAKE, REAL, BackboneLSTM
from tests.engine import seed_reference


@pytest.fixture(scope="module")
def seed_pair(seed_checkpoint):
    """The seed's own class and our seed variant holding the same weights."""
    _, reference = seed_checkpoint
    ours = BackboneLSTM("seed").eval()
    ours.load_state_dict(reference.state_dict(), strict=True)
    return reference, ours


def test_class_indices():
    assert (FAKE, REAL) == (0, 1)


def test_seed_variant_has_exactly_the_published_keys_and_shapes(seed_pair):
    reference, ours = seed_pair
    ref_state, our_state = reference.state_dict(), ours.state_dict()

    assert list(our_state) == list(ref_state)
    assert {k: v.shape for k, v in our_state.items()} == {k: v.shape for k, v in ref_state.items()}
    assert "lstm.bias_ih_l0" not in our_state
    # model.2 (ReLU) and model.3 (max pool) have no parameters
    assert {k.split(".")[1] for k in our_state if k.startswith("model.")} == {"0", "1", "4", "5", "6", "7"}
    assert ours.lstm.batch_first is False and ours.lstm.bias is False


def test_temporal_variant_is_a_real_sequence_model():
    model = BackboneLSTM("temporal", hidden_size=32)

    assert model.lstm.batch_first is True and model.lstm.bias is True
    assert model.lstm.hidden_size == 32
    assert model.linear1.in_features == 32
    assert "lstm.bias_ih_l0" in model.state_dict()


def test_seed_forward_matches_the_seed_code(seed_pair):
    reference, ours = seed_pair
    torch.manual_seed(1)
    x = torch.randn(1, 6, 3, 112, 112)

    with torch.no_grad():
        _, expected = reference(x)
        got = ours(x)

    assert torch.allclose(got, expected, atol=1e-5)


def test_seed_frames_are_scored_independently_and_the_last_one_decides(seed_pair):
    _, ours = seed_pair
    torch.manual_seed(2)
    features = torch.rand(5, 2048)

    with torch.no_grad():
        per_frame = ours.classify_frames(features)
        verdict = ours.classify_sequence(features.unsqueeze(0))
        changed = features.clone()
        changed[:4] = torch.rand(4, 2048)
        per_frame_changed = ours.classify_frames(changed)

    assert per_frame.shape == (5, 2)
    assert torch.allclose(verdict[0], per_frame[-1], atol=1e-5)
    assert torch.allclose(per_frame_changed[4], per_frame[4], atol=1e-5)  # other frames do not matter


def test_temporal_sequence_output_depends_on_the_whole_sequence():
    torch.manual_seed(3)
    model = BackboneLSTM("temporal", hidden_size=16).eval()
    features = torch.rand(1, 5, 2048)

    with torch.no_grad():
        out = model.classify_sequence(features)
        reversed_out = model.classify_sequence(features.flip(1))
        per_frame = model.classify_frames(features[0])

    assert out.shape == (1, 2) and per_frame.shape == (5, 2)
    assert not torch.allclose(out, reversed_out)


def test_mean_pooling_variant():
    torch.manual_seed(4)
    model = BackboneLSTM("temporal", hidden_size=16, pooling="mean").eval()
    with torch.no_grad():
        assert model(torch.randn(2, 3, 3, 64, 64)).shape == (2, 2)


def test_building_never_downloads(monkeypatch):
    def refuse(*args, **kwargs):
        raise AssertionError("tried to download weights")

    monkeypatch.setattr(torch.hub, "load_state_dict_from_url", refuse)
    BackboneLSTM("seed")


def test_invalid_variants_are_refused():
    with pytest.raises(ValueError, match="unknown model variant"):
        BackboneLSTM("transformer")
    with pytest.raises(ValueError, match="fixed LSTM size"):
        BackboneLSTM("seed", hidden_size=512)
    with pytest.raises(ValueError, match="unknown pooling"):
        BackboneLSTM("temporal", pooling="max")


def test_seed_reference_keys_are_the_published_layout():
    """Guard the test's own copy of the seed: 'model.0' .. 'model.7', no LSTM bias."""
    keys = seed_reference.Model(2).state_dict().keys()
    assert {"lstm.weight_ih_l0", "lstm.weight_hh_l0", "linear1.weight", "linear1.bias"} <= set(keys)
    assert not any(k.startswith("lstm.bias") for k in keys)


def test_backend_flag_restores_the_previous_value_even_when_nested():
    from detection.engine.model import backend_flag

    before = torch.backends.mkldnn.enabled
    with backend_flag(torch.backends.mkldnn, "enabled", False):
        with backend_flag(torch.backends.mkldnn, "enabled", False):
            assert torch.backends.mkldnn.enabled is False
        assert torch.backends.mkldnn.enabled is False
    assert torch.backends.mkldnn.enabled == before


def test_lstm_calls_leave_backend_flags_as_they_were(seed_pair):
    _, ours = seed_pair
    with torch.no_grad():
        ours.classify_frames(torch.rand(3, 2048))
    assert torch.backends.mkldnn.enabled is True
    assert torch.backends.cudnn.enabled is True
