"""Evaluating a detector: ``python -m detection.engine.evaluate CHECKPOINT --data ROOT [...]``.

Metrics (positive class = fake, threshold 0.5 on the fake probability), written with numpy:
accuracy, balanced accuracy, ROC AUC (the Mann-Whitney statistic, ties counted half), log
loss (probabilities clipped to [1e-7, 1 - 1e-7]), confusion counts, and the ROC curve.
Figures are video-level (one score per video; for image-only sources one per source video,
see ``Sample.unit``) with a per-source and per-manipulation breakdown; frame-level figures
are reported beside them. The report is the structure the detector page and the API show
(``DetectorModel.metrics``), saved as JSON with a ROC curve PNG, and optionally written back
into the checkpoint (re-saved atomically: its sha256 changes). ``score`` runs a model over
cached face crops; training's validation calls it too, so both report the same figures
(imports go one way: train imports evaluate, never the reverse).
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from detection.engine.augment import plain
from detection.engine.checkpoint import load_checkpoint, save_checkpoint
from detection.engine.datasets import Sample, grouped_split, load_samples
from detection.engine.devices import autocast, resolve_device
from detection.engine.facecache import CacheSettings, FaceCrops, build_cache
from detection.engine.model import FAKE, BackboneLSTM
from detection.engine.preprocess import Preprocessing, to_tensor

log = logging.getLogger("detection.evaluate")
EPS = 1e-7
ROC_POINTS = 101


@dataclass
class Scored:
    is_fake: int
    p_fake: float
    source: str = ""
    method: str = ""
    unit: str = ""


def roc_auc(y_true: Sequence[int], scores: Sequence[float]) -> float | None:
    """Probability that a random fake scores above a random real (ties count half); None
    when only one class is present."""
    y = np.asarray(y_true, dtype=int)
    s = np.asarray(scores, dtype=float)
    pos, neg = s[y == 1], s[y == 0]
    if len(pos) == 0 or len(neg) == 0:
        return None
    # rank-based: average ranks handle ties
    order = np.argsort(np.concatenate([pos, neg]), kind="mergesort")
    values = np.concatenate([pos, neg])[order]
    ranks = np.empty(len(values))
    i = 0
    while i < len(values):
        j = i
        while j + 1 < len(values) and values[j + 1] == values[i]:
            j += 1
        ranks[i : j + 1] = (i + j) / 2 + 1
        i = j + 1
    rank_of = np.empty(len(values))
    rank_of[order] = ranks
    pos_ranks = rank_of[: len(pos)].sum()
    return float((pos_ranks - len(pos) * (len(pos) + 1) / 2) / (len(pos) * len(neg)))


def roc_curve(y_true: Sequence[int], scores: Sequence[float], max_points: int = ROC_POINTS) -> dict:
    """{"fpr": [...], "tpr": [...]} from (0, 0) to (1, 1), one point per distinct threshold,
    thinned to at most ``max_points`` (the first and last kept)."""
    y = np.asarray(y_true, dtype=int)
    s = np.asarray(scores, dtype=float)
    pos, neg = int((y == 1).sum()), int((y == 0).sum())
    if pos == 0 or neg == 0:
        return {"fpr": [], "tpr": []}
    order = np.argsort(-s, kind="mergesort")
    s_sorted, y_sorted = s[order], y[order]
    distinct = np.r_[np.nonzero(np.diff(s_sorted))[0], len(s_sorted) - 1]
    tps = np.cumsum(y_sorted)[distinct]
    fps = (distinct + 1) - tps
    fpr = np.r_[0.0, fps / neg]
    tpr = np.r_[0.0, tps / pos]
    if len(fpr) > max_points:
        keep = np.unique(np.round(np.linspace(0, len(fpr) - 1, max_points)).astype(int))
        fpr, tpr = fpr[keep], tpr[keep]
    return {"fpr": [round(float(v), 6) for v in fpr], "tpr": [round(float(v), 6) for v in tpr]}


def binary_metrics(y_true: Sequence[int], p_fake: Sequence[float], threshold: float = 0.5) -> dict:
    y = np.asarray(y_true, dtype=int)
    p = np.asarray(p_fake, dtype=float)
    if len(y) == 0:
        raise ValueError("no scores to evaluate")
    pred = (p >= threshold).astype(int)
    tp = int(((pred == 1) & (y == 1)).sum())
    fp = int(((pred == 1) & (y == 0)).sum())
    fn = int(((pred == 0) & (y == 1)).sum())
    tn = int(((pred == 0) & (y == 0)).sum())
    rates = []
    if tp + fn:
        rates.append(tp / (tp + fn))
    if tn + fp:
        rates.append(tn / (tn + fp))
    clipped = np.clip(p, EPS, 1 - EPS)
    log_loss = float(-np.mean(y * np.log(clipped) + (1 - y) * np.log(1 - clipped)))
    return {
        "samples": int(len(y)),
        "roc_auc": roc_auc(y, p),
        "accuracy": float((pred == y).mean()),
        "balanced_accuracy": float(np.mean(rates)),
        "log_loss": log_loss,
        "threshold": threshold,
        "confusion": {"tp": tp, "fp": fp, "fn": fn, "tn": tn},
    }


def _group_figures(items: list[Scored], threshold: float) -> dict:
    y = [s.is_fake for s in items]
    p = [s.p_fake for s in items]
    return {
        "samples": len(items),
        "roc_auc": roc_auc(y, p),
        "accuracy": float(np.mean([(pi >= threshold) == bool(yi) for yi, pi in zip(y, p)])),
    }


def breakdown(items: Sequence[Scored], key: str, threshold: float = 0.5) -> dict:
    """Figures per source or per method. For ``method``, a manipulation's AUC compares its
    fakes with every real of the evaluated set (its own group has no reals); reals are
    listed under their own method ("none") with AUC None."""
    groups: dict[str, list[Scored]] = {}
    for item in items:
        groups.setdefault(getattr(item, key) or "unknown", []).append(item)
    reals = [s for s in items if not s.is_fake]
    result = {}
    for name, members in sorted(groups.items()):
        figures = _group_figures(members, threshold)
        if key == "method" and all(s.is_fake for s in members) and reals:
            figures["roc_auc"] = roc_auc([1] * len(members) + [0] * len(reals),
                                         [s.p_fake for s in members] + [s.p_fake for s in reals])
        result[name] = figures
    return result


def report(videos: Sequence[Scored], frames: Sequence[Scored] = (), split: str = "", threshold: float = 0.5) -> dict:
    """The metrics structure of DetectorModel.metrics, video-level, with frame-level figures."""
    y = [s.is_fake for s in videos]
    p = [s.p_fake for s in videos]
    result = {"split": split, **binary_metrics(y, p, threshold)}
    result["level"] = "video"
    result["by_source"] = breakdown(videos, "source", threshold)
    result["by_method"] = breakdown(videos, "method", threshold)
    result["roc"] = roc_curve(y, p)
    if frames:
        frame = binary_metrics([s.is_fake for s in frames], [s.p_fake for s in frames], threshold)
        frame.pop("threshold")
        frame["by_source"] = breakdown(frames, "source", threshold)
        result["frame_level"] = frame
    return result


def plot_roc(metrics: dict, path: str | Path, title: str = "ROC (video level)") -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(4.5, 4.5), dpi=100)
    roc = metrics.get("roc") or {}
    auc = metrics.get("roc_auc")
    ax.plot(roc.get("fpr", []), roc.get("tpr", []), label=f"AUC {auc:.3f}" if auc is not None else "AUC n/a")
    ax.plot([0, 1], [0, 1], "--", color="grey", linewidth=0.8)
    ax.set_xlabel("false positive rate (reals called fake)")
    ax.set_ylabel("true positive rate (fakes caught)")
    ax.set_title(title)
    ax.legend(loc="lower right")
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)


def plot_curves(history: list[dict], path: str | Path) -> None:
    """Loss and accuracy per epoch (train and validation) as a PNG."""
    if not history:
        return
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    x = list(range(1, len(history) + 1))
    labels = [f"{h['stage'][0]}{h['epoch']}" for h in history]
    fig, (left, right) = plt.subplots(1, 2, figsize=(10, 4), dpi=100)
    left.plot(x, [h["train_loss"] for h in history], "o-", label="train loss")
    left.plot(x, [h.get("val_loss") for h in history], "o-", label="validation log loss (frames)")
    left.set_title("loss")
    right.plot(x, [h["train_accuracy"] for h in history], "o-", label="train accuracy")
    right.plot(x, [h.get("val_accuracy") for h in history], "o-", label="validation accuracy (frames)")
    right.plot(x, [h.get("val_video_auc") for h in history], "s--", label="validation AUC (videos)")
    right.set_title("accuracy / AUC")
    for ax in (left, right):
        ax.set_xticks(x, labels)
        ax.set_xlabel("epoch (f = frame stage, s = sequence stage)")
        ax.legend()
        ax.grid(alpha=0.3)
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)


# ---------------------------------------------------------------------------------------
# scoring a model (training's validation uses these too)


@torch.no_grad()
def frame_features(model: BackboneLSTM, images: list[np.ndarray], prep: Preprocessing,
                   device: torch.device, batch: int = 64) -> torch.Tensor:
    model.eval()
    out = []
    for start in range(0, len(images), batch):
        x = to_tensor(images[start : start + batch], prep).to(device)
        x = x.contiguous(memory_format=torch.channels_last)
        with autocast(device):
            out.append(model.features(x).float())
    return torch.cat(out) if out else torch.zeros(0, model.feature_size, device=device)


@torch.no_grad()
def score(model: BackboneLSTM, samples: list[Sample], crops: dict[str, FaceCrops], prep: Preprocessing,
          device: torch.device, sequence_length: int = 20) -> tuple[list[Scored], list[Scored]]:
    """Frame-level and video-level fake probabilities for samples (no augmentation).

    A video's crops are its frames; an image's "video" is its unit (source video): its
    crops in order, repeated to ``sequence_length`` frames for the LSTM, as a 20-frame clip
    of one still face would be.
    """
    images, owners = [], []
    for sample in samples:
        for image in crops[sample.path].crops:
            images.append(plain(image, prep.input_size))
            owners.append(sample)
    feats = frame_features(model, images, prep, device)
    frame_probs = torch.softmax(model.classify_frames(feats).float(), 1)[:, FAKE].cpu().numpy()
    frames = [Scored(s.is_fake, float(p), s.source, s.method, s.unit) for s, p in zip(owners, frame_probs)]
    units: dict[str, list[int]] = {}
    for i, sample in enumerate(owners):
        units.setdefault(sample.unit, []).append(i)
    videos = []
    for unit, rows in units.items():
        sample = owners[rows[0]]
        if sample.kind == "image":
            rows = [rows[k % len(rows)] for k in range(max(sequence_length, len(rows)))]
        logits = model.classify_sequence(feats[rows].unsqueeze(0))
        p = float(torch.softmax(logits.float(), 1)[0, FAKE])
        videos.append(Scored(sample.is_fake, p, sample.source, sample.method, unit))
    return frames, videos


# ---------------------------------------------------------------------------------------


def evaluate_checkpoint(
    checkpoint: str | Path,
    data: Sequence[str],
    *,
    split: str = "val",
    layout: str = "auto",
    val_fraction: float | None = None,
    seed: int | None = None,
    cache_dir: str = "var/facecache",
    device: str = "auto",
    out_dir: str | Path | None = None,
    update_checkpoint: bool = False,
    progress: bool = True,
) -> dict:
    """Score a checkpoint on a dataset's held-out split (``val``: the grouped split the
    training used, read from the checkpoint when it recorded one) or on all of it (``all``).
    Returns the report; writes report.json and roc.png into ``out_dir`` when given; with
    ``update_checkpoint`` stores the report as the checkpoint's metrics (new sha256)."""
    loaded = load_checkpoint(checkpoint)
    trained = (loaded.metadata.metrics or {}).get("training", {})
    val_fraction = val_fraction if val_fraction is not None else trained.get("val_fraction", 0.2)
    seed = seed if seed is not None else trained.get("seed", 0)
    samples = []
    for root in data:
        samples += load_samples(root, layout)
    if split == "val":
        _, samples = grouped_split(samples, val_fraction, seed)
        where = (f"grouped held-out split of {', '.join(data)} ({val_fraction:.0%} of the source videos of each "
                 f"source, seed {seed}; no source video on both sides)")
    elif split == "all":
        where = f"all of {', '.join(data)}"
    else:
        raise ValueError(f"unknown split {split!r}: use val or all")
    settings = CacheSettings(size=trained.get("cache_size", 128), frames=trained.get("video_frames", 20))
    crops = build_cache(samples, cache_dir, settings, progress=progress, log=log.info)
    usable = [s for s in samples if s.path in crops]
    if not usable:
        raise ValueError("no sample with a usable face to evaluate")
    dev = resolve_device(device)
    model = loaded.model.to(dev, memory_format=torch.channels_last).eval()
    frames, videos = score(model, usable, crops, loaded.metadata.preprocessing(), dev)
    result = report(videos, frames, split=f"{where}; video level: one score per video (images: per source video)")
    result["excluded_no_face"] = len(samples) - len(usable)
    result["checkpoint_sha256_before"] = loaded.sha256
    if out_dir:
        out = Path(out_dir)
        out.mkdir(parents=True, exist_ok=True)
        (out / "report.json").write_text(json.dumps(result, indent=1))
        plot_roc(result, out / "roc.png")
    if update_checkpoint:
        meta = loaded.metadata
        metrics = dict(result)
        metrics.pop("checkpoint_sha256_before", None)
        if trained:
            metrics["training"] = trained
        meta.metrics = metrics
        payload = torch.load(checkpoint, map_location="cpu", weights_only=True)
        half = payload.get("storage_dtype") == "float16"
        mode = Path(checkpoint).stat().st_mode & 0o777
        result["checkpoint_sha256"] = save_checkpoint(loaded.model.cpu(), checkpoint, meta, half=half)
        Path(checkpoint).chmod(mode)  # the re-saved file keeps the original's permissions
    return result


DESCRIPTION = (
    "Evaluate a detector checkpoint on a dataset: accuracy, balanced accuracy, ROC AUC, log loss, confusion "
    "counts (positive = fake), per source and per manipulation, video level; report.json and roc.png."
)


def add_arguments(p) -> None:
    p.add_argument("checkpoint")
    p.add_argument("--data", action="append", required=True, help="dataset root (repeatable)")
    p.add_argument("--layout", default="auto")
    p.add_argument("--split", default="val", choices=["val", "all"])
    p.add_argument("--val-fraction", type=float, default=None)
    p.add_argument("--seed", type=int, default=None)
    p.add_argument("--cache-dir", default="var/facecache")
    p.add_argument("--device", default="auto")
    p.add_argument("--out", default="", help="folder for report.json and roc.png")
    p.add_argument("--update-checkpoint", action="store_true", help="store the figures in the checkpoint")


def run_from_args(args: argparse.Namespace, update_checkpoint: bool | None = None) -> dict:
    return evaluate_checkpoint(
        args.checkpoint, args.data, split=args.split, layout=args.layout, val_fraction=args.val_fraction,
        seed=args.seed, cache_dir=args.cache_dir, device=args.device, out_dir=args.out or None,
        update_checkpoint=args.update_checkpoint if update_checkpoint is None else update_checkpoint,
    )


def main(argv: list[str] | None = None) -> int:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s", stream=sys.stderr)
    p = argparse.ArgumentParser(prog="python -m detection.engine.evaluate", description=DESCRIPTION)
    add_arguments(p)
    args = p.parse_args(argv)
    try:
        result = run_from_args(args)
    except (ValueError, FileNotFoundError) as error:
        log.error("%s", error)
        return 2
    print(json.dumps({k: v for k, v in result.items() if k != "roc"}, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
