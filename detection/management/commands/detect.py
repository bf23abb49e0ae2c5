"""``python manage.py detect VIDEO [VIDEO ...]``: analyse videos from the command line.

A thin shell around ``detection.engine``: results go to stdout (a table, or JSON with
``--json``), progress to stderr. Exit status: 0 when every video was analysed, 1 when any
video could not be read (the others are still analysed), 2 when no usable model was found.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

MODEL_SUFFIXES = (".pt", ".pth")
STRATEGIES = ("uniform", "contiguous")  # detection.engine.video.STRATEGIES, without importing cv2 here


def int_at_least(minimum: int):
    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected a whole number, got {text!r}") from None
        if value < minimum:
            raise argparse.ArgumentTypeError(f"expected at least {minimum}, got {value}")
        return value

    return parse


def find_model(models_dir: Path) -> tuple[Path | None, int]:
    """The newest checkpoint file in ``models_dir`` and how many there are."""
    if not models_dir.is_dir():
        return None, 0
    found = [p for p in models_dir.iterdir() if p.is_file() and p.suffix.lower() in MODEL_SUFFIXES]
    if not found:
        return None, 0
    return max(found, key=lambda p: p.stat().st_mtime), len(found)


class Command(BaseCommand):
    help = (
        "Analyse one or more videos with the deepfake detector and print the verdicts. "
        "Exit status 1 if any video could not be read, 2 if no usable model was found."
    )
    # Analysing a file needs neither the database nor the URL configuration; skipping the
    # system checks keeps the command fast and usable on a GPU box with a partial setup.
    requires_system_checks = []

    def add_arguments(self, parser: argparse.ArgumentParser) -> None:
        parser.add_argument("videos", nargs="+", type=Path, metavar="VIDEO", help="video files to analyse")
        parser.add_argument("--model", type=Path, metavar="PATH", help="checkpoint file (.pt/.pth) to use")
        parser.add_argument(
            "--models-dir",
            type=Path,
            metavar="DIR",
            help="where to look for a checkpoint when --model is not given (default: DFD_MODELS_DIR, models/)",
        )
        parser.add_argument(
            "--frames", type=int_at_least(1), default=20, help="frames to analyse per video (default 20)"
        )
        parser.add_argument(
            "--strategy",
            choices=STRATEGIES,
            default="uniform",
            help="uniform: spread over the whole video (default); contiguous: the first frames",
        )
        parser.add_argument(
            "--seed-exact",
            action="store_true",
            help="reproduce the seed project exactly: first frames, its face choice, last frame decides",
        )
        parser.add_argument(
            "--heatmaps",
            type=int_at_least(0),
            default=3,
            help="Grad-CAM maps for the N most suspicious frames",
        )
        parser.add_argument("--device", default="auto", help="auto (CUDA when available), cpu or cuda")
        parser.add_argument("--json", action="store_true", help="print JSON instead of a table")
        parser.add_argument(
            "--save-crops",
            type=Path,
            metavar="DIR",
            help="write each analysed face crop and heat map as PNG under DIR",
        )

    def handle(self, *args, **options) -> None:
        self.verbosity = options["verbosity"]
        model_path = self._model_path(options["model"], options["models_dir"])
        # Imported here so that `detect --help` and the no-model message do not load PyTorch.
        import cv2.utils.logging

        from detection.engine.errors import CheckpointError, VideoError
        from detection.engine.predictor import Predictor

        # FFmpeg's own complaints ("moov atom not found") would repeat the VideoError message.
        cv2.utils.logging.setLogLevel(cv2.utils.logging.LOG_LEVEL_ERROR)

        try:
            predictor = Predictor.from_checkpoint(model_path, device=options["device"])
        except CheckpointError as exc:
            raise CommandError(f"Cannot use the model {model_path}: {exc}", returncode=2) from None
        except ValueError as exc:
            raise CommandError(str(exc), returncode=2) from None

        videos: list[Path] = options["videos"]
        entries = []
        for number, video in enumerate(videos, start=1):
            prefix = f"[{number}/{len(videos)}] {video.name}"
            try:
                prediction = predictor.predict(
                    video,
                    frames=options["frames"],
                    strategy=options["strategy"],
                    seed_exact=options["seed_exact"],
                    heatmaps=options["heatmaps"],
                    on_progress=self._progress_printer(prefix),
                )
            except VideoError as exc:
                self.stderr.write(f"{prefix}: {exc}")
                entries.append({"video": str(video), "ok": False, "error": str(exc), "result": None})
                continue
            self.stderr.write(f"{prefix}: done in {prediction.timings.total:.2f} s")
            if options["save_crops"]:
                self._save_images(options["save_crops"] / f"{number:02d}-{video.stem}", prediction)
            entries.append({"video": str(video), "ok": True, "error": None, "result": prediction})

        if options["json"]:
            payload = [
                {**entry, "result": entry["result"] and entry["result"].to_dict()} for entry in entries
            ]
            self.stdout.write(json.dumps(payload, indent=2))
        else:
            self.stdout.write(self._table(entries))
            if self.verbosity >= 2:
                self.stdout.write(self._frame_lines(entries))
            self.stdout.write(
                f"model: {predictor.model_id} ({predictor.variant}, sha256 {predictor.sha256[:12]}), "
                f"device {predictor.device}"
            )

        failed = sum(not entry["ok"] for entry in entries)
        if failed:
            raise CommandError(f"{failed} of {len(entries)} videos could not be analysed.", returncode=1)

    def _model_path(self, model: Path | None, models_dir: Path | None) -> Path:
        if model is not None:
            return model
        models_dir = models_dir or Path(settings.DFD_MODELS_DIR)
        found, count = find_model(models_dir)
        if found is None:
            raise CommandError(
                f"No detector model found in {models_dir}. Install one with "
                "`python manage.py install_model PATH_OR_URL`, copy a .pt or .pth checkpoint into "
                f"{models_dir}, or pass --model PATH.",
                returncode=2,
            )
        if count > 1:
            self.stderr.write(
                f"Using {found.name}, the newest of {count} checkpoints in {models_dir} "
                "(choose with --model)."
            )
        return found

    def _progress_printer(self, prefix: str):
        last_stage = None

        def report(stage: str, fraction: float) -> None:
            nonlocal last_stage
            if stage != last_stage and stage != "done" and self.verbosity >= 1:
                self.stderr.write(f"{prefix}: {stage} ({fraction:.0%})")
            last_stage = stage

        return report

    def _save_images(self, folder: Path, prediction) -> None:
        import cv2

        folder.mkdir(parents=True, exist_ok=True)
        for frame in prediction.frames:
            cv2.imwrite(str(folder / f"frame-{frame.index:06d}.png"), frame.crop)
        for heatmap in prediction.heatmaps:
            cv2.imwrite(str(folder / f"heatmap-{heatmap.frame_index:06d}.png"), heatmap.overlay)

    def _frame_lines(self, entries: list[dict]) -> str:
        lines = []
        for entry in entries:
            if entry["result"] is None:
                continue
            lines.append(f"\n{Path(entry['video']).name}: per frame (box = x, y, width, height)")
            for frame in entry["result"].frames:
                box = ", ".join(str(v) for v in frame.box)
                lines.append(
                    f"  frame {frame.index:>6}  {frame.timestamp:8.2f} s  "
                    f"P(fake) {frame.probability_fake:.3f}  box {box}"
                )
        return "\n".join(lines)

    def _table(self, entries: list[dict]) -> str:
        header = ("VIDEO", "VERDICT", "P(FAKE)", "CONFIDENCE", "FRAMES", "NO FACE", "SECONDS")
        rows = []
        for entry in entries:
            name = Path(entry["video"]).name
            result = entry["result"]
            if result is None:
                rows.append((name, "ERROR", entry["error"]))
                continue
            has_score = result.probability_fake is not None
            rows.append(
                (
                    name,
                    result.label.upper().replace("_", " "),
                    f"{result.probability_fake:.3f}" if has_score else "-",
                    f"{result.confidence:.1%}" if has_score else "-",
                    f"{result.frames_analysed}/{result.frames_requested}",
                    str(result.frames_without_face),
                    f"{result.timings.total:.2f}",
                )
            )
        full_rows = [row for row in [header, *rows] if len(row) == len(header)]
        widths = [max(len(row[i]) for row in full_rows) for i in range(len(header))]
        widths[0] = max(len(row[0]) for row in [header, *rows])
        lines = []
        for row in [header, *rows]:
            if len(row) == len(header):
                cells = (cell.ljust(width) for cell, width in zip(row, widths, strict=True))
                lines.append("  ".join(cells).rstrip())
            else:  # an error row: name, ERROR, then the message in full
                lines.append(f"{row[0].ljust(widths[0])}  {row[1].ljust(widths[1])}  {row[2]}")
        return "\n".join(lines)
