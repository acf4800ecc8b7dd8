"""Numeric precision of training and inference, by Lightning's names.

``32`` is plain float32 (the official runs); ``bf16-mixed`` and ``16-mixed`` run the forward
pass under ``torch.autocast`` in bfloat16 or float16 with float32 weights. Pretraining hands the
name to Lightning's Trainer (which also scales fp16 losses); feature extraction and fine-tuning
use :func:`autocast` and :func:`grad_scaler` here, so the three read one setting the same way.

On a CPU, ``16-mixed`` runs as ``bf16-mixed``: Lightning does so (fp16 automatic mixed
precision is not supported there), and this module follows it, with a warning. Runs record the
precision they ran at (:func:`effective`).
"""

from __future__ import annotations

import contextlib
import warnings
from collections.abc import Iterator

import torch

PRECISIONS = ("32", "bf16-mixed", "16-mixed")
DTYPES = {"bf16-mixed": torch.bfloat16, "16-mixed": torch.float16}


def device_type(device: str | torch.device) -> str:
    return torch.device(device).type


def effective(precision: str, device: str | torch.device) -> str:
    """The precision a run on ``device`` runs at: ``precision``, except ``16-mixed`` off a
    CUDA device, which runs as ``bf16-mixed``."""
    if precision not in PRECISIONS:
        raise ValueError(f"precision must be one of {', '.join(PRECISIONS)}, not {precision!r}")
    if precision == "16-mixed" and device_type(device) != "cuda":
        warnings.warn(
            f"precision 16-mixed is not supported on {device}; running bf16-mixed", stacklevel=2
        )
        return "bf16-mixed"
    return precision


@contextlib.contextmanager
def autocast(precision: str, device: str | torch.device) -> Iterator[None]:
    """The block under ``precision``'s autocast on ``device`` (nothing at all for ``32``)."""
    precision = effective(precision, device)
    if precision == "32":
        yield
        return
    with torch.autocast(device_type(device), dtype=DTYPES[precision]):
        yield


def grad_scaler(precision: str, device: str | torch.device) -> torch.amp.GradScaler:
    """A loss scaler for ``precision`` on ``device``: active for fp16 only (bf16 and fp32 need
    none, and a disabled scaler passes losses and steps through unchanged)."""
    enabled = effective(precision, device) == "16-mixed"
    return torch.amp.GradScaler(device_type(device), enabled=enabled)
