"""Deterministic splits and low-label subsets: the same ids and seed give the same rows anywhere.

Splits hash each key with the seed (:func:`split_of`), so they depend on neither the
order of a folder listing (the official CelebV-HQ bug, marlin.md §2.5) nor on which other videos
exist.
Few-shot subsets draw from the sorted training ids with a seeded generator.
"""

from __future__ import annotations

import hashlib

import numpy as np
import pandas as pd

from marlinflow.downstream.tasks import Task


def stable_fraction(key: str, seed: int = 0) -> float:
    """A deterministic number in [0, 1) per key: splits that do not depend on listing order."""
    digest = hashlib.sha256(f"{seed}:{key}".encode()).digest()
    return int.from_bytes(digest[:8], "big") / 2**64


VAL, TEST = 0.1, 0.1  # the default shares of val and test


def split_of(key: str, val: float = VAL, test: float = TEST, seed: int = 0) -> str:
    """``val``, ``test`` or ``train`` for a key, in those proportions (seeded hash of the key)."""
    u = stable_fraction(key, seed)
    return "val" if u < val else "test" if u < val + test else "train"


def split_shares(val: float = VAL, test: float = TEST) -> dict[str, float]:
    """The share of keys :func:`split_of` puts in each split, as many keys give them."""
    return {"train": 1 - val - test, "val": val, "test": test}


def hash_splits(keys: list[str], val: float = VAL, test: float = TEST, seed: int = 0) -> list[str]:
    """The split of each key (train / val / test in proportions 1-val-test / val / test)."""
    return [split_of(key, val, test, seed) for key in keys]


def carve_val(table: pd.DataFrame, fraction: float = 0.1, seed: int = 0) -> pd.DataFrame:
    """Move a seeded ``fraction`` of the train rows to val (for data sets without a val split)."""
    table = table.copy()
    train = table["split"] == "train"
    moved = [split_of(key, fraction, 0.0, seed) == "val" for key in table.loc[train, "id"]]
    table.loc[table.index[train][moved], "split"] = "val"
    return table


def low_label(
    task: Task, fraction: float | None = None, k: int | None = None, seed: int = 0
) -> Task:
    """The task with its train split cut to a ``fraction`` of rows, or ``k`` rows per class.

    For multi-label tasks, ``k`` takes k positives of each attribute (their union); for
    regression only ``fraction`` applies. Val and test rows are kept whole. With neither, the
    task is returned as it is (every label).
    """
    if fraction is None and k is None:
        return task
    if fraction is not None and k is not None:
        raise ValueError("give one of fraction or k, not both")
    train = task.split("train")
    rng = np.random.default_rng(seed)
    if fraction is not None:
        if not 0 < fraction <= 1:
            raise ValueError(f"fraction must be in (0, 1], got {fraction}")
        n_keep = max(1, round(fraction * len(train)))
        keep = set(train["id"].iloc[np.sort(rng.permutation(len(train))[:n_keep])])
    else:
        keep = _k_per_class(task, train, k, rng)
    rows = (task.table["split"] != "train") | task.table["id"].isin(keep)
    return Task(task.name, task.kind, task.classes, task.table[rows], task.excluded)


def _k_per_class(task: Task, train: pd.DataFrame, k: int, rng: np.random.Generator) -> set[str]:
    kind = task.task_kind
    if not kind.has_classes:
        raise ValueError(f"k per class needs classes; use fraction for a {kind.name} task")
    members = kind.class_members(task.targets(train))
    chosen = [rng.permutation(rows)[:k] for rows in members]
    return set(train["id"].iloc[np.unique(np.concatenate(chosen))])
