"""Fit a detector's calibration and verdict bands on validation data, and say on test data
that no choice saw how well they hold. Plain PyTorch, no Django.

The checkpoint's held-out split (the grouped split its training recorded) is cut again, by
source video, into a calibration half (the temperature and the two thresholds are chosen
there) and a test half (only reported on). The result goes into the checkpoint's metrics
under "calibration", where the predictor reads it.

    python -m detection.engine.calibrate models/x.pt --data ../shared/data/train --out var/calibrate/x
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path

import numpy as np
import torch

from detection.engine.calibration import (
    Calibration,
    band_report,
    choose_thresholds,
    expected_calibration_error,
    fit_temperature,
    reliability,
)
from detection.engine.checkpoint import load_checkpoint, save_checkpoint
from detection.engine.datasets import grouped_split, halves, load_samples
from detection.engine.devices import resolve_device
from detection.engine.evaluate import Scored, roc_auc, score
from detection.engine.facecache import CacheSettings, build_cache

log = logging.getLogger("calibrate")
BOOTSTRAP_ROUNDS = 1000


def bootstrap_auc(labels: Sequence[int], scores: Sequence[float], rounds: int = BOOTSTRAP_ROUNDS,
                  seed: int = 0) -> tuple[float | None, float | None]:
    """95% percentile interval of the ROC AUC over resampled videos."""
    rng = np.random.default_rng(seed)
    y, p = np.asarray(labels), np.asarray(scores)
    values = []
    for _ in range(rounds):
        pick = rng.integers(0, len(y), len(y))
        auc = roc_auc(y[pick].tolist(), p[pick].tolist())
        if auc is not None:
            values.append(auc)
    if not values:
        return None, None
    return float(np.percentile(values, 2.5)), float(np.percentile(values, 97.5))


def _summary(videos: Sequence[Scored], calibration: Calibration) -> dict:
    labels = [int(v.is_fake) for v in videos]
    raw = [v.p_fake for v in videos]
    calibrated = [calibration.probability(p) for p in raw]
    low, high = bootstrap_auc(labels, raw)
    by_source = defaultdict(list)
    for video, p in zip(videos, calibrated):
        by_source[video.source].append((int(video.is_fake), p))
    return {
        "videos": len(videos), "fakes": sum(labels),
        "auc": roc_auc(labels, raw), "auc_95": [low, high],
        "ece_before": expected_calibration_error(raw, labels),
        "ece_after": expected_calibration_error(calibrated, labels),
        "reliability_before": reliability(raw, labels), "reliability_after": reliability(calibrated, labels),
        "bands": band_report(calibrated, labels, calibration),
        "per_source": {
            source: {"videos": len(rows), "auc": roc_auc([r[0] for r in rows], [r[1] for r in rows]),
                     "auc_95": list(bootstrap_auc([r[0] for r in rows], [r[1] for r in rows])),
                     "bands": band_report([r[1] for r in rows], [r[0] for r in rows], calibration)}
            for source, rows in sorted(by_source.items())
        },
    }


def calibrate_checkpoint(checkpoint: str | Path, data: Sequence[str], *, precision: float = 0.9,
                         miss_rate: float = 0.1, cache_dir: str = "var/facecache", device: str = "auto",
                         out_dir: str | Path | None = None, update_checkpoint: bool = False,
                         progress: bool = True) -> dict:
    loaded = load_checkpoint(checkpoint)
    trained = (loaded.metadata.metrics or {}).get("training", {})
    samples = [s for root in data for s in load_samples(root)]
    _, held_out = grouped_split(samples, trained.get("val_fraction", 0.2), trained.get("seed", 0))
    settings = CacheSettings(size=trained.get("cache_size", 128), frames=trained.get("video_frames", 20))
    crops = build_cache(held_out, cache_dir, settings, progress=progress, log=log.info)
    usable = [s for s in held_out if s.path in crops]
    fit_on, test_on = halves(usable)
    dev = resolve_device(device)
    model = loaded.model.to(dev, memory_format=torch.channels_last).eval()
    prep = loaded.metadata.preprocessing()
    _, fit_videos = score(model, fit_on, crops, prep, dev)
    _, test_videos = score(model, test_on, crops, prep, dev)

    fit_labels = [int(v.is_fake) for v in fit_videos]
    scaled = Calibration(temperature=fit_temperature([v.p_fake for v in fit_videos], fit_labels))
    calibrated = [scaled.probability(v.p_fake) for v in fit_videos]
    clear_below, likely_at = choose_thresholds(calibrated, fit_labels, precision=precision, miss_rate=miss_rate)
    calibration = Calibration(
        temperature=scaled.temperature, likely_at=likely_at, clear_below=clear_below,
        fitted_on="the checkpoint's grouped held-out split, cut again by source video into a calibration half "
                  "(temperature and thresholds chosen there) and a test half (reported only); targets: precision "
                  f"{precision:.0%} for 'manipulated', miss rate {miss_rate:.0%} for 'no manipulation found'",
    )
    test = _summary(test_videos, calibration)
    calibration = replace(calibration, metrics={"test_half": {
        key: test[key] for key in ("videos", "fakes", "auc", "auc_95", "ece_before", "ece_after", "bands",
                                   "reliability_before", "reliability_after")}})
    result = {"calibration": calibration.to_dict(), "calibration_half": _summary(fit_videos, calibration),
              "test_half": test}
    if out_dir:
        out = Path(out_dir)
        out.mkdir(parents=True, exist_ok=True)
        (out / "calibration.json").write_text(json.dumps(result, indent=1))
    if update_checkpoint:
        meta = loaded.metadata
        meta.metrics = {**(meta.metrics or {}), "calibration": calibration.to_dict()}
        payload = torch.load(checkpoint, map_location="cpu", weights_only=True)
        mode = Path(checkpoint).stat().st_mode & 0o777
        result["checkpoint_sha256"] = save_checkpoint(loaded.model.cpu(), checkpoint, meta,
                                                      half=payload.get("storage_dtype") == "float16")
        Path(checkpoint).chmod(mode)
    return result


def main(argv: list[str] | None = None) -> int:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s", stream=sys.stderr)
    p = argparse.ArgumentParser(prog="python -m detection.engine.calibrate", description=__doc__.split("\n\n")[0])
    p.add_argument("checkpoint")
    p.add_argument("--data", action="append", required=True, help="dataset root (repeatable)")
    p.add_argument("--precision", type=float, default=0.9, help="precision wanted of 'manipulated' (0.9)")
    p.add_argument("--miss-rate", type=float, default=0.1, help="share of fakes allowed in 'no manipulation' (0.1)")
    p.add_argument("--cache-dir", default="var/facecache")
    p.add_argument("--device", default="auto")
    p.add_argument("--out", default="", help="folder for calibration.json")
    p.add_argument("--update-checkpoint", action="store_true", help="store the calibration in the checkpoint")
    args = p.parse_args(argv)
    try:
        result = calibrate_checkpoint(args.checkpoint, args.data, precision=args.precision,
                                      miss_rate=args.miss_rate, cache_dir=args.cache_dir, device=args.device,
                                      out_dir=args.out or None, update_checkpoint=args.update_checkpoint)
    except (ValueError, FileNotFoundError) as error:
        log.error("%s", error)
        return 2
    summary = {half: {k: result[half][k] for k in ("videos", "auc", "auc_95", "ece_before", "ece_after", "bands")}
               for half in ("calibration_half", "test_half")}
    print(json.dumps({"calibration": {k: v for k, v in result["calibration"].items() if k != "metrics"},
                      **summary}, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
