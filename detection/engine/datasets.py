"""Finding labelled training material and splitting it by group.

A ``Sample`` is one file: a video, or one image (a face crop or a full frame). Layouts read:

- ``folders``: ``ROOT/real/`` and ``ROOT/fake/`` (any depth) of videos and/or images.
- ``manifest``: a corpus with ``manifest.csv`` (file, label, kind, source_repo,
  manipulation_method, source_video_id, ...) and optionally ``manifest_extra.csv`` (group_id).
- ``faceforensics``: FaceForensics++ (``original_sequences/youtube/<c>/videos``,
  ``manipulated_sequences/<Method>/<c>/videos``) with its official ``train/val/test.json`` lists.
- ``celebdf``: Celeb-DF v2 (``Celeb-real``, ``YouTube-real``, ``Celeb-synthesis``) with its
  ``List_of_testing_videos.txt``.

``detect_layout`` guesses which. Splits keep every group (the source video a sample comes from,
with its fakes) on one side, so a model is never validated on a scene it trained on.
"""

from __future__ import annotations

import csv
import json
import random
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

VIDEO_SUFFIXES = {".mp4", ".avi", ".mov", ".mkv", ".webm", ".m4v", ".mpg", ".mpeg"}
IMAGE_SUFFIXES = {".png", ".jpg", ".jpeg", ".bmp", ".webp"}
LAYOUTS = ("folders", "manifest", "faceforensics", "celebdf")


@dataclass(frozen=True)
class Sample:
    path: str  # absolute
    label: str  # "real" or "fake"
    kind: str  # "video" or "image"
    source: str = ""  # where it comes from (a repository, a dataset)
    method: str = ""  # manipulation method, "none" for reals, "" when unknown
    group: str = ""  # samples sharing a group stay on one side of a split
    video_id: str = ""  # the "video" an image belongs to (for video-level figures)
    split: str = ""  # "train", "val", "test" when the dataset says so

    @property
    def is_fake(self) -> int:
        return int(self.label == "fake")

    @property
    def unit(self) -> str:
        """What video-level figures count as one video: the file for a video, the source
        video (with its label) for an image."""
        if self.kind == "video":
            return self.path
        return f"{self.label}:{self.method}:{self.video_id or self.group or self.path}"


def _kind(path: Path) -> str | None:
    suffix = path.suffix.lower()
    if suffix in VIDEO_SUFFIXES:
        return "video"
    if suffix in IMAGE_SUFFIXES:
        return "image"
    return None


def detect_layout(root: str | Path) -> str:
    root = Path(root)
    if (root / "manifest.csv").is_file():
        return "manifest"
    if (root / "original_sequences").is_dir() and (root / "manipulated_sequences").is_dir():
        return "faceforensics"
    if (root / "Celeb-synthesis").is_dir():
        return "celebdf"
    if (root / "real").is_dir() and (root / "fake").is_dir():
        return "folders"
    raise ValueError(
        f"{root} is not a dataset this code reads: expected real/ and fake/ folders, a manifest.csv, "
        "FaceForensics++ (original_sequences/, manipulated_sequences/) or Celeb-DF (Celeb-synthesis/)"
    )


def load_samples(root: str | Path, layout: str = "auto", **options) -> list[Sample]:
    root = Path(root).resolve()
    if not root.is_dir():
        raise ValueError(f"no dataset folder at {root}")
    layout = detect_layout(root) if layout == "auto" else layout
    readers = {
        "folders": from_folders,
        "manifest": from_manifest,
        "faceforensics": from_faceforensics,
        "celebdf": from_celebdf,
    }
    if layout not in readers:
        raise ValueError(f"unknown layout {layout!r}: use auto or one of {', '.join(LAYOUTS)}")
    samples = readers[layout](root, **options)
    if not samples:
        raise ValueError(f"no videos or images found in {root} ({layout} layout)")
    return samples


def from_folders(root: Path, source: str = "") -> list[Sample]:
    """``real/`` and ``fake/``: each file is its own group unless it sits in a sub-folder
    (``real/<group>/frame.png``), whose name is then the group and the video."""
    samples = []
    for label in ("real", "fake"):
        base = root / label
        for path in sorted(base.rglob("*")):
            kind = _kind(path)
            if kind is None or not path.is_file():
                continue
            rel = path.relative_to(base)
            group = rel.parts[0] if len(rel.parts) > 1 else rel.stem
            samples.append(
                Sample(
                    path=str(path),
                    label=label,
                    kind=kind,
                    source=source or root.name,
                    method="none" if label == "real" else "",
                    group=f"{label}/{group}",
                    video_id=group,
                )
            )
    return samples


def from_manifest(root: Path) -> list[Sample]:
    groups = {}
    extra = root / "manifest_extra.csv"
    if extra.is_file():
        with open(extra, newline="") as handle:
            for row in csv.DictReader(handle):
                if row.get("decode_ok", "True") != "False":
                    groups[row["file"]] = row.get("group_id", "")
    samples = []
    with open(root / "manifest.csv", newline="") as handle:
        for row in csv.DictReader(handle):
            path = root / row["file"]
            kind = row.get("kind") or _kind(path)
            if kind not in ("video", "image") or row["label"] not in ("real", "fake"):
                continue
            # "face swap on still image (method not stated; paired with real 0008.png)" -> the
            # method itself, so that figures per method group the samples of one method.
            method = row.get("manipulation_method", "").split(" (")[0].strip()
            if row["label"] == "real":
                method = "none"
            samples.append(
                Sample(
                    path=str(path),
                    label=row["label"],
                    kind=kind,
                    source=row.get("source_repo", "") or root.name,
                    method=method,
                    group=groups.get(row["file"], "") or row.get("source_video_id", "") or row["file"],
                    video_id=row.get("source_video_id", ""),
                )
            )
    return samples


def _ff_split_ids(root: Path) -> dict[str, str]:
    """FF++ ids ('000', '000_003') -> split, from train/val/test.json (pairs of target/source)."""
    split_of = {}
    for split in ("train", "val", "test"):
        for candidate in (root / "splits" / f"{split}.json", root / f"{split}.json"):
            if candidate.is_file():
                for a, b in json.loads(candidate.read_text()):
                    split_of[a] = split_of[b] = split
                    split_of[f"{a}_{b}"] = split_of[f"{b}_{a}"] = split
                break
    return split_of


def from_faceforensics(root: Path, compression: str = "c23") -> list[Sample]:
    split_of = _ff_split_ids(root)
    samples = []
    originals = root / "original_sequences" / "youtube" / compression / "videos"
    for path in sorted(originals.glob("*.mp4")):
        samples.append(
            Sample(str(path), "real", "video", "FaceForensics++", "none", f"ffpp:{path.stem}", path.stem,
                   split_of.get(path.stem, ""))
        )
    for method_dir in sorted((root / "manipulated_sequences").iterdir()):
        videos = method_dir / compression / "videos"
        for path in sorted(videos.glob("*.mp4")):
            target = path.stem.split("_")[0]
            samples.append(
                Sample(str(path), "fake", "video", "FaceForensics++", method_dir.name, f"ffpp:{target}",
                       path.stem, split_of.get(path.stem, split_of.get(target, "")))
            )
    return samples


def from_celebdf(root: Path) -> list[Sample]:
    testing = set()
    listing = root / "List_of_testing_videos.txt"
    if listing.is_file():
        for line in listing.read_text().splitlines():
            parts = line.split()
            if len(parts) == 2:
                testing.add(parts[1])
    samples = []
    for folder, label in (("Celeb-real", "real"), ("YouTube-real", "real"), ("Celeb-synthesis", "fake")):
        for path in sorted((root / folder).glob("*.mp4")):
            rel = f"{folder}/{path.name}"
            identity = path.stem.split("_")[0] if folder != "YouTube-real" else f"yt{path.stem}"
            samples.append(
                Sample(str(path), label, "video", "Celeb-DF v2",
                       "none" if label == "real" else "Celeb-DF synthesis", f"celebdf:{identity}",
                       rel, ("test" if rel in testing else "train") if testing else "")
            )
    return samples


def grouped_split(
    samples: Sequence[Sample], val_fraction: float = 0.2, seed: int = 0
) -> tuple[list[Sample], list[Sample]]:
    """(train, val). Official splits win where a dataset has them (val and test both count
    as held out). Otherwise groups are assigned per source: about ``val_fraction`` of each
    source's groups (at least one when it has two or more) go to validation, chosen by a
    seeded shuffle, so small sources are represented on both sides. Groups holding both real
    and fake samples are held out first, so that a small source's held-out part can still be
    scored (an AUC needs both classes)."""
    if not 0 < val_fraction < 1:
        raise ValueError(f"val_fraction must be between 0 and 1, got {val_fraction}")
    held_groups: set[str] = set()
    by_source: dict[str, set[str]] = defaultdict(set)
    labels: dict[tuple[str, str], set[str]] = defaultdict(set)
    for sample in samples:
        if not sample.split:
            by_source[sample.source].add(sample.group)
            labels[(sample.source, sample.group)].add(sample.label)
    for source, groups in sorted(by_source.items()):
        ordered = sorted(groups)
        random.Random(f"{seed}:{source}").shuffle(ordered)
        ordered.sort(key=lambda g: len(labels[(source, g)]) < 2)  # stable: mixed groups first
        count = round(len(ordered) * val_fraction)
        if len(ordered) >= 2:
            count = min(max(count, 1), len(ordered) - 1)
        held_groups.update(ordered[:count])
    train, val = [], []
    for sample in samples:
        held = sample.split in ("val", "test") if sample.split else sample.group in held_groups
        (val if held else train).append(sample)
    return train, val


def halves(samples: Sequence[Sample], seed: int = 0) -> tuple[list[Sample], list[Sample]]:
    """(validation, test): a held-out split cut again by source video. Every source's groups are
    shuffled with a seed and dealt alternately, so both halves hold each source and no source
    video is on both sides. Training picks its epoch and calibration its temperature and
    thresholds on the first half; the second is only reported on."""
    by_source: dict[str, list[str]] = defaultdict(list)
    for group in sorted({(s.source, s.group) for s in samples}):
        by_source[group[0]].append(group[1])
    test_groups = set()
    for source, groups in by_source.items():
        random.Random(f"calibrate:{seed}:{source}").shuffle(groups)
        test_groups.update((source, g) for g in groups[1::2])
    calibration = [s for s in samples if (s.source, s.group) not in test_groups]
    test = [s for s in samples if (s.source, s.group) in test_groups]
    return calibration, test
