"""Comparing pretraining runs by what they wrote: metrics.csv rows and the exported encoder."""

from __future__ import annotations

import csv
from pathlib import Path

import pytest
import torch

LOSSES = ("train/loss_rec", "train/loss_critic", "train/loss_adv", "lr")


def train_rows(path: str | Path) -> list[dict[str, float]]:
    """The training rows of a run's metrics.csv, each with the values it has."""
    with open(path) as f:
        return [
            {k: float(v) for k, v in row.items() if v}
            for row in csv.DictReader(f)
            if row.get("train/loss_rec")
        ]


def losses(run_dir: str | Path) -> list[float]:
    """Reconstruction and critic losses of every step, flattened."""
    rows = train_rows(Path(run_dir) / "metrics.csv")
    return [row[key] for row in rows for key in ("train/loss_rec", "train/loss_critic")]


def assert_same_training(
    straight: Path,
    resumed: Path,
    steps: int,
    rel: float = 1e-6,
    abs_tol: float = 1e-9,
    atol: float = 1e-6,
) -> None:
    """Two runs took the same steps with the same losses and learning rates, and ended with the
    same encoder (``rel``/``abs_tol`` for the logged values, ``atol`` for the weights)."""
    first, second = train_rows(straight / "metrics.csv"), train_rows(resumed / "metrics.csv")
    assert [r["step"] for r in second] == [r["step"] for r in first] == list(range(steps))
    for a, b in zip(first, second, strict=True):
        for key in LOSSES:
            assert a[key] == pytest.approx(b[key], rel=rel, abs=abs_tol), (a["step"], key)
    encoders = [torch.load(run / "encoder.pt")["state_dict"] for run in (straight, resumed)]
    for key, value in encoders[0].items():
        assert torch.allclose(value, encoders[1][key], atol=atol), key
