"""The recipe of the default detector (models/dfd-efficientnet-lite0-v1.pt), end to end.

    .venv/bin/python bench/train_default_detector.py --data ../shared/data/train

1. trains EfficientNet-Lite0 + LSTM on CPU (``python -m detection.engine.train`` with the
   options in RECIPE), run folder var/train/lite0-v1, face cache var/facecache/corpus;
2. exports best.pt (float16) to models/dfd-efficientnet-lite0-v1.pt;
3. evaluates it on the grouped held-out split and stores the figures in it;
4. writes the model card models/dfd-efficientnet-lite0-v1.md from the figures and its sha256.

``--skip-train`` reuses an existing run folder (steps 2-4 only).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

NAME = "dfd-efficientnet-lite0-v1"
RECIPE = [
    "--backbone", "efficientnet_lite0", "--hidden-size", "256", "--pooling", "mean",
    "--frame-epochs", "12", "--sequence-epochs", "4", "--epoch-samples", "5000", "--batch-size", "32",
    "--backbone-lr", "5e-4", "--self-blend", "0.2", "--source-balance", "0",
    "--val-fraction", "0.2", "--seed", "0", "--no-progress",
]
SELF_BLEND = "a fifth"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", default="../shared/data/train")
    parser.add_argument("--run", default=str(ROOT / "var" / "train" / "lite0-v1"))
    parser.add_argument("--cache-dir", default=str(ROOT / "var" / "facecache" / "corpus"))
    parser.add_argument("--models-dir", default=str(ROOT / "models"))
    parser.add_argument("--skip-train", action="store_true")
    parser.add_argument("--train-seconds", type=float, default=0.0, help="CPU training time to state in the card")
    args = parser.parse_args()

    from detection.engine import evaluate, train
    from detection.engine.checkpoint import file_sha256

    run = Path(args.run)
    seconds = args.train_seconds
    if not args.skip_train:
        started = time.perf_counter()
        code = train.main(["--data", args.data, "--out", str(run), "--cache-dir", args.cache_dir, *RECIPE])
        if code:
            return code
        seconds = time.perf_counter() - started
    target = Path(args.models_dir) / f"{NAME}.pt"
    train.export(run / "best.pt", target, half=True)
    report = evaluate.evaluate_checkpoint(target, [args.data], split="val", cache_dir=args.cache_dir,
                                          out_dir=run / "evaluation", update_checkpoint=True, progress=False)
    sha = file_sha256(target)
    history = json.loads((run / "history.json").read_text())
    card = model_card(report, sha, target.stat().st_size, history, seconds, args.data)
    (Path(args.models_dir) / f"{NAME}.md").write_text(card)
    print(json.dumps({"checkpoint": str(target), "sha256": sha, "bytes": target.stat().st_size,
                      "roc_auc": report["roc_auc"]}, indent=1))
    return 0


def _f(value, digits: int = 3) -> str:
    return "n/a" if value is None else f"{value:.{digits}f}"


def _table(groups: dict) -> str:
    lines = ["| group | samples | ROC AUC | accuracy |", "|---|---:|---:|---:|"]
    for name, figures in groups.items():
        lines.append(f"| {name} | {figures['samples']} | {_f(figures['roc_auc'])} | {_f(figures['accuracy'])} |")
    return "\n".join(lines)


def _timing(history: list[dict], seconds: float) -> str:
    frames = [h["train_seconds"] for h in history if h["stage"] == "frames"]
    text = f"{seconds / 60:.0f} minutes of wall time, " if seconds else ""
    return (
        f"{text}on a machine shared with other jobs; an epoch of the frame stage alone (5,000 crops) takes "
        f"{min(frames):.0f} s when the two cores are free, so the whole recipe needs about "
        f"{(min(frames) * len(frames) + 300) / 60:.0f} minutes, plus about 1 minute to extract the faces once."
    )


def _best(history: list[dict]) -> str:
    best = max(history, key=lambda h: h.get("val_video_auc") or 0)
    note = ""
    if best["stage"] == "frames" and any(h["stage"] == "sequence" for h in history):
        note = (" (the sequence stage, trained on precomputed features of a few thousand clips, overfitted and "
                "did not beat it; the LSTM and head of the frame stage read 20-frame sequences well)")
    return f"{best['stage']} epoch {best['epoch']}{note}"


def _weak(report: dict) -> str:
    lines = []
    for key, label in (("by_method", "manipulation"), ("by_source", "source")):
        for name, f in report[key].items():
            if f["roc_auc"] is not None and f["roc_auc"] < 0.75:
                lines.append(f"- {label} {name}: AUC {f['roc_auc']:.2f} on {f['samples']} held-out videos")
            elif f["roc_auc"] is None and f["accuracy"] < 0.75:
                lines.append(f"- {label} {name}: accuracy {f['accuracy']:.2f} on {f['samples']} held-out videos")
    return "\n".join(lines) or "- none below those marks on this split"


def model_card(report: dict, sha: str, size: int, history: list[dict], seconds: float, data: str) -> str:
    frame = report.get("frame_level", {})
    c = report["confusion"]
    epochs = "\n".join(
        f"| {h['stage']} {h['epoch']} | {h['train_loss']:.3f} | {h['train_accuracy']:.3f} | {_f(h.get('val_auc'))} "
        f"| {_f(h.get('val_video_auc'))} | {h['train_seconds']:.0f} |"
        for h in history
    )
    return CARD.format(
        name=NAME, sha=sha, size_mb=size / 1e6, samples=report["samples"], auc=_f(report["roc_auc"]),
        acc=_f(report["accuracy"]), bacc=_f(report["balanced_accuracy"]), logloss=_f(report["log_loss"]),
        tp=c["tp"], fp=c["fp"], fn=c["fn"], tn=c["tn"], frame_samples=frame.get("samples", 0),
        frame_auc=_f(frame.get("roc_auc")), frame_acc=_f(frame.get("accuracy")),
        by_source=_table(report["by_source"]), by_method=_table(report["by_method"]),
        frame_by_source=_table(frame.get("by_source", {})), epochs=epochs,
        minutes=seconds / 60 if seconds else float("nan"), split=report["split"], data=data,
        recipe=" ".join(RECIPE), self_blend=SELF_BLEND, timing=_timing(history, seconds),
        best_epoch=_best(history), weak=_weak(report),
    )


CARD = """# {name}: the default deepfake detector

**A screening aid, not a verdict.** It flags videos whose faces look manipulated so that a
person can look closer. It misses fakes and accuses real videos (figures below), it knows
nothing of voice, context or provenance, and it must never be the only basis for a decision
about a person.

| | |
|---|---|
| file | `models/{name}.pt` ({size_mb:.1f} MB, weights stored as float16, computed in float32) |
| sha256 | `{sha}` |
| architecture | EfficientNet-Lite0 (ImageNet-pretrained) + LSTM(1280 -> 256, mean-pooled) + linear, `temporal` variant |
| input | faces found by HOG (largest face, 15% margin), 112x112, RGB, normalised (x - 127) / 128 |
| output | probability of FAKE per frame and per video (the LSTM over the analysed frames) |
| threshold | 0.5 |

## Training data (research-only licences)
Trained on the private training corpus `{data}` (5,522 files: face crops and short clips copied
from public GitHub repositories; see its README). **None of it is in this repository.** Its
sources and their terms: DFDC face crops (Deepfake Detection Challenge terms, research /
non-commercial; 87% of the images), an unattributed still-image face-swap set (ShenaoW, no
licence stated), the Ecuadorian Political Deepfake Dataset (diffusion-generated faces; MIT per
its README, real photos of public figures), FaceForensics++ frames (GenD, Megatvini; FF++ terms
of use, research only), Celeb-DF v2 frames and one-second clips (Celeb-DF terms, research only),
one Deepfake-o-Meter demo fake, and 19 real-only talking-head demo videos (LivePortrait,
SadTalker/HDTF, video-retalking, TPSMM, DaGAN, face_recognition; footage rights not stated).
Because of these terms, treat the weights as **research-only** as well.

Besides the corpus's own fakes, {self_blend} of the fakes in each epoch are **self-blended**:
a real face blended with a colour- and geometry-perturbed copy of itself inside a mask drawn
from its 68 face_recognition landmarks, so the model learns the blending boundary and colour
mismatch that face swaps leave rather than one generator's fingerprint.

Recipe (CPU, 2 cores): {timing} Frame stage (backbone + head on single
crops, balanced classes, compression (JPEG down to quality 20, MPEG-4 round trips), blur,
down/up-scaling, noise, colour jitter, flips), then a sequence stage (LSTM head on clips, backbone
frozen). The released weights are the best by validation video AUC: {best_epoch}.
Command: `python -m detection.engine.train --data {data} --cache-dir var/facecache/corpus --out var/train/lite0-v1 {recipe}`
(or `python bench/train_default_detector.py`, which also exports, evaluates and writes this card).

## Held-out figures
Split: {split}.

Video level ({samples} videos; for the image-only sources a "video" is the source video
the images come from, whose frames are fed to the LSTM as one clip, a single image repeated
to 20 frames): ROC AUC **{auc}**, accuracy {acc}, balanced accuracy {bacc}, log loss {logloss};
at 0.5: TP {tp}, FP {fp}, FN {fn}, TN {tn} (positive = fake).

Frame level ({frame_samples} face crops): ROC AUC {frame_auc}, accuracy {frame_acc}.

Per source (video level):

{by_source}

Per manipulation (a method's AUC compares its fakes with all held-out reals; "none" = the reals):

{by_method}

Per source, frame level:

{frame_by_source}

Training curve (validation on the same split, during training):

| epoch | train loss | train acc | val frame AUC | val video AUC | seconds |
|---|---:|---:|---:|---:|---:|
{epochs}

## Known weak spots
Measured on the held-out split (groups with an AUC under 0.75, or reals-only groups under 0.75 accuracy):
{weak}

- **Heavily compressed FaceForensics++-style video and unseen manipulation methods**: a model
  trained on this DFDC-heavy corpus stays near chance there. The FF++ and Celeb-DF held-out
  groups are a handful of videos: their figures are anecdotes, not measurements.
- DFDC crops dominate training and validation; DFDC actors recur across videos, so the grouped
  split does not fully separate identities and the DFDC figure is optimistic.
- Fully synthetic (diffusion) faces, face re-enactment, lip-sync and audio fakes are out of scope.
- Small faces (under about 40 px after downscaling to 480 px), profile views, heavy occlusion, several
  faces (only the largest is judged), very dark or filtered footage.
- Composited footage: the project's synthetic test clip (the astronaut photo pasted over a moving
  gradient, mp4v) is judged fake (about 0.77): pasted faces, overlays and edited graphics look
  like blends to a detector trained on blending artefacts.
- The probability is not calibrated for your material: do not read 0.7 as "70% likely fake".

## Install the seed's published checkpoint instead
Download the `detect-deepfake` project's `checkpoint.pt` (ResNeXt50 + LSTM) and run
`python manage.py install_model PATH/TO/checkpoint.pt --name seed --default`.

## Train a stronger one on a GPU
With ImageNet ResNeXt50 weights at hand (torchvision's `resnext50_32x4d` state_dict, e.g.
`resnext50_32x4d-7cdf4587.pth`) and more data (FaceForensics++ c23 and Celeb-DF v2 in their official
layouts, with their split lists):

```
python -m detection.engine.train \\
  --data /data/FaceForensics++ --data /data/Celeb-DF-v2 --data ../shared/data/train \\
  --backbone resnext50 --backbone-weights /data/weights/resnext50_32x4d-7cdf4587.pth \\
  --hidden-size 512 --frame-epochs 20 --sequence-epochs 5 --epoch-samples 40000 --batch-size 64 \\
  --workers 8 --self-blend 0.3 --out var/train/resnext50-gpu --cache-dir var/facecache
python -m detection.engine.evaluate var/train/resnext50-gpu/best.pt --data /data/Celeb-DF-v2 \\
  --split val --out var/train/resnext50-gpu/eval --update-checkpoint
cp var/train/resnext50-gpu/best.pt models/dfd-resnext50-v2.pt
python manage.py install_model models/dfd-resnext50-v2.pt --name resnext50-v2 --default
```
Mixed precision is used on CUDA automatically; `--resume` continues an interrupted run.
(`manage.py train_model` / `manage.py evaluate_model` take the same options.)
"""


if __name__ == "__main__":
    raise SystemExit(main())
