"""``python manage.py detect FILE [FILE ...]``: analyse videos and photos from the command line.

A thin shell around ``detection.engine``: results go to stdout (a table, or JSON with
``--json``), progress to stderr. Exit status: 0 when every video was analysed, 1 when any
video could not be read (the others are still analysed), 2 when no usable model was found.
A JPEG, PNG or WebP photo is judged as the site judges one: every face in it, the verdict its
most suspicious face (``detection.engine.still``).

The detector is the registry's default (``detection.registry``, as for the worker and the
API), or the one named with ``--detector NAME|ID|PATH``; a path is used as given. Without a
database (a GPU box with a partial setup) or with ``--models-dir``, the only checkpoint in
the models folder is used; when there are several, the command asks which.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError
from django.db import DatabaseError

MODEL_SUFFIXES = (".pt", ".pth", ".json")  # .json: an ensemble manifest
STRATEGIES = ("uniform", "contiguous")  # detection.engine.video.STRATEGIES, without importing cv2 here
STILL_AGGREGATION = "most-suspicious-face"  # detection.engine.still.AGGREGATION


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


def checkpoints_in(models_dir: Path) -> list[Path]:
    """The checkpoint files in ``models_dir``, by name."""
    if not models_dir.is_dir():
        return []
    return sorted(p for p in models_dir.iterdir() if p.is_file() and p.suffix.lower() in MODEL_SUFFIXES)


def looks_like_path(text: str) -> bool:
    return "/" in text or "\\" in text or Path(text).suffix.lower() in MODEL_SUFFIXES or Path(text).is_file()


def still_image_kind(path: Path) -> bool:
    """True for a photo we judge (JPEG, PNG, WebP). OpenCV reads other images (GIF, TIFF) as
    one-frame videos, which would come out as "no face": those are refused, saying what they are."""
    from detection.engine.errors import VideoError
    from detection.uploads import CONTAINERS, sniff_container, sniff_image

    try:
        with open(path, "rb") as handle:
            head = handle.read(64)
    except OSError:
        return False  # the reader says what is wrong with the path
    container = sniff_container(head)
    if container and CONTAINERS[container].kind == "image":
        return True
    image = sniff_image(head)
    if image:
        raise VideoError(f"This is {image}, not a video or a JPEG, PNG or WebP photo.")
    return False


class Command(BaseCommand):
    help = (
        "Analyse one or more videos with the deepfake detector and print the verdicts. "
        "Exit status 1 if any video could not be read, 2 if no usable model was found."
    )
    # Analysing a file needs neither the database nor the URL configuration; skipping the
    # system checks keeps the command fast and usable on a GPU box with a partial setup.
    requires_system_checks = []

    def add_arguments(self, parser: argparse.ArgumentParser) -> None:
        parser.add_argument("videos", nargs="+", type=Path, metavar="FILE",
                            help="video files (or JPEG, PNG, WebP photos) to analyse")
        parser.add_argument(
            "--detector",
            metavar="NAME|ID|PATH",
            help="a registered detector (name or id, see install_model) or a checkpoint file (.pt/.pth); "
            "default: the registered default detector",
        )
        parser.add_argument("--model", type=Path, metavar="PATH", help="checkpoint file (.pt/.pth) to use")
        parser.add_argument(
            "--models-dir",
            type=Path,
            metavar="DIR",
            help="use the only checkpoint in DIR instead of the registered default (also the fallback, in "
            "DFD_MODELS_DIR, when there is no database)",
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
        model_path = self._model_path(options["detector"], options["model"], options["models_dir"])
        # Imported here so that `detect --help` and the no-model message do not load PyTorch.
        import cv2.utils.logging

        from detection.engine.detector import load_detector
        from detection.engine.errors import CheckpointError, VideoError
        from detection.engine.still import judge_still

        # FFmpeg's own complaints ("moov atom not found") would repeat the VideoError message.
        cv2.utils.logging.setLogLevel(cv2.utils.logging.LOG_LEVEL_ERROR)

        try:
            detector = load_detector(model_path, device=options["device"])
        except CheckpointError as exc:
            raise CommandError(f"Cannot use the model {model_path}: {exc}", returncode=2) from None
        except ValueError as exc:
            raise CommandError(str(exc), returncode=2) from None
        if options["seed_exact"] and detector.variant == "ensemble":
            raise CommandError("--seed-exact reproduces the seed's own checkpoint: choose a checkpoint with "
                               "--detector, not an ensemble.", returncode=2)

        videos: list[Path] = options["videos"]
        entries = []
        for number, video in enumerate(videos, start=1):
            prefix = f"[{number}/{len(videos)}] {video.name}"
            try:
                if still_image_kind(video):
                    prediction = judge_still(
                        detector, video, max_pixels=settings.DFD_MAX_PIXELS, heatmaps=options["heatmaps"],
                        progress=self._progress_printer(prefix),
                    )
                else:
                    prediction = detector.predict(
                        video,
                        frames=options["frames"],
                        strategy=options["strategy"],
                        seed_exact=options["seed_exact"],
                        heatmaps=options["heatmaps"],
                        progress=self._progress_printer(prefix),
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
                f"model: {detector.model_id} ({detector.variant}, sha256 {detector.sha256[:12]}), "
                f"device {detector.device}"
            )

        failed = sum(not entry["ok"] for entry in entries)
        if failed:
            raise CommandError(f"{failed} of {len(entries)} videos could not be analysed.", returncode=1)

    def _model_path(self, choice: str | None, model: Path | None, models_dir: Path | None) -> Path:
        """The checkpoint to load: a path as given, a registered detector, or the default."""
        if model is not None:
            return model
        if choice and looks_like_path(choice):
            return Path(choice)
        if choice or models_dir is None:
            try:
                detector = self._registered(choice)
            except DatabaseError:  # no database here: the models folder decides
                if choice:
                    raise CommandError(
                        f"Cannot look up the detector {choice!r} without the database: give a checkpoint "
                        "path with --detector PATH.",
                        returncode=2,
                    ) from None
                detector = None
            if detector is not None:
                return self._usable_path(detector)
        return self._only_checkpoint(models_dir or Path(settings.DFD_MODELS_DIR))

    def _registered(self, choice: str | None):
        """The registered detector named or numbered ``choice`` (the default without one);
        None when no detector is registered at all. Raises DatabaseError without a database."""
        from detection import registry
        from detection.models import DetectorModel

        if not choice:
            return registry.detector_get_default()
        detector = DetectorModel.objects.filter(name=choice).first()
        if detector is None and choice.isdigit():
            detector = DetectorModel.objects.filter(id=int(choice)).first()
        if detector is None:
            names = ", ".join(DetectorModel.objects.values_list("name", flat=True)) or "none"
            raise CommandError(
                f"No detector {choice!r}: not the name or id of a registered detector (registered: {names}), "
                "nor a checkpoint file.",
                returncode=2,
            )
        return detector

    def _usable_path(self, detector) -> Path:
        from detection import registry

        status = registry.detector_check(detector)
        if not status.ok:
            raise CommandError(f"The detector {detector.name} cannot be used. {status.problem}", returncode=2)
        if self.verbosity >= 1:
            default = " default" if detector.is_default else ""
            self.stderr.write(f"Using the{default} detector {detector.name} ({detector.file}).")
        return detector.path

    def _only_checkpoint(self, models_dir: Path) -> Path:
        found = checkpoints_in(models_dir)
        manifests = [path for path in found if path.suffix == ".json"]
        if len(manifests) == 1:  # an ensemble and its members count as one detector
            return manifests[0]
        if not found:
            raise CommandError(
                f"No detector model found in {models_dir}. Install one with "
                "`python manage.py install_model PATH_OR_URL`, copy a .pt or .pth checkpoint into "
                f"{models_dir}, or pass --model PATH.",
                returncode=2,
            )
        if len(found) > 1:
            names = ", ".join(path.name for path in found)
            raise CommandError(
                f"{len(found)} checkpoints in {models_dir} and no default detector registered ({names}): "
                "choose one with --detector PATH, or register them with "
                "`python manage.py install_model --scan`.",
                returncode=2,
            )
        return found[0]

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
                    f"{result.frames_analysed} faces" if result.aggregation == STILL_AGGREGATION
                    else f"{result.frames_analysed}/{result.frames_requested}",
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
        for entry in entries:  # an ensemble: what each member said
            if entry["result"] is not None and entry["result"].member_scores:
                said = ", ".join(f"{name} {p:.3f}" for name, p in entry["result"].member_scores.items())
                lines.append(f"{Path(entry['video']).name}: members' P(fake): {said}")
        return "\n".join(lines)
