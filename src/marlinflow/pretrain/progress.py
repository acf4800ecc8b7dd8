"""One line per epoch in the run's log: how training goes, who waits, and how long it has left.

A pretraining job runs for hours with Lightning's progress bar off (its carriage returns make a
log file unreadable). :class:`EpochProgress` logs, at the end of every epoch, the epoch's mean
reconstruction loss (and the validation loss when the epoch validated), the learning rate, the
clips trained per second, who waits, and the time the run still needs at that speed::

    epoch 12/2000: loss_rec 0.0431, val_loss_rec 0.0425, lr 3.75e-05, 41.3 clips/s (loader 44.0,
    model 170.2 clips/s, waiting for data 74%), ETA 2 days, 3:12:09

Who waits: the training loop's time is split into waiting for the next batch (from the end of
one step to the start of the next: the loader's next batch and its move to the device) and the
steps themselves. *loader* is the clips the loader handed over per second of that time, *model*
the clips per second of step time alone (what the model would take if it never waited). When the
loop waits for data more than :data:`LOADER_BOUND` of the time, a ``loader-bound`` warning
follows the line: more data workers or repeated sampling would train faster.
"""

from __future__ import annotations

import datetime
import logging
import time

import pytorch_lightning as pl

log = logging.getLogger(__name__)
LOADER_BOUND = 0.2  # share of the training loop's time spent waiting for data that warns


class EpochProgress(pl.Callback):
    """Logs one line per training epoch on rank 0 (the module's ``step_metrics`` of each step)."""

    def __init__(self) -> None:
        self.losses: list[float] = []
        self.clips = 0
        self.started = 0.0
        self.val_loss: float | None = None
        self.seconds = 0.0  # of the epochs trained in this process (not before a resume)
        self.iterations = 0
        self.waited = self.stepped = 0.0  # this epoch's seconds waiting for batches, in steps
        self._mark = 0.0  # when the current wait or step began

    def on_train_epoch_start(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        self.losses, self.clips, self.val_loss = [], 0, None
        self.waited = self.stepped = 0.0
        self.started = self._mark = time.perf_counter()

    def on_train_batch_start(self, trainer, pl_module, batch, batch_idx) -> None:
        now = time.perf_counter()
        self.waited += now - self._mark
        self._mark = now

    def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx) -> None:
        now = time.perf_counter()
        self.stepped += now - self._mark
        self._mark = now
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
            if self.waiting_share() > LOADER_BOUND:
                log.warning(
                    "loader-bound: epoch %d waited for data %.0f%% of its training time "
                    "(loader %.1f clips/s, model %.1f clips/s); more data workers "
                    "(pretrain.workers) or pretrain.repeated_sampling would feed it faster",
                    trainer.current_epoch + 1,
                    100 * self.waiting_share(),
                    *self.rates(),
                )

    def waiting_share(self) -> float:
        """This epoch's share of the training loop's time spent waiting for the next batch."""
        return self.waited / max(self.waited + self.stepped, 1e-9)

    def rates(self) -> tuple[float, float]:
        """(loader, model) clips/s of this epoch: clips per second of the training loop's time,
        and per second of step time alone."""
        loop = max(self.waited + self.stepped, 1e-9)
        return self.clips / loop, self.clips / max(self.stepped, 1e-9)

    def line(self, trainer: pl.Trainer, pl_module: pl.LightningModule, seconds: float) -> str:
        parts = [f"loss_rec {sum(self.losses) / len(self.losses):.4f}"]
        if self.val_loss is not None:
            parts.append(f"val_loss_rec {self.val_loss:.4f}")
        parts.append(f"lr {pl_module.step_metrics.get('lr', float('nan')):.3g}")
        loader, model = self.rates()
        parts.append(
            f"{self.clips / max(seconds, 1e-9):.1f} clips/s (loader {loader:.1f}, "
            f"model {model:.1f} clips/s, waiting for data {100 * self.waiting_share():.0f}%)"
        )
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
