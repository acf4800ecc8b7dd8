"""MARLIN pretraining as a LightningModule: masked reconstruction plus a WGAN patch critic.

Each iteration runs the autoencoder forward ONCE, then a critic step on the detached prediction,
then a generator step on the same prediction. The official code runs a second forward for the
generator step; the autoencoder's weights do not change during the critic step, so that second
forward recomputes exactly the same prediction (reference: marlin.md §1.8). Detaching for the
critic also means no critic gradient ever reaches the autoencoder (the official code computes
them and throws them away).

Precision (``pretrain.precision``) is the Trainer's: Lightning runs each step under its autocast
and scales fp16 losses; the module computes its losses from float32 predictions either way.
``pretrain.compile`` runs the autoencoder through ``torch.compile``.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import pytorch_lightning as pl
import torch
import torch.nn.functional as F

from marlinflow.models import MarlinModel, PatchCritic, resolve_size
from marlinflow.pretrain.config import INPUTS, PretrainConfig
from marlinflow.pretrain.schedule import LrSchedule, scaled_lr
from marlinflow.pretrain.visual import log_reconstruction
from marlinflow.weights import SCRATCH


def normalise_patches(patches: torch.Tensor, eps: float = 1e-6) -> torch.Tensor:
    """Per-patch zero mean, unit variance (MAE's norm_pix_loss), (..., P) -> (..., P)."""
    mean = patches.mean(dim=-1, keepdim=True)
    var = patches.var(dim=-1, keepdim=True, unbiased=False)
    return (patches - mean) / (var + eps).sqrt()


def critic_loss(critic: torch.nn.Module, fake: torch.Tensor, real: torch.Tensor) -> torch.Tensor:
    """WGAN critic loss: mean D(fake) - mean D(real); patches (B, M, P)."""
    return critic(fake).mean() - critic(real).mean()


def gradient_penalty(
    critic: torch.nn.Module, fake: torch.Tensor, real: torch.Tensor
) -> torch.Tensor:
    """WGAN-GP on points between real and fake, one mixing weight per sample (B, 1, 1).

    The critic scores each patch on its own, so the penalty asks for unit gradient norm per patch.
    (The official, unused, version draws one weight for the whole batch.)
    """
    alpha = torch.rand(real.shape[0], 1, 1, device=real.device, dtype=real.dtype)
    mixed = (alpha * real + (1 - alpha) * fake).requires_grad_(True)  # (B, M, P)
    (grad,) = torch.autograd.grad(critic(mixed).sum(), mixed, create_graph=True)
    return ((grad.norm(dim=-1) - 1) ** 2).mean()


class MarlinPretrain(pl.LightningModule):
    """Holds ``model`` (MarlinModel) and ``critic`` (PatchCritic); checkpoints rely on the names."""

    def __init__(self, config: PretrainConfig, reconstructions: bool = True):
        super().__init__()
        self.config, self.reconstructions = config, reconstructions
        # the checkpoint's record of the run: its model ("size") and settings, not its inputs
        settings = {k: v for k, v in config.to_dict().items() if k not in INPUTS}
        self.save_hyperparameters({"size": config.model, **settings})
        self.size = resolve_size(config.model)
        self.model = MarlinModel(self.size, layer_init=config.layer_init)
        if config.compile:  # in place: the state dict's names stay those of the model
            self.model.compile()
        self.critic = PatchCritic(self.size, layer_init=config.layer_init)
        self.automatic_optimization = False
        # Where the weights started (``checkpointing.start_from``); kept in every checkpoint.
        self.start: dict[str, Any] = {"from": SCRATCH}
        self.schedule: LrSchedule | None = None
        self.step_metrics: dict[str, float] = {}
        self._last_step_end: float | None = None
        self.image_run: Any = None  # a W&B run that takes the reconstruction grids, if any

    @property
    def iterations_done(self) -> int:
        """Training iterations finished; Lightning counts a step of each of the two optimisers."""
        return self.global_step // 2

    # -- one iteration -------------------------------------------------------------------------

    def on_after_batch_transfer(self, batch: dict[str, torch.Tensor], dataloader_idx: int):
        """Clips come as uint8 (:class:`marlinflow.pretrain.data.PretrainClips`: a quarter of the
        bytes through the loader and onto the device); the model takes float in [0, 1]."""
        video = batch["video"]
        if video.dtype == torch.uint8:
            batch = {**batch, "video": video.float().div_(255)}
        return batch

    def forward_pass(self, batch: dict[str, torch.Tensor]) -> tuple[torch.Tensor, torch.Tensor]:
        """Prediction and target of the masked tubelets, both (B, M, P) float32."""
        video, visible = batch["video"], batch["visible"]
        pred = self.model(video, visible)  # under the Trainer's autocast, if any
        target = self.model.targets(video, visible)
        if self.config.norm_targets:
            target = normalise_patches(target)
        return pred.float(), target

    def critic_step(self, pred: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        """One critic update; ``pred`` is detached, so the autoencoder gets no gradient."""
        _, opt_d = self.optimizers()
        fake = pred.detach()
        loss = critic_loss(self.critic, fake, target)
        if self.config.gp_weight > 0:
            loss = loss + self.config.gp_weight * gradient_penalty(self.critic, fake, target)
        opt_d.zero_grad(set_to_none=True)
        self.manual_backward(loss)
        opt_d.step()
        return loss.detach()

    def generator_step(self, pred: torch.Tensor, target: torch.Tensor) -> dict[str, torch.Tensor]:
        """One autoencoder update: MSE + adv_weight × (-mean critic score of the prediction)."""
        opt_g, _ = self.optimizers()
        self.toggle_optimizer(opt_g)  # the critic's weights take no gradient here
        rec = F.mse_loss(pred, target)
        adv = -self.critic(pred).mean()
        loss = rec + self.config.adv_weight * adv
        opt_g.zero_grad(set_to_none=True)
        self.manual_backward(loss)
        opt_g.step()
        self.untoggle_optimizer(opt_g)
        return {"loss_rec": rec.detach(), "loss_adv": adv.detach(), "loss_gen": loss.detach()}

    def training_step(self, batch: dict[str, torch.Tensor], batch_idx: int) -> None:
        lr = self.apply_lr(batch_idx, len(batch["video"]))
        pred, target = self.forward_pass(batch)
        d_loss = self.critic_step(pred, target)
        losses = self.generator_step(pred, target)
        self.record_step({**losses, "loss_critic": d_loss}, lr, len(batch["video"]))

    # -- learning rate -------------------------------------------------------------------------

    def build_schedule(self, batch_size: int) -> LrSchedule:
        """The run's schedule, known once the loader's length and the batch size are."""
        trainer = self.trainer
        global_batch = batch_size * trainer.world_size
        iters = int(trainer.num_training_batches)
        total = self.config.steps or trainer.max_epochs * iters
        return LrSchedule(
            peak=scaled_lr(self.config.base_lr, global_batch),
            floor=scaled_lr(self.config.min_lr, global_batch),
            warmup_epochs=self.config.warmup_epochs,
            epochs=trainer.max_epochs if trainer.max_epochs > 0 else -(-total // iters),
            iters_per_epoch=iters,
            total_iters=total,
            kind=self.config.lr_schedule,
        )

    def apply_lr(self, batch_idx: int, batch_size: int) -> float:
        """Set both optimisers' lr for this iteration (the schedule is a function of position,
        so a resumed run continues it exactly)."""
        if self.schedule is None:
            self.schedule = self.build_schedule(batch_size)
        lr = self.schedule.lr(self.current_epoch, batch_idx)
        for optimizer in self.optimizers():
            for group in optimizer.optimizer.param_groups:
                group["lr"] = lr
        return lr

    def configure_optimizers(self) -> list[torch.optim.Optimizer]:
        kwargs = {
            "lr": 0.0,
            "betas": tuple(self.config.betas),
            "eps": 1e-8,
            "weight_decay": self.config.weight_decay,
        }
        trainable = [p for p in self.model.parameters() if p.requires_grad]
        return [
            torch.optim.AdamW(trainable, **kwargs),
            torch.optim.AdamW(self.critic.parameters(), **kwargs),
        ]

    # -- logging -------------------------------------------------------------------------------

    def record_step(self, losses: dict[str, torch.Tensor], lr: float, batch: int) -> None:
        """Log this iteration; ``step_metrics`` holds the losses averaged over all processes."""
        now = time.perf_counter()
        values = torch.stack(list(losses.values())).float()
        values = self.trainer.strategy.reduce(values, reduce_op="mean")
        metrics: dict[str, Any] = {
            f"train/{k}": float(v) for k, v in zip(losses, values, strict=True)
        }
        metrics["lr"] = lr
        if self._last_step_end is not None:
            metrics["clips_per_s"] = batch * self.trainer.world_size / (now - self._last_step_end)
        self._last_step_end = now
        if self.device.type == "cuda":  # the peak since the run started, this process's GPU
            metrics["gpu_mem_gb"] = torch.cuda.max_memory_allocated(self.device) / 2**30
        self.step_metrics = metrics
        self.log_dict(metrics, on_step=True, on_epoch=False, rank_zero_only=True)

    def on_train_epoch_start(self) -> None:
        self._last_step_end = None  # the loader's start-up is not a training step

    def validation_step(self, batch: dict[str, torch.Tensor], batch_idx: int) -> None:
        pred, target = self.forward_pass(batch)
        rec = F.mse_loss(pred, target)
        d_loss = critic_loss(self.critic, pred, target)
        adv = -self.critic(pred).mean()
        logs = {"val/loss_rec": rec, "val/loss_critic": d_loss, "val/loss_adv": adv}
        self.log_dict(logs, on_epoch=True, sync_dist=True, batch_size=len(pred))
        if batch_idx == 0 and self.reconstructions and self.global_rank == 0:
            self.save_reconstruction(batch)

    def save_reconstruction(self, batch: dict[str, torch.Tensor]) -> None:
        video, visible = batch["video"][:1], batch["visible"][:1]
        recon = self.model.reconstruct(video, visible)
        folder = Path(self.trainer.default_root_dir) / "reconstructions"
        path = folder / f"epoch_{self.current_epoch:04d}.png"
        log_reconstruction(path, video[0], visible[0], recon[0].float(), self.size, self.image_run)

    # -- the run's record ----------------------------------------------------------------------

    def run_facts(self) -> dict[str, Any]:
        """What the run's metrics.json records besides the losses: the precision the Trainer
        ran at (Lightning's name; "32" for float32) and where the weights started."""
        precision = str(self.trainer.precision)
        return {"precision": "32" if precision.startswith("32") else precision, "start": self.start}

    def on_save_checkpoint(self, checkpoint: dict[str, Any]) -> None:
        checkpoint["marlinflow_start"] = self.start

    def on_load_checkpoint(self, checkpoint: dict[str, Any]) -> None:
        # a checkpoint written before runs recorded their start cannot tell
        self.start = checkpoint.get("marlinflow_start", {"from": "unrecorded"})
