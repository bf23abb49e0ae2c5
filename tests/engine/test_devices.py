"""One rule for the device, for the predictor, training and evaluation alike."""

import pytest
import torch

from detection.engine import train as tr
from detection.engine.devices import resolve_device


def test_auto_and_named_devices():
    assert resolve_device("cpu") == torch.device("cpu")
    assert resolve_device("auto").type == ("cuda" if torch.cuda.is_available() else "cpu")


def test_unknown_device_is_a_readable_error():
    with pytest.raises(ValueError, match="unknown device 'tpu'"):
        resolve_device("tpu")


@pytest.mark.skipif(torch.cuda.is_available(), reason="this machine has CUDA")
def test_cuda_without_cuda_is_refused_up_front(tmp_path, caplog):
    with pytest.raises(ValueError, match="no CUDA device"):
        resolve_device("cuda")
    # training says so as a usage error before it looks at the data (there is none here)
    assert tr.main(["--data", str(tmp_path), "--out", str(tmp_path / "run"), "--device", "cuda"]) == 2
    assert "no CUDA device" in caplog.text
