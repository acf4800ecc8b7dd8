"""Linear probe on cached features: one Linear layer on the temporal mean of each video's windows.

Features are one ``<id>.npy`` per video, shape (n_windows, D), as ``marlinflow extract`` writes
them (a 1-D (D,) array is taken as already reduced). A video without a usable file is dropped
with its reason, never replaced by zeros: the official probe turns a zero-window file into
zeros of width 768, which is wrong for ViT-S/L and silently trains on fake rows (marlin.md §3.3).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from marlinflow.config.settings import settings_class
from marlinflow.downstream.results import RunResult, Scored, make_result
from marlinflow.downstream.splits import low_label
from marlinflow.downstream.tasks import Task
from marlinflow.downstream.training import FitResult, TrainConfig, fit, torch_threads
from marlinflow.downstream.usable import UsableClips
from marlinflow.errors import InputError

ProbeSettings = settings_class("downstream.probe", "ProbeSettings")


@dataclass(frozen=True)
class ProbeConfig:
    """One seed's probe: the ``downstream.probe`` settings, how windows become a video's feature
    (mean, the official, or max) and the encoder's name in the results."""

    train: TrainConfig
    reduction: str
    fraction: float | None  # low-label: keep this fraction of the train rows
    k_per_class: int | None  # few-shot: keep k train rows per class
    n_bootstrap: int
    model_name: str
    threads: int | None = 1  # torch threads while training the head (see torch_threads)

    @classmethod
    def from_settings(
        cls, settings: ProbeSettings, seed: int, reduction: str, model_name: str, **train: Any
    ) -> ProbeConfig:
        return cls(
            TrainConfig.from_settings(settings, seed, **train),
            reduction,
            settings.fraction,
            settings.k_per_class,
            settings.bootstrap,
            model_name,
        )


def video_feature(path: Path, reduction: str = "mean") -> np.ndarray:
    """The (D,) feature of one video file; InputError says why a file cannot give one."""
    if not path.is_file():
        raise InputError(path, "no features file")
    try:
        windows = np.load(path, allow_pickle=False)
    except (OSError, ValueError) as err:
        raise InputError(path, f"unreadable features ({err})") from err
    if windows.ndim == 1:
        windows = windows[None]
    if windows.ndim != 2:
        raise InputError(path, f"features should be (n_windows, D), got shape {windows.shape}")
    if len(windows) == 0:
        raise InputError(path, "no windows: the video gave no clip to extract features from")
    if not np.isfinite(windows).all():
        raise InputError(path, "features contain NaN or infinity")
    reduce = np.mean if reduction == "mean" else np.max
    return reduce(windows.astype(np.float32), axis=0)


def load_features(
    folder: str | Path, ids: list[str], usable: UsableClips | None = None, reduction="mean"
) -> tuple[list[str], np.ndarray, list[dict[str, str]]]:
    """(kept ids, (n, D) features, skipped [{id, reason}]) for ``ids``; with ``usable``, a
    video preprocessing did not keep is skipped. The most common width is the model's; a file
    of another width is skipped as foreign."""
    found, skipped = {}, []
    for video_id in ids:
        try:
            if usable is not None:
                usable.clip(video_id)
            found[video_id] = video_feature(Path(folder) / f"{video_id}.npy", reduction)
        except InputError as err:
            skipped.append({"id": video_id, "reason": str(err)})
    widths = [feature.shape[0] for feature in found.values()]
    width = max(set(widths), key=widths.count) if widths else 0
    for video_id in [i for i, feature in found.items() if feature.shape[0] != width]:
        path = Path(folder) / f"{video_id}.npy"
        reason = f"width {found.pop(video_id).shape[0]}, while most videos have {width}"
        skipped.append({"id": video_id, "reason": str(InputError(path, reason))})
    features = np.stack(list(found.values())) if found else np.zeros((0, width), np.float32)
    return list(found), features, skipped


def _batches(features: torch.Tensor, targets: torch.Tensor, cfg: TrainConfig):
    def epoch_batches(epoch: int):
        if cfg.batch_size <= 0:
            return [(features, targets)]
        order = torch.randperm(
            len(features), generator=torch.Generator().manual_seed(cfg.seed * 100_003 + epoch)
        )
        return [(features[i], targets[i]) for i in order.split(cfg.batch_size)]

    return epoch_batches


def run_probe(
    task: Task, folder: str | Path, cfg: ProbeConfig, usable: UsableClips | None = None
) -> RunResult:
    """Train a linear probe on the train split, select on val, evaluate on test."""
    task = low_label(task, cfg.fraction, cfg.k_per_class, cfg.train.seed)
    ids, features, missing = load_features(folder, task.table["id"].tolist(), usable, cfg.reduction)
    data = _by_split(task, ids, features)
    skipped = list(task.excluded) + missing
    if len(data["train"][0]) == 0 or len(data["test"][0]) == 0:
        raise InputError(
            folder, f"task {task.name!r}: no usable train or test videos ({len(skipped)} skipped)"
        )
    with torch_threads(cfg.threads):
        torch.manual_seed(cfg.train.seed)
        head = nn.Linear(features.shape[1], task.n_outputs)
        fitted = _train(task, head, data, cfg.train)
        with torch.no_grad():
            val, test = (_scored(task, head, data[s]) for s in ("val", "test"))
    n_train = len(data["train"][0])
    return make_result(
        task,
        "linear_probe",
        cfg.model_name,
        n_train,
        val,
        test,
        fitted,
        skipped,
        cfg,
        cfg.n_bootstrap,
    )


def _by_split(task: Task, ids: list[str], features: np.ndarray) -> dict[str, tuple]:
    """split -> (ids, (n, D) features, targets) of the videos that have features."""
    row_of = {video_id: n for n, video_id in enumerate(ids)}
    data = {}
    for split in ("train", "val", "test"):
        rows = task.split(split)
        rows = rows[rows["id"].isin(row_of)].reset_index(drop=True)
        split_ids = rows["id"].tolist()
        data[split] = (split_ids, features[[row_of[i] for i in split_ids]], task.targets(rows))
    return data


def _train(task: Task, head: nn.Linear, data: dict[str, tuple], cfg: TrainConfig) -> FitResult:
    kind = task.task_kind
    x_train = torch.from_numpy(data["train"][1])
    y_train = kind.target_tensor(data["train"][2])
    x_val = torch.from_numpy(data["val"][1])
    return fit(
        head,
        _batches(x_train, y_train, cfg),
        lambda: kind.to_scores(head(x_val)),
        data["val"][2],
        kind,
        cfg,
        what=f"probe {task.name}",
    )


def _scored(task: Task, head: nn.Linear, split: tuple) -> Scored:
    ids, features, targets = split
    return Scored(ids, task.task_kind.to_scores(head(torch.from_numpy(features))), targets)
