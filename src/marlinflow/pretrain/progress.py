"""One line per epoch in the run's log: how training goes, and how long it has left.

A pretraining job runs for hours with Lightning's progress bar off (its carriage returns make a
log file unreadable). :class:`EpochProgress` logs, at the end of every epoch, the epoch's mean
reconstruction loss (and the validation loss when the epoch validated), the learning rate, the
clips trained per second and the time the run still needs at that speed::

    epoch 12/2000: loss_rec 0.0431, val_loss_rec 0.0425, lr 3.75e-05, 41.3 clips/s, ETA 2 days, 3:12:09
"""

from __future__ import annotations

import datetime
import logging
import time

import pytorch_lightning as pl

log = logging.getLogger(__name__)


class EpochProgress(pl.Callback):
    """Logs one line per training epoch on rank 0 (the module's ``step_metrics`` of each step)."""

    def __init__(self) -> None:
        self.losses: list[float] = []
        self.clips = 0
        self.started = 0.0
        self.val_loss: float | None = None
        self.seconds = 0.0  # of the epochs trained in this process (not before a resume)
        self.iterations = 0

    def on_train_epoch_start(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        self.losses, self.clips, self.val_loss = [], 0, None
        self.started = time.perf_counter()

    def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx) -> None:
        loss = pl_module.step_metrics.get("train/loss_rec")
        if loss is not None:
            self.losses.append(float(loss))
        self.clips += len(batch["video"]) * trainer.world_size

    def on_validation_epoch_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        value = trainer.callback_metrics.get("val/loss_rec")
        if value is not None and not trainer.sanity_checking:
            self.val_loss = float(value)

    def on_train_epoch_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        seconds = time.perf_counter() - self.started
        self.seconds += seconds
        self.iterations += len(self.losses)
        if trainer.is_global_zero and self.losses:
            log.info("%s", self.line(trainer, pl_module, seconds))

    def line(self, trainer: pl.Trainer, pl_module: pl.LightningModule, seconds: float) -> str:
        parts = [f"loss_rec {sum(self.losses) / len(self.losses):.4f}"]
        if self.val_loss is not None:
            parts.append(f"val_loss_rec {self.val_loss:.4f}")
        parts.append(f"lr {pl_module.step_metrics.get('lr', float('nan')):.3g}")
        parts.append(f"{self.clips / max(seconds, 1e-9):.1f} clips/s")
        parts.append(f"ETA {self.eta(pl_module)}")
        epochs = trainer.max_epochs if trainer.max_epochs and trainer.max_epochs > 0 else "?"
        return f"epoch {trainer.current_epoch + 1}/{epochs}: " + ", ".join(parts)

    def eta(self, pl_module: pl.LightningModule) -> str:
        """The iterations left (of the run's schedule) at this process's mean time per iteration."""
        schedule = getattr(pl_module, "schedule", None)
        if schedule is None or not self.iterations:
            return "unknown"
        left = max(0, schedule.total_iters - pl_module.iterations_done)
        return str(datetime.timedelta(seconds=round(left * self.seconds / self.iterations)))
