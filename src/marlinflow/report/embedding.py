"""A 2-D view of the feature space: one point per video, its features' first two principal
components, coloured by a task's label."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from marlinflow.downstream.probe import video_feature
from marlinflow.downstream.tasks import load_task
from marlinflow.errors import InputError

log = logging.getLogger(__name__)


@dataclass
class Embedding:
    ids: list[str]
    points: np.ndarray  # (n, 2) principal-component coordinates
    labels: list[str]  # the colour of each point, as text
    explained: np.ndarray  # (2,) fraction of the variance on each axis
    title: str


def pca_2d(features: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(n, D) -> ((n, 2) coordinates on the first two principal axes, (2,) explained variance
    fractions). Centred, not scaled; a component the data lacks is zero."""
    centred = features - features.mean(axis=0, keepdims=True)
    _, singular, axes = np.linalg.svd(centred, full_matrices=False)  # axes (k, D)
    points = np.zeros((len(features), 2))
    k = min(2, len(singular))
    points[:, :k] = centred @ axes[:k].T
    total = float((singular**2).sum())
    explained = np.zeros(2)
    if total > 0:
        explained[:k] = singular[:k] ** 2 / total
    return points, explained


def video_features(folder: Path, ids: list[str]) -> tuple[list[str], np.ndarray]:
    """The mean window feature of each video that has a readable file: (kept ids, (n, D))."""
    kept, rows = [], []
    for video_id in ids:
        try:
            rows.append(video_feature(folder / f"{video_id}.npy"))
            kept.append(video_id)
        except InputError as err:
            log.info("embedding: %s", err)
    widths = {row.shape[0] for row in rows}
    if len(widths) > 1:
        raise InputError(folder, f"feature files of different widths {sorted(widths)}")
    return kept, np.stack(rows) if rows else np.zeros((0, 0))


def embed(features_dir: str | Path, task_path: str | Path) -> Embedding:
    """The embedding of the videos that are in both the features folder and the task."""
    task = load_task(task_path)
    labels, shown = task.task_kind.point_labels(task.table, task.classes)
    by_id = dict(zip(task.table["id"], labels, strict=True))
    ids, features = video_features(Path(features_dir), list(by_id))
    if len(ids) < 2:
        raise InputError(features_dir, f"features of {len(ids)} video(s) of task {task.name}")
    points, explained = pca_2d(features.astype(np.float64))
    title = f"{Path(features_dir).name} features, task {task.name} ({shown})"
    return Embedding(ids, points, [by_id[i] for i in ids], explained, title)


def separation(points: np.ndarray, labels: list[str]) -> float:
    """Fraction of points whose nearest class centroid is their own class's (1 = separated)."""
    names = sorted(set(labels))
    centroids = np.stack([points[np.array(labels) == name].mean(axis=0) for name in names])
    distances = ((points[:, None, :] - centroids[None]) ** 2).sum(axis=-1)  # (n, classes)
    nearest = [names[i] for i in distances.argmin(axis=1)]
    return float(np.mean([a == b for a, b in zip(nearest, labels, strict=True)]))
