"""Benchmark: the engine's Predictor against the seed's way of analysing a video.

Builds a 720p clip from scikit-image's astronaut photo with OpenCV (mp4v: this OpenCV has
no H.264 encoder), writes a random-weight checkpoint in the seed's format to a temp folder,
then times, in one process:

- the engine: a warm Predictor (the first run warms up; the median of the others is
  reported, which with the default --runs 2 is the second run), ``frames`` frames spread
  over the clip;
- the seed's way: the model rebuilt and its state_dict loaded for every video, the first
  ``frames`` frames read one by one with ``cap.read``, HOG on full-resolution frames, the
  seed's transforms and its single forward pass (tests/engine/seed_reference.py).

Run from the repository root:  .venv/bin/python bench/engine.py [--help]
Random weights make the verdicts meaningless; only the timings matter here.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import torch  # noqa: E402

from detection.engine.predictor import Predictor  # noqa: E402
from tests import videos  # noqa: E402
from tests.engine import seed_reference  # noqa: E402


def seed_baseline(checkpoint: Path, video: Path, frames: int) -> dict[str, float]:
    """One video the way the seed's server.py did it; seconds per step."""
    started = time.perf_counter()
    model = seed_reference.Model(2)
    model.load_state_dict(torch.load(checkpoint, map_location="cpu"))
    model.eval()
    loaded = time.perf_counter()
    item = seed_reference.video_item(video, count=frames)  # read + HOG + transforms, interleaved
    read = time.perf_counter()
    seed_reference.predict(model, item)
    done = time.perf_counter()
    return {
        "load": loaded - started,
        "read+faces": read - loaded,
        "model": done - read,
        "total": done - started,
    }


def median(values: list[float]) -> float:
    ordered = sorted(values)
    middle = len(ordered) // 2
    return ordered[middle] if len(ordered) % 2 else (ordered[middle - 1] + ordered[middle]) / 2


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--frames", type=int, default=20, help="frames analysed per video (default 20)")
    parser.add_argument("--seconds", type=float, default=10.0, help="clip length (default 10)")
    parser.add_argument("--width", type=int, default=1280)
    parser.add_argument("--height", type=int, default=720)
    parser.add_argument("--fps", type=float, default=25.0)
    parser.add_argument(
        "--runs",
        type=int,
        default=2,
        help="engine runs; the first warms up, the median of the rest is reported (default 2)",
    )
    parser.add_argument(
        "--baseline-runs", type=int, default=1, help="seed-way runs, median reported (default 1)"
    )
    parser.add_argument("--device", default="auto", help="auto, cpu or cuda (default auto)")
    parser.add_argument("--checkpoint", type=Path, help="use this checkpoint instead of random seed weights")
    parser.add_argument("--no-baseline", action="store_true", help="time the engine only")
    args = parser.parse_args()
    if args.runs < 2:
        parser.error("--runs must be at least 2: the first run only warms up")

    with tempfile.TemporaryDirectory(prefix="dfd-bench-") as tmp:
        tmp = Path(tmp)
        print(
            f"building a {args.seconds:g} s {args.width}x{args.height} clip at {args.fps:g} fps ...",
            flush=True,
        )
        video = videos.face_video(
            tmp / "clip.mp4", width=args.width, height=args.height, fps=args.fps, seconds=args.seconds
        )
        checkpoint = args.checkpoint
        if checkpoint is None:
            checkpoint = tmp / "seed.pt"
            torch.save(seed_reference.make_seed_model().state_dict(), checkpoint)

        print(
            f"torch {torch.__version__}, {torch.get_num_threads()} threads, {os.cpu_count()} CPUs, "
            f"load average {os.getloadavg()[0]:.2f}",
            flush=True,
        )
        started = time.perf_counter()
        predictor = Predictor.from_checkpoint(checkpoint, device=args.device)
        print(f"engine: checkpoint loaded in {time.perf_counter() - started:.2f} s on {predictor.device}")
        runs = []
        for run in range(1, args.runs + 1):
            result = predictor.predict(video, frames=args.frames)
            t = result.timings
            runs.append(t)
            print(
                f"engine run {run}{' (warm-up)' if run == 1 else ''}: decode {t.decode:.3f}  "
                f"faces {t.faces:.3f}  model {t.model:.3f}  cam {t.cam:.3f}  total {t.total:.3f} s  "
                f"({result.frames_analysed}/{args.frames} frames with a face)",
                flush=True,
            )
        warm = runs[1:]
        engine = {
            name: median([getattr(t, name) for t in warm])
            for name in ("decode", "faces", "model", "cam", "total")
        }

        base = None
        if not args.no_baseline:
            base_runs = []
            for run in range(1, args.baseline_runs + 1):
                base_runs.append(seed_baseline(checkpoint, video, args.frames))
                b = base_runs[-1]
                print(
                    f"seed way run {run}: load {b['load']:.3f}  read+faces {b['read+faces']:.3f}  "
                    f"model {b['model']:.3f}  total {b['total']:.3f} s",
                    flush=True,
                )
            base = {name: median([b[name] for b in base_runs]) for name in base_runs[0]}

        print()
        print(f"{args.frames} frames of a {args.width}x{args.height} clip, seconds (median of runs):")
        print(f"{'stage':<22}{'engine (warm)':>14}{'seed way':>12}")
        rows = [
            ("load model", None, "load"),
            ("decode", "decode", None),
            ("faces", "faces", None),
            ("read + faces (seed)", None, "read+faces"),
            ("model", "model", "model"),
            ("grad-cam", "cam", None),
            ("total", "total", "total"),
        ]
        for label, ours, theirs in rows:
            left = f"{engine[ours]:.3f}" if ours else "-"
            right = f"{base[theirs]:.3f}" if base and theirs else "-"
            print(f"{label:<22}{left:>14}{right:>12}")
        if base:
            ratio = base["total"] / engine["total"]
            print(f"speed-up per video, warm engine vs seed way: {ratio:.1f}x (target >= 5x)")
        verdict = "met" if engine["total"] < 2.0 else "missed"
        print(f"target < 2 s for {args.frames} frames: {verdict} ({engine['total']:.2f} s)")
        print(f"load average at the end {os.getloadavg()[0]:.2f} (other work on the machine skews timings)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
