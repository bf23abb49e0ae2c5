"""A GPU smoke check of the training loop (CUDA, mixed precision) and of Grad-CAM on the
EfficientNet-Lite0 backbone, for a box without dlib/face_recognition:

    python3 bench/train_gpu_smoke.py [OUT_DIR]

Face crops are made directly (the astronaut's head; fakes: its face blended with a warped,
colour-shifted copy), so no face detection runs; everything else is the real engine code.
Prints one JSON line and exits non-zero on failure.
"""

from __future__ import annotations

import json
import sys
import time
import types
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

if "face_recognition" not in sys.modules:
    try:
        import face_recognition  # noqa: F401
    except ImportError:  # only the predictor's face finder needs it; not used here
        sys.modules["face_recognition"] = types.ModuleType("face_recognition")

import cv2  # noqa: E402
import numpy as np  # noqa: E402
import torch  # noqa: E402


def head() -> np.ndarray:
    from skimage import data

    return np.ascontiguousarray(data.astronaut()[10:250, 100:340][:, :, ::-1])


def fake_of(image: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    h, w = image.shape[:2]
    m = cv2.getRotationMatrix2D((w / 2, h / 2), rng.uniform(-4, 4), rng.uniform(0.94, 1.06))
    warped = cv2.warpAffine(image, m, (w, h), borderMode=cv2.BORDER_REFLECT).astype(np.float32)
    warped = np.clip(warped * rng.uniform(0.75, 1.3, (1, 1, 3)) + rng.uniform(-25, 25), 0, 255)
    mask = np.zeros((h, w), np.float32)
    cv2.ellipse(mask, (w // 2, int(h * 0.45)), (w // 4, int(h * 0.3)), 0, 0, 360, 1.0, -1)
    mask = cv2.GaussianBlur(mask, (0, 0), 3)[..., None]
    return (mask * warped + (1 - mask) * image).astype(np.uint8)


def material(size: int = 128):
    from detection.engine.datasets import Sample
    from detection.engine.facecache import FaceCrops
    from detection.engine.train import Material

    rng = np.random.default_rng(0)
    base = cv2.resize(head(), (size, size), interpolation=cv2.INTER_AREA)
    samples, crops = [], {}
    for label in ("real", "fake"):
        for i in range(12):
            frames = []
            for k in range(6):
                shifted = np.roll(base, (int(rng.integers(-4, 5)), int(rng.integers(-4, 5))), axis=(0, 1))
                frames.append(fake_of(shifted, np.random.default_rng(i * 10 + k)) if label == "fake" else shifted)
            sample = Sample(f"/synthetic/{label}/{i}.mp4", label, "video", "synthetic",
                            "none" if label == "real" else "blend", f"{label}{i}", f"{label}{i}")
            samples.append(sample)
            crops[sample.path] = FaceCrops(np.stack(frames), np.full((6, 68, 2), np.nan, np.float32),
                                           np.arange(6, dtype=np.int32), np.ones(6, bool))
    val = [s for s in samples if s.group.endswith(("0", "1", "2"))]
    train = [s for s in samples if s not in val]
    return Material(train, val, crops)


def main() -> int:
    from detection.engine import train as tr
    from detection.engine.checkpoint import load_checkpoint
    from detection.engine.predictor import Predictor

    out = Path(sys.argv[1] if len(sys.argv) > 1 else "var/train/gpu-smoke")
    prepared = material()
    tr.prepare = lambda config: prepared  # no face detection on this box
    config = tr.TrainConfig(data=["synthetic"], out_dir=str(out), backbone="efficientnet_lite0", hidden_size=64,
                            frame_epochs=3, sequence_epochs=2, epoch_samples=256, batch_size=32, self_blend=0.0,
                            device="auto", amp=True, progress=False, sequence_length=4, views_per_image=2)
    started = time.perf_counter()
    result = tr.train(config)
    seconds = time.perf_counter() - started
    loaded = load_checkpoint(out / "best.pt")
    device = "cuda" if torch.cuda.is_available() else "cpu"
    predictor = Predictor(loaded, device=device)
    crops = [cv2.resize(c, (112, 112)) for c in prepared.crops[prepared.val[0].path].crops]
    fmaps, frame_probs, video_prob, aggregation = predictor._score(crops, seed_exact=False)
    from detection.engine.cam import grad_cam_from_feature_maps

    cams = grad_cam_from_feature_maps(predictor.model, fmaps[:2], size=(112, 112))
    history = result["history"]
    report = {
        "device": device,
        "gpu": torch.cuda.get_device_name(0) if device == "cuda" else None,
        "amp": device == "cuda",
        "seconds": round(seconds, 1),
        "losses": [round(h["train_loss"], 4) for h in history],
        "val_video_auc": [h["val_video_auc"] for h in history],
        "best_auc": result["best_auc"],
        "video_prob": video_prob,
        "aggregation": aggregation,
        "frame_probs": [round(p, 4) for p in frame_probs],
        "cam_shape": list(cams[0].shape),
        "cam_range": [float(cams[0].min()), float(cams[0].max())],
    }
    print(json.dumps(report))
    ok = (all(np.isfinite(report["losses"])) and 0 <= video_prob <= 1 and report["losses"][-1] < report["losses"][0]
          and cams[0].shape == (112, 112))
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
