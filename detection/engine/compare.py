"""Detectors side by side on the same held-out videos, as uploaded and re-encoded to H.264 at
FaceForensics++'s c23 and c40 quantisers; and the ensemble of them, built on validation data
only. Plain PyTorch, no Django.

The held-out split of the training corpus (grouped by source video; every checkpoint compared
must have been trained with the same split) is cut again, by source video, into a validation
half and a test half (``datasets.halves``). On the validation half, and only there: each
member's weight in the ensemble (a small grid, by method-balanced AUC: the mean over manipulation
methods of each method's AUC against all reals, so that the corpus's many DFDC fakes do not
decide alone), the ensemble's Platt scaling (temperature and bias) and its two band thresholds.
The test half is only reported on: ROC AUC with a bootstrap 95% interval over videos, overall,
per source, per manipulation method and per compression, for each member and the ensemble in
one table.

Compression is applied to the cached face crops (a video's crops as one H.264 clip, an image's
as one frame): what a c23 or c40 encode does to the face region, though not to the face
finding that a full re-encoded frame would also change.

    python -m detection.engine.compare models/a.pt var/train/b/best.pt --data ../shared/data/train \\
        --cache-dir var/facecache/corpus --out var/compare --ensemble models/mine.json
"""

from __future__ import annotations

import argparse
import itertools
import json
import logging
import sys
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path

import numpy as np
import torch

from detection.engine.augment import h264_roundtrip
from detection.engine.calibrate import bootstrap_auc
from detection.engine.calibration import (
    Calibration,
    band_report,
    choose_thresholds,
    expected_calibration_error,
    fit_platt,
    reliability,
)
from detection.engine.checkpoint import load_checkpoint
from detection.engine.datasets import Sample, grouped_split, halves, load_samples
from detection.engine.devices import resolve_device
from detection.engine.ensemble import combine, write_manifest
from detection.engine.evaluate import roc_auc, score
from detection.engine.facecache import CacheSettings, FaceCrops, build_cache

log = logging.getLogger("compare")
CONDITIONS = {"as uploaded": None, "H.264 c23": 23, "H.264 c40": 40}
WEIGHT_GRID = (0.0, 0.5, 1.0, 2.0)


def recompress(crops: dict[str, FaceCrops], samples: Sequence[Sample], qp: int | None) -> dict[str, FaceCrops]:
    if qp is None:
        return crops
    out = {}
    for sample in samples:
        item = crops[sample.path]
        frames = h264_roundtrip(list(item.crops), qp) if sample.kind == "video" else [
            h264_roundtrip([image], qp)[0] for image in item.crops]
        out[sample.path] = replace(item, crops=np.stack(frames))
    return out


def video_scores(checkpoint: Path, samples, crops, device) -> dict[str, tuple[int, float, str, str]]:
    """unit -> (is_fake, calibrated p, source, method) for one checkpoint."""
    loaded = load_checkpoint(checkpoint)
    calibration = Calibration.from_dict((loaded.metadata.metrics or {}).get("calibration"))
    model = loaded.model.to(device, memory_format=torch.channels_last).eval()
    _, videos = score(model, samples, crops, loaded.metadata.preprocessing(), device)
    return {v.unit: (int(v.is_fake), calibration.probability(v.p_fake), v.source, v.method) for v in videos}


def auc_row(rows: list[tuple[int, float]]) -> dict:
    labels, scores = [r[0] for r in rows], [r[1] for r in rows]
    low, high = bootstrap_auc(labels, scores)
    return {"videos": len(rows), "fakes": sum(labels), "auc": roc_auc(labels, scores), "auc_95": [low, high]}


def breakdown(scored: dict[str, tuple[int, float, str, str]]) -> dict:
    rows = list(scored.values())
    by = {"source": defaultdict(list), "method": defaultdict(list)}
    for is_fake, p, source, method in rows:
        by["source"][source].append((is_fake, p))
        # A method's AUC needs reals: every method is judged against all the real videos.
        if is_fake:
            by["method"][method].append((is_fake, p))
    reals = [(f, p) for f, p, _, _ in rows if not f]
    return {
        "overall": auc_row([(f, p) for f, p, _, _ in rows]),
        "per_source": {k: auc_row(v) for k, v in sorted(by["source"].items())},
        "per_method": {k: auc_row(v + reals) for k, v in sorted(by["method"].items())},
    }


def method_balanced_auc(labels: Sequence[int], probabilities: Sequence[float], methods: Sequence[str]) -> float | None:
    """The mean over manipulation methods of the AUC of that method's fakes against all the reals:
    each kind of fake counts the same, however many of them the corpus happens to hold."""
    reals = [p for label, p in zip(labels, probabilities, strict=True) if not label]
    aucs = []
    for method in sorted({m for label, m in zip(labels, methods, strict=True) if label}):
        fakes = [p for label, p, m in zip(labels, probabilities, methods, strict=True) if label and m == method]
        aucs.append(roc_auc([1] * len(fakes) + [0] * len(reals), fakes + reals))
    aucs = [a for a in aucs if a is not None]
    return float(np.mean(aucs)) if aucs else None


def compare(checkpoints: Sequence[str | Path], data: Sequence[str], *, cache_dir: str, device: str = "auto",
            precision: float = 0.9, miss_rate: float = 0.1, choose_by: str = "methods", progress: bool = True) -> dict:
    """choose_by: "methods" (weights by method-balanced AUC on validation) or "pooled" (by plain AUC)."""
    metas = [load_checkpoint(c).metadata.metrics.get("training", {}) for c in checkpoints]
    splits = {(m.get("val_fraction", 0.2), m.get("seed", 0)) for m in metas}
    if len(splits) != 1:
        raise ValueError(f"the checkpoints were trained on different splits ({sorted(splits)}): not comparable")
    val_fraction, seed = splits.pop()
    samples = [s for root in data for s in load_samples(root)]
    _, held_out = grouped_split(samples, val_fraction, seed)
    settings = CacheSettings(size=metas[0].get("cache_size", 128), frames=metas[0].get("video_frames", 20))
    crops = build_cache(held_out, cache_dir, settings, progress=progress, log=log.info)
    validation, test = halves([s for s in held_out if s.path in crops])
    dev = resolve_device(device)
    names = [Path(c).stem if Path(c).stem not in ("best", "last") else Path(c).parent.name for c in checkpoints]

    scores: dict[str, dict[str, dict[str, dict]]] = {"validation": {}, "test": {}}
    for half, chosen in (("validation", validation), ("test", test)):
        for condition, qp in CONDITIONS.items():
            log.info("%s half, %s: %d samples", half, condition, len(chosen))
            shown = recompress(crops, chosen, qp)
            scores[half][condition] = {name: video_scores(Path(c), chosen, shown, dev)
                                       for name, c in zip(names, checkpoints, strict=True)}

    # Choices, on the validation half only, pooled over the three compressions.
    def pooled(half: str, weights: Sequence[float]) -> tuple[list[int], list[float], list[str]]:
        labels, probabilities, methods = [], [], []
        for by_name in scores[half].values():
            for unit, (is_fake, _, _, method) in by_name[names[0]].items():
                labels.append(is_fake)
                probabilities.append(combine([by_name[n][unit][1] for n in names], list(weights)))
                methods.append(method)
        return labels, probabilities, methods

    candidates = []
    for weights in (w for w in itertools.product(WEIGHT_GRID, repeat=len(names)) if sum(w) > 0):
        labels, probabilities, methods = pooled("validation", weights)
        candidates.append({"weights": list(weights), "pooled_auc": roc_auc(labels, probabilities),
                           "method_balanced_auc": method_balanced_auc(labels, probabilities, methods)})
    criterion = {"methods": "method_balanced_auc", "pooled": "pooled_auc"}[choose_by]
    candidates.sort(key=lambda c: (c[criterion] or 0, c["pooled_auc"] or 0, sum(x > 0 for x in c["weights"])),
                    reverse=True)
    chosen_weights = candidates[0]["weights"]
    labels, raw, _ = pooled("validation", chosen_weights)
    # Platt scaling: weighted member logits can lean to one side, which a temperature cannot move.
    temperature, bias = fit_platt(raw, labels)
    scaled = Calibration(temperature=temperature, bias=bias)
    validation_calibrated = [scaled.probability(p) for p in raw]
    clear_below, likely_at = choose_thresholds(validation_calibrated, labels, precision=precision, miss_rate=miss_rate)
    calibration = Calibration(
        temperature=temperature, bias=bias, likely_at=likely_at, clear_below=clear_below,
        fitted_on="the validation half of the grouped held-out split, as uploaded and re-encoded at H.264 c23 and "
                  f"c40 (members' weights, Platt scaling and thresholds chosen there); targets: precision "
                  f"{precision:.0%} for 'manipulated', miss rate {miss_rate:.0%} for 'no manipulation found'")
    validation_ece = {"before": expected_calibration_error(raw, labels),
                      "after": expected_calibration_error(validation_calibrated, labels)}

    table = {}
    for condition in CONDITIONS:
        by_name = scores["test"][condition]
        table[condition] = {name: breakdown(by_name[name]) for name in names}
        ensemble = {unit: (f, calibration.probability(combine([by_name[n][unit][1] for n in names],
                                                              list(chosen_weights))), s, m)
                    for unit, (f, _, s, m) in by_name[names[0]].items()}
        table[condition]["ensemble"] = breakdown(ensemble)
    test_labels, test_raw, _ = pooled("test", chosen_weights)
    test_calibrated = [calibration.probability(p) for p in test_raw]
    calibration = replace(calibration, metrics={"test_half": {
        "videos": len(test_labels), "fakes": sum(test_labels), "conditions": list(CONDITIONS),
        "auc": roc_auc(test_labels, test_calibrated),
        "ece_before": expected_calibration_error(test_raw, test_labels),
        "ece_after": expected_calibration_error(test_calibrated, test_labels),
        "reliability_before": reliability(test_raw, test_labels),
        "reliability_after": reliability(test_calibrated, test_labels),
        "bands": band_report(test_calibrated, test_labels, calibration)}})
    # What a choice between these detectors (or recipes) may look at: AUC on the validation half.
    validation_auc = {condition: {name: roc_auc(*zip(*[(f, p) for f, p, _, _ in by_name[name].values()]))
                                  for name in names} for condition, by_name in scores["validation"].items()}
    return {"members": names, "checkpoints": [str(c) for c in checkpoints], "weights": list(chosen_weights),
            "calibration": calibration.to_dict(), "table": table, "validation_auc": validation_auc,
            "choice": {"criterion": criterion, "candidates": candidates[:10]}, "validation_ece": validation_ece,
            "split": {"val_fraction": val_fraction, "seed": seed, "validation_samples": len(validation),
                      "test_samples": len(test)}}


def markdown_table(result: dict) -> str:
    """One table: a row per detector and compression, AUC [95% interval] overall and per source."""
    def cell(row):
        if row["auc"] is None:
            return "n/a"
        low, high = row["auc_95"]
        return f"{row['auc']:.3f} ({low:.2f}-{high:.2f})" if low is not None else f"{row['auc']:.3f}"

    first = next(iter(result["table"].values()))
    any_detector = next(iter(first.values()))
    sources, methods = list(any_detector["per_source"]), list(any_detector["per_method"])
    head = ["compression", "detector", "all"] + sources + [f"method: {m}" for m in methods]
    lines = ["| " + " | ".join(head) + " |", "|" + " --- |" * len(head)]
    for condition, by_name in result["table"].items():
        for name, figures in by_name.items():
            cells = [condition, name, cell(figures["overall"])]
            cells += [cell(figures["per_source"].get(s, {"auc": None})) for s in sources]
            cells += [cell(figures["per_method"].get(m, {"auc": None})) for m in methods]
            lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s", stream=sys.stderr)
    p = argparse.ArgumentParser(prog="python -m detection.engine.compare", description=__doc__.split("\n\n")[0])
    p.add_argument("checkpoints", nargs="+", help="calibrated checkpoints (the first leads the ensemble)")
    p.add_argument("--data", action="append", required=True, help="dataset root (repeatable)")
    p.add_argument("--cache-dir", default="var/facecache")
    p.add_argument("--device", default="auto")
    p.add_argument("--out", default="var/compare", help="folder for compare.json and compare.md")
    p.add_argument("--ensemble", default="", help="write the ensemble's manifest here (beside its members)")
    p.add_argument("--description", default="", help="the manifest's one-line description")
    p.add_argument("--choose-by", default="methods", choices=["methods", "pooled"],
                   help="the ensemble's weights by method-balanced AUC (each kind of fake counts the same, the "
                        "default) or by plain AUC over all validation videos")
    args = p.parse_args(argv)
    try:
        result = compare(args.checkpoints, args.data, cache_dir=args.cache_dir, device=args.device,
                         choose_by=args.choose_by)
    except (ValueError, FileNotFoundError) as error:
        log.error("%s", error)
        return 2
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    (out / "compare.json").write_text(json.dumps(result, indent=1))
    (out / "compare.md").write_text(markdown_table(result) + "\n")
    print(markdown_table(result))
    print(json.dumps({"validation_auc": result["validation_auc"], "choice": result["choice"]["candidates"][:3],
                      "weights": dict(zip(result["members"], result["weights"], strict=True)),
                      "calibration": {k: v for k, v in result["calibration"].items() if k != "metrics"}}, indent=1))
    if args.ensemble:
        members = [(c, w) for c, w in zip(args.checkpoints, result["weights"], strict=True) if w > 0]
        sha = write_manifest(args.ensemble, members, Calibration.from_dict(result["calibration"]),
                             description=args.description, metrics={"comparison": {
                                 "table": result["table"], "weights": result["weights"], "split": result["split"]}})
        print(f"ensemble manifest {args.ensemble} (sha256 {sha})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
