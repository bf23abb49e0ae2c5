"""How far float32 puts the seed model's per-frame probabilities from their exact value, per path.

``tests/engine/test_predictor.py::test_seed_exact_reproduces_the_seed`` compares the Predictor
(channels_last backbone, PyTorch's own LSTM kernel, flushed denormals) with the seed's code
(contiguous NCHW, oneDNN's LSTM). Both are float32 evaluations of the same weights on the same,
bit-identical input; they differ only in the order their kernels sum. This runs the test's
material (random seed weights, the astronaut clip) through each variation, and once in float64
as the reference, and prints each one's error: the test's tolerance should sit above these
figures on any CPU and far below what a real pipeline mistake does (also printed).

Run from the repository root:  .venv/bin/python bench/seed_numerics.py
"""

from __future__ import annotations

import copy
import os
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import torch  # noqa: E402

from detection.engine.model import backend_flag  # noqa: E402
from detection.engine.preprocess import Preprocessing, resize_crop, to_tensor  # noqa: E402
from tests import videos  # noqa: E402
from tests.engine import seed_reference  # noqa: E402


def per_frame(model, x, *, dtype=torch.float32, channels_last=False, onednn_lstm=True, chunk=None):
    """Pooled features and per-frame fake probabilities, float64 for comparing."""
    model = copy.deepcopy(model).to(dtype)
    x = x.to(dtype)
    if channels_last:
        model = model.to(memory_format=torch.channels_last)
        x = x.contiguous(memory_format=torch.channels_last)
    with torch.no_grad():
        fmaps = torch.cat([model.model(part) for part in (x.split(chunk) if chunk else [x])])
        features = model.avgpool(fmaps).view(1, -1, 2048)
        with backend_flag(torch.backends.mkldnn, "enabled", onednn_lstm):
            hidden, _ = model.lstm(features, None)
        logits = model.linear1(hidden[0]).double()
    return features[0].double(), torch.softmax(logits, dim=1)[:, 0]


def main() -> int:
    with tempfile.TemporaryDirectory(prefix="dfd-numerics-") as tmp:
        clip = videos.face_video(Path(tmp) / "face.mp4", seconds=1.5)  # as tests/engine/conftest.py
        model = seed_reference.make_seed_model()
        x = seed_reference.video_item(clip, count=20)[0]
        crops = seed_reference.seed_crop_faces(clip)

    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads, {os.cpu_count()} CPUs")
    exact_features, exact = per_frame(model, x, dtype=torch.float64)
    print(f"float64 p_fake from {float(exact.min()):.3f} to {float(exact.max()):.3f}")

    def line(name, result, against=None):
        features, p = result
        feature_error = float((features - exact_features).abs().max() / exact_features.abs().max())
        text = f"{name:<44} features rel {feature_error:.1e}  p max {float((p - exact).abs().max()):.1e}"
        if against is not None:
            text += f"  vs seed's way {float((p - against).abs().max()):.1e}"
        print(text)
        return p

    for flush in (False, True):
        torch.set_flush_denormal(flush)
        print(f"flush_denormal={flush}:")
        seed_way = line("  the seed's way (NCHW, oneDNN LSTM)", per_frame(model, x))
        line("  channels_last only", per_frame(model, x, channels_last=True), seed_way)
        line("  PyTorch's LSTM only", per_frame(model, x, onednn_lstm=False), seed_way)
        line("  backbone in batches of 7", per_frame(model, x, chunk=7), seed_way)
        line("  the Predictor's (both)", per_frame(model, x, channels_last=True, onednn_lstm=False), seed_way)
    for threads in (1, torch.get_num_threads()):
        torch.set_num_threads(threads)
        line(f"the Predictor's, {threads} thread(s)", per_frame(model, x, channels_last=True, onednn_lstm=False))

    print("real mistakes, for scale:")
    _, right = per_frame(model, x)
    for name, wrong in [
        ("  RGB instead of BGR", to_tensor([resize_crop(c, 112) for c in crops], Preprocessing(channel_order="RGB"))),
        ("  one uint8 level brighter", x + (1 / 255) / 0.229),
    ]:
        _, p = per_frame(model, wrong)
        print(f"{name:<44} p moves by up to {float((p - right).abs().max()):.2f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
