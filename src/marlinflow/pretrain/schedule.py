"""Learning-rate schedules for pretraining: warmup then cosine, per iteration (ours) or as the
official per-epoch staircase (reference: marlin.md §1.9)."""

from __future__ import annotations

import math
from dataclasses import dataclass

SCHEDULES = ("cosine", "staircase")


def scaled_lr(base_lr: float, global_batch: int) -> float:
    """The linear scaling rule: base × global batch / 256 (1.5e-4 × 64 / 256 = 3.75e-5)."""
    return base_lr * global_batch / 256


def cosine_lr(iteration: int, total: int, warmup: int, peak: float, floor: float) -> float:
    """Linear warmup to ``peak`` over ``warmup`` iterations, then cosine down to ``floor``.

    Warmup counts from (iteration + 1) so the first step already learns; the official per-iteration
    table starts at exactly 0.
    """
    if iteration < warmup:
        return peak * (iteration + 1) / warmup
    progress = (iteration - warmup) / max(1, total - warmup)
    return floor + 0.5 * (peak - floor) * (1 + math.cos(math.pi * min(1.0, progress)))


def official_epoch_lr(
    epoch: int, epochs: int, iters_per_epoch: int, warmup_epochs: int, peak: float, floor: float
) -> float:
    """The official table sampled at the first iteration of ``epoch``.

    The table is linspace(0, peak, warmup iterations) followed by a cosine over the remaining
    iterations; the official code reads it once per epoch.
    """
    warmup, i = warmup_epochs * iters_per_epoch, epoch * iters_per_epoch
    if i < warmup:
        return peak * i / max(1, warmup - 1)
    n_cosine = max(1, (epochs - warmup_epochs) * iters_per_epoch)
    return floor + 0.5 * (peak - floor) * (1 + math.cos(math.pi * (i - warmup) / n_cosine))


@dataclass(frozen=True)
class LrSchedule:
    """The learning rate of every (epoch, batch) of a run."""

    peak: float
    floor: float
    warmup_epochs: float
    epochs: int
    iters_per_epoch: int
    total_iters: int
    kind: str = "cosine"

    def __post_init__(self) -> None:
        if self.kind not in SCHEDULES:
            raise ValueError(f"unknown lr schedule {self.kind!r}; known: {', '.join(SCHEDULES)}")

    def lr(self, epoch: int, batch_idx: int) -> float:
        if self.kind == "staircase":
            # Official off-by-one: its scheduler steps after batch 0's optimiser step, so batch 0
            # of epoch e still runs at epoch e-1's value, and all of epoch 0 at 0.
            stair = epoch if batch_idx > 0 else max(0, epoch - 1)
            return official_epoch_lr(
                stair,
                self.epochs,
                self.iters_per_epoch,
                round(self.warmup_epochs),
                self.peak,
                self.floor,
            )
        warmup = round(self.warmup_epochs * self.iters_per_epoch)
        iteration = epoch * self.iters_per_epoch + batch_idx
        return cosine_lr(iteration, self.total_iters, warmup, self.peak, self.floor)
