"""The run's own metrics files, written by the training process whatever loggers are on:
``metrics.csv`` (one row per iteration, plus one per validation), and at the end of the run a
summary (``metrics.json``, with the module's ``run_facts``: the precision and where the weights
started)."""

from __future__ import annotations

import csv
import math
from pathlib import Path
from typing import Any

import pytorch_lightning as pl

from marlinflow.atomic import atomic_path, write_json


def read_rows(path: Path) -> list[dict[str, Any]]:
    if not path.is_file():
        return []
    with open(path, newline="") as f:
        return [{k: _number(v) for k, v in row.items() if v != ""} for row in csv.DictReader(f)]


def _number(text: str) -> float | int:
    value = float(text)
    return int(value) if value.is_integer() and "." not in text and "e" not in text else value


def write_rows(path: Path, rows: list[dict[str, Any]]) -> None:
    columns = list(dict.fromkeys(key for row in rows for key in row))
    with atomic_path(path) as tmp, open(tmp, "w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=columns)
        writer.writeheader()
        writer.writerows(rows)


def summarise(rows: list[dict[str, Any]]) -> dict[str, Any]:
    train = [r for r in rows if "train/loss_rec" in r]
    val = [r for r in rows if "val/loss_rec" in r]
    speeds = [r["clips_per_s"] for r in train if "clips_per_s" in r]
    return {
        "iterations": len(train),
        "epochs": max((r["epoch"] for r in train), default=-1) + 1,
        "final_train": train[-1] if train else {},
        "final_val": val[-1] if val else {},
        "best_val_loss_rec": min((r["val/loss_rec"] for r in val), default=math.nan),
        "clips_per_s_mean": sum(speeds) / len(speeds) if speeds else math.nan,
    }


class MetricsFiles(pl.Callback):
    """Collects the module's ``step_metrics`` and the validation means; rank 0 writes the rows
    whenever a checkpoint is saved and at the end of the run, and the summary (``summary_path``,
    default ``metrics.json`` beside them) only at the end. A resumed run keeps the rows of the
    iterations its checkpoint holds."""

    def __init__(self, run_dir: str | Path, summary_path: str | Path | None = None):
        self.csv_path = Path(run_dir) / "metrics.csv"
        self.json_path = Path(summary_path or Path(run_dir) / "metrics.json")
        self.rows: list[dict[str, Any]] = []

    def on_train_start(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        self.rows = self.rows_before(pl_module.iterations_done)

    def rows_before(self, done: int) -> list[dict[str, Any]]:
        """The rows on disk of the iterations a checkpoint holds (later ones are done again)."""
        return [r for r in read_rows(self.csv_path) if r["step"] < done]

    def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx) -> None:
        step = trainer.current_epoch * int(trainer.num_training_batches) + batch_idx
        self.rows.append({"epoch": trainer.current_epoch, "step": step, **pl_module.step_metrics})

    def on_validation_epoch_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        if trainer.sanity_checking:
            return
        values = {k: float(v) for k, v in trainer.callback_metrics.items() if k.startswith("val/")}
        step = (trainer.current_epoch + 1) * int(trainer.num_training_batches) - 1
        self.rows.append({"epoch": trainer.current_epoch, "step": step, **values})

    def on_save_checkpoint(self, trainer: pl.Trainer, pl_module, checkpoint: dict) -> None:
        if trainer.is_global_zero and self.rows:  # every checkpoint has its rows on disk
            write_rows(self.csv_path, self.rows)

    def on_fit_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        if not trainer.is_global_zero:
            return
        if not self.rows:  # resumed from a checkpoint at the run's end: nothing was trained now
            self.rows = self.rows_before(pl_module.iterations_done)
        if self.rows:
            write_rows(self.csv_path, self.rows)
            write_json(self.json_path, summarise(self.rows) | trainer.lightning_module.run_facts())
