"""What a task's test metric is without looking at the video: the "chance" row of the results.

The predictor gives every test video the training split's label frequencies (the class prior;
the training mean for regression), so its decisions are the majority class and its scores are
constant. Its metrics are computed with the same functions as the encoders' (so a constant score
gets an AUC of 0.5 from the rank statistic itself, not from a hard-coded number), which makes the
row a floor that is honest for unbalanced test sets, where accuracy alone flatters.
"""

from __future__ import annotations

import numpy as np

from marlinflow.downstream.metrics import compute
from marlinflow.downstream.tasks import Task


def prior_scores(task: Task, train: np.ndarray, n_test: int) -> np.ndarray:
    """The constant score of each test row, from the training targets."""
    if task.kind == "multiclass":
        frequencies = np.bincount(train, minlength=len(task.classes)) / len(train)
        return np.tile(frequencies, (n_test, 1))
    if task.kind == "multilabel":
        return np.tile(train.mean(axis=0), (n_test, 1))
    return np.full(n_test, float(train.mean()))


def chance_metrics(task: Task) -> dict[str, float]:
    """Every test metric of the prior predictor; {} when the task has no train or test rows."""
    train, test = task.split("train"), task.split("test")
    if train.empty or test.empty:
        return {}
    targets = task.targets(test)
    scores = prior_scores(task, task.targets(train), len(test))
    return compute(task.kind, scores, targets)
