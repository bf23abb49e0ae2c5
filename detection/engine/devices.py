"""Where the engine computes: one rule for inference, training and evaluation."""

from __future__ import annotations

from contextlib import AbstractContextManager

import torch


def resolve_device(device: str = "auto") -> torch.device:
    """``auto``: the GPU when CUDA is usable, else the CPU.

    A name torch does not know, or CUDA asked for on a machine without it, is a ValueError
    here, with words a person can act on, rather than a torch error in the middle of a run.
    """
    if device == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        resolved = torch.device(device)
    except (RuntimeError, ValueError):
        raise ValueError(f"unknown device {device!r}: use 'auto', 'cpu' or 'cuda'") from None
    if resolved.type == "cuda" and not torch.cuda.is_available():
        raise ValueError("CUDA was requested, but no CUDA device is available on this machine")
    return resolved


def autocast(device: torch.device) -> AbstractContextManager:
    """Float16 mixed precision on CUDA; full float32 on the CPU."""
    if device.type == "cuda":
        return torch.autocast("cuda", dtype=torch.float16)
    return torch.autocast("cpu", enabled=False)
