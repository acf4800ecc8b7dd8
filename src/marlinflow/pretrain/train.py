"""Run MARLIN pretraining from a :class:`PretrainConfig`: resume from ``last.ckpt`` if present,
write ``encoder.pt`` (official layout) and the run's metrics at the end."""

from __future__ import annotations

import logging
import os
from collections.abc import Sequence
from pathlib import Path

import pytorch_lightning as pl
import torch
from pytorch_lightning.loggers import CSVLogger, Logger
from pytorch_lightning.strategies import DDPStrategy, Strategy

from marlinflow.atomic import write_json
from marlinflow.checkpoints import export_official
from marlinflow.models import resolve_size
from marlinflow.pretrain.config import PretrainConfig
from marlinflow.pretrain.data import MaskSpec, PretrainData
from marlinflow.pretrain.metrics import MetricsFiles
from marlinflow.pretrain.module import MarlinPretrain

log = logging.getLogger(__name__)
LAST = "last.ckpt"


def build_data(config: PretrainConfig) -> PretrainData:
    mask = MaskSpec(config.mask_strategy, config.mask_ratio, config.mask_balanced)
    return PretrainData(config.index, resolve_size(config.model), config.batch_size, mask,
                        config.frame_stride, config.seed, config.workers, config.clips_per_epoch,
                        config.val_fraction, config.val_clips)  # fmt: skip


def build_module(config: PretrainConfig) -> MarlinPretrain:
    return MarlinPretrain(
        size=config.model, adv_weight=config.adv_weight, gp_weight=config.gp_weight,
        norm_targets=config.norm_targets, base_lr=config.base_lr, min_lr=config.min_lr,
        warmup_epochs=config.warmup_epochs, lr_schedule=config.lr_schedule, betas=config.betas,
        weight_decay=config.weight_decay, max_iters=config.steps,
    )  # fmt: skip


def device_count(config: PretrainConfig) -> int:
    """Processes the run will have (``devices: auto`` takes every GPU, or one CPU process)."""
    devices = config.devices
    if isinstance(devices, (list, tuple)):  # explicit device ids
        devices = len(devices)
    if devices in ("auto", "-1", -1):
        wants_gpu = config.accelerator in ("auto", "gpu", "cuda")
        devices = torch.cuda.device_count() if wants_gpu and torch.cuda.is_available() else 1
    return int(devices) * config.num_nodes


def build_strategy(config: PretrainConfig) -> str | Strategy:
    """DDP with unused-parameter search: each backward (critic, then generator) reaches only
    part of the networks, which plain DDP would take for an error."""
    if config.strategy == "ddp" or (config.strategy == "auto" and device_count(config) > 1):
        return DDPStrategy(find_unused_parameters=True)
    return config.strategy


def build_loggers(config: PretrainConfig, run_dir: Path) -> list[Logger]:
    loggers: list[Logger] = [CSVLogger(save_dir=run_dir, name="logs")]
    if config.wandb:
        from pytorch_lightning.loggers import WandbLogger

        os.environ.setdefault("WANDB_MODE", config.wandb_mode)
        loggers.append(WandbLogger(project=config.wandb_project, group=config.wandb_group,
                                   save_dir=str(run_dir), name=run_dir.name,
                                   config=config.to_dict()))  # fmt: skip
    return loggers


class LastCheckpoint(pl.Callback):
    """``last.ckpt`` at the end of every epoch, written under a temporary name and then renamed,
    so a job killed while writing still resumes from the previous epoch. (ModelCheckpoint's
    save_last writes in place, and with save_top_k=0 writes only at the end of the run.)"""

    def __init__(self, path: Path):
        self.path = path

    def on_train_epoch_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        partial = self.path.with_name(f".{self.path.name}.partial")
        trainer.save_checkpoint(partial)  # every rank takes part; rank 0 writes
        if trainer.is_global_zero:
            os.replace(partial, self.path)
        trainer.strategy.barrier("last_checkpoint")


def build_trainer(
    config: PretrainConfig, run_dir: Path, extra: Sequence[pl.Callback] = ()
) -> pl.Trainer:
    return pl.Trainer(
        default_root_dir=run_dir,
        accelerator=config.accelerator,
        devices=config.devices,
        num_nodes=config.num_nodes,
        strategy=build_strategy(config),
        max_epochs=config.epochs,
        # Lightning counts each optimiser's step; one iteration steps both.
        max_steps=2 * config.steps if config.steps else -1,
        check_val_every_n_epoch=config.val_every,
        limit_val_batches=1.0 if config.val_fraction > 0 else 0,
        num_sanity_val_steps=0,
        use_distributed_sampler=False,  # our sampler splits the keys between ranks itself
        callbacks=[LastCheckpoint(run_dir / LAST), MetricsFiles(run_dir), *extra],
        enable_checkpointing=False,
        logger=build_loggers(config, run_dir),
        log_every_n_steps=1,
        enable_progress_bar=False,
        enable_model_summary=False,
    )


def pretrain(config: PretrainConfig, callbacks: Sequence[pl.Callback] = ()) -> dict[str, Path]:
    """Train (or finish training) the run in ``config.run_dir``; returns its output files."""
    run_dir = Path(config.run_dir)
    run_dir.mkdir(parents=True, exist_ok=True)
    pl.seed_everything(config.seed, workers=True, verbose=False)  # same initial weights everywhere
    module, data = build_module(config), build_data(config)
    trainer = build_trainer(config, run_dir, callbacks)
    resume = run_dir / LAST
    if trainer.is_global_zero:
        write_json(run_dir / "config.json", config.to_dict())
    if resume.is_file():
        log.info("resuming from %s", resume)
    try:
        trainer.fit(module, datamodule=data, ckpt_path=resume if resume.is_file() else None)
    finally:
        if config.wandb:  # Lightning leaves the W&B run open; the next run must not reuse it
            import wandb

            wandb.finish()
    outputs = {"checkpoint": resume, "encoder": run_dir / "encoder.pt",
               "metrics_csv": run_dir / "metrics.csv", "metrics_json": run_dir / "metrics.json"}  # fmt: skip
    if trainer.is_global_zero:
        export_official(module.model, outputs["encoder"], full=False)
    return outputs
