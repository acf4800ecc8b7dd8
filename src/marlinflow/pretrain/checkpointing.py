"""Where a pretraining run starts from: its own checkpoint when resuming, else a VideoMAE
pretraining checkpoint (``pretrain.init``) or random weights; and the ``last.ckpt`` it keeps for
the next start.

A run resumes from the newest of ``last.ckpt`` and the requeue checkpoints ``hpc_ckpt_<n>.ckpt``
(written on SLURM's time-limit warning, by Lightning's handler or by
:class:`marlinflow.pretrain.launch.RequeueAtBatchEnd`, which takes its name from here).
``last.ckpt`` is written at the end of every epoch and, with ``checkpoint_every_steps``, every N
iterations within one; the data module then skips the batches of the epoch that are already
done, so a resumed run trains on exactly the batches an uninterrupted one would.
"""

from __future__ import annotations

import logging
import os
import zipfile
from pathlib import Path

import pytorch_lightning as pl

from marlinflow.errors import InputError
from marlinflow.models import MarlinModel
from marlinflow.weights import SCRATCH
from marlinflow.weights.videomae import POSITION_TABLES, init_from_videomae

log = logging.getLogger(__name__)
LAST = "last.ckpt"
# Lightning's name for a checkpoint saved on the requeue signal, <n> counting from 1 (Lightning
# resumes from it by itself only when no checkpoint path is given).
REQUEUE_PREFIX, REQUEUE_SUFFIX = "hpc_ckpt_", ".ckpt"


class LastCheckpoint(pl.Callback):
    """``last.ckpt`` at the end of every epoch and, when ``every_steps`` is set, after every
    that many iterations. Written under a temporary name and then renamed, so a job killed
    while writing still resumes from the previous one. (ModelCheckpoint's save_last writes in
    place, and with save_top_k=0 writes only at the end of the run.)"""

    def __init__(self, path: Path, every_steps: int | None = None):
        self.path, self.every_steps = path, every_steps

    def on_train_batch_end(self, trainer: pl.Trainer, pl_module, outputs, batch, batch_idx) -> None:
        last_of_epoch = batch_idx + 1 >= trainer.num_training_batches  # the epoch's end saves
        done = pl_module.iterations_done
        if self.every_steps and done % self.every_steps == 0 and not last_of_epoch:
            self.save(trainer)

    def on_train_epoch_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        self.save(trainer)

    def save(self, trainer: pl.Trainer) -> None:
        partial = self.path.with_name(f".{self.path.name}.partial")
        # the whole training state (optimisers, loops), to resume from: weights_only=False
        trainer.save_checkpoint(partial, weights_only=False)  # every rank takes part; rank 0 writes
        if trainer.is_global_zero:
            os.replace(partial, self.path)
        trainer.strategy.barrier("last_checkpoint")


def requeue_checkpoints(run_dir: str | Path) -> list[Path]:
    """The checkpoints saved in ``run_dir`` on SLURM's time-limit warning (``hpc_ckpt_<n>.ckpt``)."""
    return list(Path(run_dir).glob(f"{REQUEUE_PREFIX}*{REQUEUE_SUFFIX}"))


def next_requeue_checkpoint(run_dir: str | Path) -> Path:
    """Where the next checkpoint saved on the warning goes: ``hpc_ckpt_<highest n + 1>.ckpt``."""
    numbers = [int(p.stem.rpartition("_")[2]) for p in requeue_checkpoints(run_dir)]
    return Path(run_dir) / f"{REQUEUE_PREFIX}{max(numbers, default=0) + 1}{REQUEUE_SUFFIX}"


def resume_checkpoint(run_dir: str | Path, last: str = LAST) -> Path | None:
    """The newest checkpoint to resume from: ``last.ckpt``, or one saved on the requeue signal."""
    candidates = [p for p in requeue_checkpoints(run_dir) if p.is_file()]
    if (Path(run_dir) / last).is_file():
        candidates.append(Path(run_dir) / last)
    return max(candidates, key=lambda p: p.stat().st_mtime_ns, default=None)


def readable_checkpoint(path: Path) -> Path:
    """``path`` if its archive is whole (every member's CRC checked), else an error saying what
    to do: Lightning's own would be a traceback from deep inside the loader."""
    try:
        with zipfile.ZipFile(path) as archive:
            damaged = archive.testzip()
    except (OSError, zipfile.BadZipFile) as err:
        damaged = str(err)
    if damaged is not None:
        raise InputError(
            path,
            f"a damaged checkpoint ({damaged}); move it out of {path.parent} to start the run "
            "afresh, or put back a good copy of it to resume",
        )
    return path


def start_from(model: MarlinModel, init: str | None) -> dict:
    """Initialise ``model`` as ``pretrain.init`` says and return the run's record of it:
    ``{"from": "scratch"}`` for random weights (null or ``scratch``), else the VideoMAE
    checkpoint's record (file, layout, SHA-256, keys loaded, missing and unexpected), with a
    warning about every key that does not fit beyond the position tables VideoMAE never stores."""
    if init is None or init == SCRATCH:
        return {"from": SCRATCH}
    report = init_from_videomae(model, init)
    surprising = [key for key in report.missing if key not in POSITION_TABLES]
    if surprising or report.unexpected:
        log.warning(
            "VideoMAE init from %s left %d weights at random (%s) and ignored %d (%s)",
            init,
            len(surprising),
            ", ".join(surprising[:5]),
            len(report.unexpected),
            ", ".join(report.unexpected[:5]),
        )
    return report.record()
