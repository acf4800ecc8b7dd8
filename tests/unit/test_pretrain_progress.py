"""The per-epoch progress line says who waits: the loader's and the model's clips/s, the share of
the training loop spent waiting for data, and a loader-bound warning, on a tiny model fed by a
deliberately slow loader and by a fast one."""

from __future__ import annotations

import logging
import re
import time

import numpy as np
import pytorch_lightning as pl
import torch
from torch.utils.data import DataLoader, Dataset

from marlinflow import masking
from marlinflow.models import get_size
from marlinflow.pretrain.config import PretrainConfig
from marlinflow.pretrain.module import MarlinPretrain
from marlinflow.pretrain.progress import LOADER_BOUND, EpochProgress

TINY = get_size("tiny")
LINE = re.compile(
    r"epoch 1/1: .* ([\d.]+) clips/s \(loader ([\d.]+), model ([\d.]+) clips/s, "
    r"waiting for data (\d+)%\), ETA"
)


class Clips(Dataset):
    """Random tiny clips with random masks, each ``delay`` seconds late."""

    def __init__(self, n: int, delay: float = 0.0):
        self.n, self.delay = n, delay

    def __len__(self) -> int:
        return self.n

    def __getitem__(self, i: int) -> dict[str, torch.Tensor]:
        time.sleep(self.delay)
        visible = masking.random(TINY.grid, 0.9, np.random.default_rng(i))
        clip = torch.rand(TINY.clip_shape, generator=torch.Generator().manual_seed(i))
        return {"video": clip, "visible": torch.from_numpy(visible)}


def fit_one_epoch(dataset: Dataset, caplog) -> tuple[list[logging.LogRecord], EpochProgress]:
    pl.seed_everything(0, verbose=False)
    module = MarlinPretrain(PretrainConfig(model="tiny", warmup_epochs=0.5))
    progress = EpochProgress()
    trainer = pl.Trainer(
        max_epochs=1,
        accelerator="cpu",
        logger=False,
        enable_checkpointing=False,
        enable_progress_bar=False,
        enable_model_summary=False,
        callbacks=[progress],
    )
    caplog.clear()
    with caplog.at_level(logging.INFO, logger="marlinflow.pretrain.progress"):
        trainer.fit(module, DataLoader(dataset, batch_size=2))
    return [r for r in caplog.records if r.name == "marlinflow.pretrain.progress"], progress


def test_a_slow_loader_is_named_loader_bound(caplog):
    records, progress = fit_one_epoch(Clips(6, delay=0.25), caplog)  # 0.5 s a batch of 2
    (line,) = [r.getMessage() for r in records if r.levelno == logging.INFO]
    overall, loader, model, waiting = map(float, LINE.search(line).groups())
    assert waiting >= 60 and model > 2 * loader  # the model could take far more than it got
    assert loader <= 4.0  # at most the 2 clips per 0.5 s the loader can make
    assert progress.waited >= 0.9 * 3 * 0.5  # three batches of 0.5 s of loading, waited for
    (warning,) = [r.getMessage() for r in records if r.levelno == logging.WARNING]
    assert warning.startswith("loader-bound: epoch 1 waited for data") and "workers" in warning


def test_a_fast_loader_is_not(caplog):
    records, progress = fit_one_epoch([Clips(6)[i] for i in range(6)], caplog)  # ready in memory
    (line,) = [r.getMessage() for r in records]
    *_, waiting = map(float, LINE.search(line).groups())
    assert waiting < 100 * LOADER_BOUND and progress.stepped > progress.waited
