"""What a task's test metric is without looking at the video: the "chance" row of the results.

The predictor gives every test video the training split's label frequencies (the class prior;
the training mean for regression), so its decisions are the majority class and its scores are
constant. Its metrics are computed with the same functions as the encoders' (so a constant score
gets an AUC of 0.5 from the rank statistic itself, not from a hard-coded number), which makes the
row a floor that is honest for unbalanced test sets, where accuracy alone flatters.
"""

from __future__ import annotations

from marlinflow.downstream.tasks import Task


def chance_metrics(task: Task) -> dict[str, float]:
    """Every test metric of the prior predictor; {} when the task has no train or test rows."""
    train, test = task.split("train"), task.split("test")
    if train.empty or test.empty:
        return {}
    kind = task.task_kind
    scores = kind.prior_scores(task.targets(train), task.classes, len(test))
    return kind.metrics(scores, task.targets(test))
