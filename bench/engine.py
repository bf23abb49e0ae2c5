"""Benchmark: the engine before and after seeking decoding and the face tracker, side by side.

Builds H.264 clips from scikit-image's astronaut photo (PyAV's libx264, preset veryfast, so
with B-frames and the deblocking filter like real uploads; a keyframe every ``--gop`` frames),
cached under the system temp folder by their parameters (a 60 s 1080p clip takes about two
minutes to make the first time):

- landscape clips, 720p and 1080p, short (10 s) and long (60 s), the face large;
- a 1080x1920 portrait clip whose face is about 70 px wide in a dark room, and a dim copy
  (30 % brightness): what the old settings answered with "no face";
- a 1080p clip with no face at all, where every search runs (the CNN fallback included).

Then times, in one process, warm (a first run per predictor only warms up; of ``--runs``
runs, taken in turns by the two sides, the fastest per stage is reported: on a shared machine
other work only adds time), for each clip and each ``--frames`` count, uniform sampling:

- before: sequential decoding (``seek=False``) and the old per-frame face search
  (``FaceDetector()``: HOG on a 480 px copy of every frame, largest face);
- after: the defaults (seeking decoding, ``FaceTracker``);
- ensemble (with ``--ensemble MANIFEST``, by default the committed ensemble when there is one):
  the same defaults with every member judging the faces; its ratio column is ensemble / after,
  what the ensemble costs over v1 alone.

``--seed-way`` also times the seed project's way on the short 720p clip (model reloaded per
video, first frames read one by one, HOG on full frames).

Run from the repository root:  .venv/bin/python bench/engine.py [--help]
The default detector (models/dfd-efficientnet-lite0-v1.pt) is used when present, else random
seed-format weights; verdicts do not matter here, timings and faces found do. The machine is
shared: the load average is printed, and "cpu" is the process's CPU time (both cores count).
"""

from __future__ import annotations

import argparse
import hashlib
import os
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import torch

from detection.engine.checkpoint import load_checkpoint
from detection.engine.ensemble import Ensemble
from detection.engine.faces import FaceDetector
from detection.engine.predictor import Predictor
from tests import videos
from tests.engine import seed_reference

DEFAULT_CHECKPOINT = ROOT / "models" / "dfd-efficientnet-lite0-v1.pt"
DEFAULT_ENSEMBLE = ROOT / "models" / "dfd-ensemble-v3.json"
STAGES = ("decode", "faces", "model", "cam", "total", "cpu")
CACHE_VERSION = 1  # bump when the clips' content changes


@dataclass(frozen=True)
class Clip:
    name: str
    kind: str  # "face" (large, moving), "small" (portrait, small face) or "none" (no face at all)
    width: int
    height: int
    seconds: float
    brightness: float = 1.0


CLIPS = [
    Clip("720p 10s", "face", 1280, 720, 10),
    Clip("720p 60s", "face", 1280, 720, 60),
    Clip("1080p 10s", "face", 1920, 1080, 10),
    Clip("1080p 60s", "face", 1920, 1080, 60),
    Clip("portrait small face 10s", "small", 1080, 1920, 10),
    Clip("portrait small dim face 10s", "small", 1080, 1920, 10, brightness=0.3),
    # No face anywhere: every search runs, the CNN fallback included; the worst case in time.
    Clip("1080p no face 10s", "none", 1920, 1080, 10),
]


def clip_path(clip: Clip, fps: float, gop: int, cache: Path) -> Path:
    """The clip's file, made once and reused while its parameters stay the same."""
    key = f"v{CACHE_VERSION}|{clip}|{fps}|{gop}"
    path = (
        cache
        / f"{clip.kind}-{clip.width}x{clip.height}-{clip.seconds:g}s-{hashlib.sha1(key.encode()).hexdigest()[:10]}.mp4"
    )
    if path.is_file():
        return path
    count = round(fps * clip.seconds)
    print(f"  making {clip.name} ({count} frames, keyframe every {gop}) ...", flush=True)
    if clip.kind == "face":
        frames = videos.face_frames(clip.width, clip.height, count)
    elif clip.kind == "none":
        frames = videos.no_face_frames(clip.width, clip.height, count)
    else:
        frames = videos.small_face_frames(clip.width, clip.height, count, brightness=clip.brightness)
    partial = path.with_suffix(".part.mp4")
    videos.write_h264(partial, frames, fps=fps, gop=gop, bframes=3, preset="veryfast")
    partial.rename(path)  # only a finished clip is ever found in the cache
    return path


def timed(predict: Callable) -> tuple[dict[str, float], object]:
    cpu = time.process_time()
    result = predict()
    t = result.timings
    seconds = {"decode": t.decode, "faces": t.faces, "model": t.model, "cam": t.cam, "total": t.total}
    seconds["cpu"] = time.process_time() - cpu
    return seconds, result


def best(runs: list[dict[str, float]]) -> dict[str, float]:
    """Per stage, the fastest run: other work on a shared machine only ever adds time."""
    return {stage: min(run[stage] for run in runs) for stage in STAGES}


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


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--frames", type=int, nargs="+", default=[20, 100], help="frames per video (default 20 100)"
    )
    parser.add_argument(
        "--runs",
        type=int,
        default=3,
        help="timed runs per case; the fastest per stage is reported (default 3)",
    )
    parser.add_argument(
        "--gop", type=int, default=50, help="keyframe interval of the clips (default 50: 2 s)"
    )
    parser.add_argument("--fps", type=float, default=25.0)
    parser.add_argument("--clips", nargs="+", help="only the clips whose name contains one of these words")
    parser.add_argument("--device", default="cpu", help="cpu, cuda or auto (default cpu)")
    parser.add_argument("--checkpoint", type=Path, help=f"default: {DEFAULT_CHECKPOINT.relative_to(ROOT)}")
    parser.add_argument("--cache", type=Path, default=Path(tempfile.gettempdir()) / "dfd-bench-clips")
    parser.add_argument("--only", choices=("before", "after", "ensemble"), help="time one side only")
    parser.add_argument("--ensemble", type=Path, default=DEFAULT_ENSEMBLE if DEFAULT_ENSEMBLE.is_file() else None,
                        help="an ensemble manifest to time beside v1 (default: the committed one, if any)")
    parser.add_argument(
        "--seed-way", action="store_true", help="also time the seed's way on the 720p 10 s clip"
    )
    args = parser.parse_args()
    if not videos.h264_available():
        parser.error("needs PyAV with libx264 (pip install -r requirements.txt)")

    clips = [c for c in CLIPS if not args.clips or any(word in c.name for word in args.clips)]
    args.cache.mkdir(parents=True, exist_ok=True)
    print(f"clips in {args.cache}:", flush=True)
    paths = {clip: clip_path(clip, args.fps, args.gop, args.cache) for clip in clips}

    checkpoint = args.checkpoint or DEFAULT_CHECKPOINT
    if not checkpoint.is_file():
        checkpoint = args.cache / "random-seed.pt"
        if not checkpoint.is_file():
            torch.save(seed_reference.make_seed_model().state_dict(), checkpoint)
    loaded = load_checkpoint(checkpoint)
    sides = {
        "before": Predictor(loaded, device=args.device, face_detector=FaceDetector(), seek=False),
        "after": Predictor(loaded, device=args.device),
    }
    if args.ensemble:
        sides["ensemble"] = Ensemble.from_manifest(args.ensemble, device=args.device)
    if args.only:
        sides = {args.only: sides[args.only]}
    print(
        f"{checkpoint.name} on {sides[next(iter(sides))].device}; torch {torch.__version__}, "
        f"{torch.get_num_threads()} threads, {os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.2f}",
        flush=True,
    )
    warm = next(iter(paths.values()))
    for predictor in sides.values():
        predictor.predict(warm, frames=min(args.frames))  # loads kernels and face models

    table = []
    for clip in clips:
        for frames in args.frames:
            row = {"clip": clip.name, "frames": frames}
            runs: dict[str, list[dict[str, float]]] = {side: [] for side in sides}
            for _ in range(args.runs):  # the sides take turns, so both meet the same load
                for side, predictor in sides.items():
                    seconds, result = timed(
                        lambda p=predictor, v=paths[clip], n=frames: p.predict(v, frames=n)
                    )
                    runs[side].append(seconds)
                    row[f"{side}_faces"] = f"{result.frames_analysed}/{result.frames_decoded}"
            for side in sides:
                row[side] = best(runs[side])
            table.append(row)
            print(format_row(row, sides), flush=True)

    print()
    print(f"seconds, warm, best of {args.runs} run(s) per stage; faces: frames with a face / frames decoded")
    print(f"keyframe every {args.gop} frames at {args.fps:g} fps; load average now {os.getloadavg()[0]:.2f}")
    header = f"{'clip':<30}{'frames':>7}  {'stage':<7}" + "".join(f"{side:>9}" for side in sides)
    if "before" in sides and "after" in sides:
        header += f"{'bef/aft':>8}"
    if "ensemble" in sides and "after" in sides:
        header += f"{'ens/aft':>8}"
    print(header)
    for row in table:
        print(format_row(row, sides))
    for clip_name, frames, limit in (("1080p 60s", 20, 1.0), ("1080p 60s", 100, 3.0)):
        for row in table:
            for side in ("after", "ensemble"):
                if row["clip"] == clip_name and row["frames"] == frames and side in row:
                    total = row[side]["total"]
                    verdict = "met" if total <= limit else "missed"
                    print(f"target: {frames} frames of the 60 s 1080p clip in <= {limit:g} s, {side}: {verdict} "
                          f"({total:.2f} s)")

    if args.seed_way:
        compare_with_seed_way(args)
    return 0


def compare_with_seed_way(args) -> None:
    """The seed's way against the engine on the short 720p clip, both with the same random
    seed-format weights (the seed's code loads nothing else)."""
    path = clip_path(CLIPS[0], args.fps, args.gop, args.cache)
    checkpoint = args.cache / "random-seed.pt"
    if not checkpoint.is_file():
        torch.save(seed_reference.make_seed_model().state_dict(), checkpoint)
    engine = Predictor(load_checkpoint(checkpoint), device=args.device)
    engine.predict(path, frames=20)
    ours = best([timed(lambda: engine.predict(path, frames=20))[0] for _ in range(args.runs)])
    theirs = [seed_baseline(checkpoint, path, 20) for _ in range(args.runs)]
    seed = {name: min(t[name] for t in theirs) for name in theirs[0]}
    print()
    print(
        f"seed way on {CLIPS[0].name}, 20 frames, random seed weights: load {seed['load']:.3f}  "
        f"read+faces {seed['read+faces']:.3f}  model {seed['model']:.3f}  total {seed['total']:.3f} s"
    )
    print(f"engine (warm): total {ours['total']:.3f} s: {seed['total'] / ours['total']:.1f}x faster")


def format_row(row: dict, sides: dict) -> str:
    lines = []
    for i, stage in enumerate(STAGES):
        lead = f"{row['clip']:<30}{row['frames']:>7}" if i == 0 else " " * 37
        # a stage that did not run (no face: no model, no heat maps) shows as "-"
        cells = "".join(
            f"{row[side][stage]:>9.3f}" if row[side][stage] > 0 else f"{'-':>9}" for side in sides
        )
        ratio = ""
        for over, under in (("before", "after"), ("ensemble", "after")):
            if over in sides and under in sides and row[under][stage] > 0 and row[over][stage] > 0:
                ratio += f"{row[over][stage] / row[under][stage]:>7.2f}x"
        lines.append(f"{lead}  {stage:<7}{cells}{ratio}")
    faces = "".join(f"{row[f'{side}_faces']:>9}" for side in sides)
    lines.append(" " * 37 + f"  {'faces':<7}{faces}")
    return "\n".join(lines)


if __name__ == "__main__":
    raise SystemExit(main())
