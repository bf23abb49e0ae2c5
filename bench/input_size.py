"""Does a larger face input pay for itself at c40? The same recipe trained at 112, 160 and 224 px,
then each compared on the held-out split as uploaded and re-encoded at H.264 c23/c40.

The choice is read off the validation half (``validation_auc`` in each compare.json); the test
half's AUC with its bootstrap interval is printed beside it, with each size's cost per frame.
Each size gets crops cached a little larger than its input (the random crop takes 85-100%).

    .venv/bin/python bench/input_size.py --epochs 4 --epoch-samples 4000     # about 45 minutes on 2 cores
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
import time
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from detection.engine import train as tr  # noqa: E402
from detection.engine.compare import compare  # noqa: E402
from detection.engine.model import BackboneLSTM  # noqa: E402

CACHE_SIDE = {112: 128, 160: 184, 224: 256}


def say(message: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {message}", flush=True)


def milliseconds_per_frame(size: int) -> float:
    model = BackboneLSTM("temporal", hidden_size=256, pooling="mean", backbone="efficientnet_lite0").eval()
    clip = torch.randn(1, 20, 3, size, size)
    with torch.no_grad():
        model(clip)
        best = min(_timed(model, clip) for _ in range(5))
    return best / 20 * 1000


def _timed(model, clip) -> float:
    start = time.perf_counter()
    model(clip)
    return time.perf_counter() - start


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", default=str(ROOT.parent / "shared" / "data" / "train"))
    parser.add_argument("--sizes", type=int, nargs="+", default=[112, 160, 224], choices=sorted(CACHE_SIDE))
    parser.add_argument("--epochs", type=int, default=4)
    parser.add_argument("--epoch-samples", type=int, default=4000)
    parser.add_argument("--out", default="var/input-size")
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s", stream=sys.stderr)

    rows = []
    for size in args.sizes:
        run = Path(args.out) / f"lite0-{size}"
        cache_dir = f"var/facecache/corpus-{CACHE_SIDE[size]}" if size != 112 else "var/facecache/corpus"
        config = tr.TrainConfig(
            data=[args.data], out_dir=str(run), cache_dir=cache_dir, backbone="efficientnet_lite0", hidden_size=256,
            pooling="mean", input_size=size, cache_size=CACHE_SIDE[size], frame_epochs=args.epochs,
            sequence_epochs=0, epoch_samples=args.epoch_samples, backbone_lr=5e-4, self_blend=0.3, source_balance=0.5,
            progress=False, augment=tr.AugmentSettings(output_size=size, video_codec=0.5))
        say(f"{size} px: training {args.epochs} frame epochs of {args.epoch_samples} crops into {run}")
        started = time.time()
        tr.train(config)
        minutes = (time.time() - started) / 60
        say(f"{size} px: trained in {minutes:.1f} min; comparing as uploaded and at H.264 c23/c40")
        result = compare([run / "best.pt"], [args.data], cache_dir=cache_dir, device="cpu", progress=False)
        (run / "compare.json").write_text(json.dumps(result, indent=1))
        name = result["members"][0]
        rows.append((size, minutes, milliseconds_per_frame(size), result["validation_auc"],
                     {c: by_name[name]["overall"] for c, by_name in result["table"].items()}))

    print("\n| input | training (min) | ms per frame | condition | validation AUC (the choice) | test AUC (95%) |")
    print("| --- | --- | --- | --- | --- | --- |")
    for size, minutes, ms, validation, test in rows:
        for condition, figures in test.items():
            low, high = figures["auc_95"]
            chosen_on = next(iter(validation[condition].values()))
            print(f"| {size} px | {minutes:.0f} | {ms:.1f} | {condition} | {chosen_on:.3f} "
                  f"| {figures['auc']:.3f} ({low:.2f}-{high:.2f}) |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
