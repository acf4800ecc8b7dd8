"""The training loop shared by the linear probe and fine-tuning, with the official settings.

Official (marlin.md §3.3): one Linear head; BCE-with-logits for multi-label; Adam, lr 1e-4,
betas (0.5, 0.9), no weight decay; ReduceLROnPlateau on the training loss (factor 0.5,
patience 7, min lr 1e-8); stop once every learning rate is at most 1e-6 or at ``max_epochs``;
keep the epoch with the best validation metric (max val AUC there; the task kind's ``selection``
here). Our additions: cross-entropy for multi-class, L1 for regression (each kind's ``loss``), and
an optional ``early_stop`` (epochs without a better validation metric) for quick runs.
"""

from __future__ import annotations

import contextlib
import copy
import logging
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch
from torch import nn

from marlinflow.downstream.kinds import TaskKind
from marlinflow.progress import progress

log = logging.getLogger(__name__)

Batches = Callable[[int], Iterable[tuple[torch.Tensor, torch.Tensor]]]  # epoch -> (x, y) batches


@dataclass(frozen=True)
class TrainConfig:
    """The training loop: a protocol's settings (``downstream.probe`` or ``downstream.finetune``)
    and the seed, over the official optimiser and schedule, which are constants of the protocol
    rather than settings (marlin.md §3.3)."""

    lr: float
    batch_size: int  # 0: the whole training split in one batch
    max_epochs: int
    early_stop: int | None  # epochs without a better val metric; None: official
    seed: int
    betas: tuple[float, float] = (0.5, 0.9)
    weight_decay: float = 0.0
    plateau_factor: float = 0.5
    plateau_patience: int = 7
    min_lr: float = 1e-8
    stop_lr: float = 1e-6

    @classmethod
    def from_settings(cls, settings: Any, seed: int, **constants: Any) -> TrainConfig:
        """The loop of a protocol's settings (a ProbeSettings or FinetuneSettings)."""
        return cls(
            settings.lr,
            settings.batch_size,
            settings.max_epochs,
            settings.early_stop,
            seed,
            **constants,
        )


@dataclass
class FitResult:
    best_epoch: int
    best_score: float | None
    epochs: int
    history: list[dict] = field(default_factory=list)


@contextlib.contextmanager
def torch_threads(n_threads: int | None) -> Iterator[None]:
    """Run the block with ``n_threads`` intra-op threads (None: leave as is). A linear head's
    matrices are tiny; with more threads than free cores, OpenMP's spinning makes each step
    ten times slower on a busy machine, so the probe trains on one thread."""
    before = torch.get_num_threads()
    if n_threads:
        torch.set_num_threads(n_threads)
    try:
        yield
    finally:
        torch.set_num_threads(before)


def fit(
    model: nn.Module,
    train_batches: Batches,
    validate: Callable[[], np.ndarray],
    val_targets: np.ndarray,
    kind: TaskKind,
    cfg: TrainConfig,
    scaler: torch.amp.GradScaler | None = None,
    what: str = "train",
) -> FitResult:
    """Train ``model`` in place and leave it at its best epoch; ``validate`` returns the val
    scores (as ``kind.to_scores`` makes them), in the order of ``val_targets``. ``scaler``
    scales the losses of a model that runs in float16 (``compute.precision.grad_scaler``).
    Progress goes to stderr, as ``what`` (the epochs, with the last epoch's loss and validation
    score)."""
    scaler = scaler or torch.amp.GradScaler("cpu", enabled=False)
    optimiser = torch.optim.Adam(
        [p for p in model.parameters() if p.requires_grad],
        lr=cfg.lr,
        betas=cfg.betas,
        weight_decay=cfg.weight_decay,
    )
    plateau = torch.optim.lr_scheduler.ReduceLROnPlateau(
        optimiser, factor=cfg.plateau_factor, patience=cfg.plateau_patience, min_lr=cfg.min_lr
    )
    loss_fn, result = kind.loss_module(), FitResult(0, None, 0)
    best_state = copy.deepcopy(model.state_dict())
    epochs = progress(what=f"{what} (seed {cfg.seed})", total=cfg.max_epochs, unit="epoch")
    for epoch in range(cfg.max_epochs):
        train_loss = _train_epoch(model, train_batches(epoch), loss_fn, optimiser, scaler)
        plateau.step(train_loss)
        score = _validate(model, validate, val_targets, kind)
        epochs.set_postfix(loss=f"{train_loss:.4g}", val=f"{score:.4g}", refresh=False)
        epochs.update()
        result.history.append({"epoch": epoch, "train_loss": train_loss, "val": score})
        result.epochs = epoch + 1
        if len(val_targets) == 0 or kind.is_better(score, result.best_score):
            result.best_epoch, result.best_score = epoch, score
            best_state = copy.deepcopy(model.state_dict())
        if _should_stop(optimiser, cfg, epoch - result.best_epoch):
            break
    epochs.close()  # its last line, also when training stopped early
    model.load_state_dict(best_state)
    log.info("best epoch %d of %d (val %s)", result.best_epoch, result.epochs, result.best_score)
    return result


def _train_epoch(model, batches, loss_fn, optimiser, scaler) -> float:
    model.train()
    total, count = 0.0, 0
    for inputs, targets in batches:
        optimiser.zero_grad()
        loss = loss_fn(model(inputs), targets)
        scaler.scale(loss).backward()  # unscaled and stepped as usual when disabled
        scaler.step(optimiser)
        scaler.update()
        total, count = total + float(loss.detach()) * len(targets), count + len(targets)
    return total / max(count, 1)


def _validate(model, validate, val_targets, kind: TaskKind) -> float:
    if len(val_targets) == 0:
        return float("nan")
    model.eval()
    with torch.no_grad():
        scores = validate()
    return kind.selection_score(scores, val_targets)


def _should_stop(optimiser, cfg: TrainConfig, epochs_since_best: int) -> bool:
    if all(group["lr"] <= cfg.stop_lr for group in optimiser.param_groups):
        return True
    return cfg.early_stop is not None and epochs_since_best >= cfg.early_stop
