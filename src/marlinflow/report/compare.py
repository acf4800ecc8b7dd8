"""Paired bootstrap differences between two encoders evaluated on the same test videos.

Two encoders' intervals overlapping says little: their errors are correlated because they are
measured on the same videos. Resampling the common test videos once per draw and computing both
metrics on that draw keeps the pairing, so the interval of the difference is much tighter and
answers the question the report asks: is this encoder better than the reference?

Several seeds: per draw, each encoder's metric is the mean over its seeds on the same videos, so
the interval covers both the test-set sampling and, through the mean, the seeds' disagreement.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from marlinflow.downstream.kinds import MetricFn, TaskKind
from marlinflow.errors import InputError


@dataclass(frozen=True)
class Difference:
    mean: float  # metric(a) - metric(b) on every common video (seed means)
    low: float
    high: float
    n_videos: int


def seed_mean(metric: MetricFn, scores: Sequence[np.ndarray], targets: np.ndarray) -> float:
    values = np.array([metric(s, targets) for s in scores], dtype=float)
    return float(np.nanmean(values)) if np.isfinite(values).any() else float("nan")


def paired_bootstrap(
    metric: MetricFn,
    targets: np.ndarray,
    scores_a: Sequence[np.ndarray],
    scores_b: Sequence[np.ndarray],
    n_resamples: int = 1000,
    seed: int = 0,
    level: float = 0.95,
) -> Difference:
    """The difference metric(a) - metric(b) and its percentile interval over ``n_resamples``
    seeded resamples of the rows (videos); ``scores_a``/``scores_b`` hold one array per seed,
    row-aligned with ``targets``. Draws where the metric is undefined are left out."""
    rng = np.random.default_rng(seed)
    n = len(targets)
    draws = np.empty(n_resamples)
    for i in range(n_resamples):
        rows = rng.integers(0, n, n)
        a = seed_mean(metric, [s[rows] for s in scores_a], targets[rows])
        b = seed_mean(metric, [s[rows] for s in scores_b], targets[rows])
        draws[i] = a - b
    draws = draws[np.isfinite(draws)]
    tail = (1 - level) / 2 * 100
    low, high = np.percentile(draws, [tail, 100 - tail]) if len(draws) else (np.nan, np.nan)
    point = seed_mean(metric, scores_a, targets) - seed_mean(metric, scores_b, targets)
    return Difference(point, float(low), float(high), n)


@dataclass
class Predictions:
    """One run's test predictions: per seed, scores by video id; and each video's target."""

    scores: dict[int, pd.DataFrame]  # seed -> (ids as index) x score columns
    targets: pd.DataFrame  # ids as index, label column(s)


def read_predictions(path: str | Path) -> Predictions:
    """The test rows of a ``predictions.csv`` (as ``downstream.results.write_outputs`` writes it)."""
    try:
        table = pd.read_csv(
            path, dtype={"id": str, "split": str, "label": str}, keep_default_na=False
        )
    except (OSError, ValueError) as err:
        raise InputError(path, f"not a readable predictions table ({err})") from err
    score_columns = [c for c in table.columns if c.startswith("score_")]
    if not {"id", "split"} <= set(table.columns) or not score_columns:
        raise InputError(path, "predictions table lacks id, split or score_* columns")
    test = table[table["split"] == "test"]
    seeds = test["seed"] if "seed" in test else pd.Series(0, index=test.index)
    labels = [c for c in test.columns if c not in ("id", "split", "seed", *score_columns)]
    scores = {int(s): group.set_index("id")[score_columns] for s, group in test.groupby(seeds)}
    targets = test.drop_duplicates("id").set_index("id")[labels]
    return Predictions(scores, targets)


def compare_runs(
    kind: TaskKind,
    metric: str,
    a: Predictions,
    b: Predictions,
    n_resamples: int = 1000,
    seed: int = 0,
) -> Difference:
    """metric(a) - metric(b) on the test videos every seed of both runs predicted."""
    frames = [*a.scores.values(), *b.scores.values()]
    common = sorted(set.intersection(*(set(f.index) for f in frames)) & set(a.targets.index))
    if len(common) < 2:
        raise ValueError(f"{len(common)} test video(s) in common")
    columns = list(frames[0].columns)
    names = [c.removeprefix("score_") for c in columns]
    # float64, as the scores are read: float32 labels would change the metrics' last digits
    targets = kind.targets(a.targets.loc[common], names, np.float64)
    scores_a, scores_b = (
        [kind.scores_from_columns(f.loc[common, columns].to_numpy(dtype=np.float64)) for f in run]
        for run in (a.scores.values(), b.scores.values())
    )
    return paired_bootstrap(kind.metric(metric), targets, scores_a, scores_b, n_resamples, seed)
