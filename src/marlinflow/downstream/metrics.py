"""Downstream metrics, with seeded bootstrap confidence intervals.

The official CelebV-HQ evaluation (marlin.md §3.5) reports ``acc_micro`` (accuracy over every
(video, attribute) pair at threshold 0.5) and ``auc_micro`` (one ROC AUC over the flattened
pairs); the paper's tables compare those. Per-attribute means (``auc_macro``, ``f1_macro``) are
reported beside them because a micro AUC is dominated by the common attributes. Multi-class tasks
report WAR (accuracy) and UAR (mean per-class recall, DFEW's headline metric); binary tasks
(deepfakes, one row per video) AUC; regression MAE and Pearson correlation.

AUC is the Mann-Whitney statistic with average ranks for ties, the same number as
``torchmetrics.functional.binary_auroc`` but vectorised over attributes, which keeps a
1000-resample bootstrap fast. A metric undefined on a sample (one class only) is NaN.

Which of these functions a task uses, and which metric picks its best epoch, is up to its kind
(``downstream.kinds``).
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np


def auc_columns(scores: np.ndarray, labels: np.ndarray) -> np.ndarray:
    """ROC AUC of each column of (n, C) scores against 0/1 labels; NaN where a column has one
    class only."""
    # Imported here: scipy.stats takes a second to import, and the workflow imports this module
    # (through the task kinds) each time it starts, without computing any metric.
    from scipy.stats import rankdata

    positive = labels > 0.5
    n_pos = positive.sum(axis=0)
    n_neg = len(labels) - n_pos
    ranks = rankdata(scores, axis=0)  # (n, C), ties share the average rank
    rank_sum = np.where(positive, ranks, 0.0).sum(axis=0)
    with np.errstate(invalid="ignore", divide="ignore"):
        return (rank_sum - n_pos * (n_pos + 1) / 2) / (n_pos * n_neg)


def auc(scores: np.ndarray, labels: np.ndarray) -> float:
    return float(auc_columns(scores.reshape(-1, 1), labels.reshape(-1, 1))[0])


def f1_columns(predicted: np.ndarray, labels: np.ndarray) -> np.ndarray:
    """F1 of each column of 0/1 predictions; NaN where a column has no positive at all."""
    predicted, labels = predicted.astype(bool), labels > 0.5
    tp = (predicted & labels).sum(axis=0)
    wrong = (predicted ^ labels).sum(axis=0)
    with np.errstate(invalid="ignore", divide="ignore"):
        return 2 * tp / (2 * tp + wrong)


def recalls(predicted: np.ndarray, labels: np.ndarray, n_classes: int) -> np.ndarray:
    """Recall of each class (NaN for a class absent from ``labels``)."""
    hits = np.bincount(labels[predicted == labels], minlength=n_classes)
    totals = np.bincount(labels, minlength=n_classes)
    with np.errstate(invalid="ignore", divide="ignore"):
        return hits / totals


def _nanmean(values: np.ndarray) -> float:
    values = values[~np.isnan(values)]
    return float(values.mean()) if len(values) else float("nan")


# The report's main metrics, each on its own: a paired bootstrap (report.compare) computes one
# of them thousands of times, and every metric of the kind each time (ranks over every (video,
# attribute) pair for a micro AUC) would cost minutes per comparison.
def accuracy(probs: np.ndarray, labels: np.ndarray) -> float:
    """Share of (video, output) pairs whose score, thresholded at 0.5, matches the 0/1 label."""
    return float(((probs > 0.5) == (labels > 0.5)).mean())


def micro_auc(probs: np.ndarray, labels: np.ndarray) -> float:
    """One ROC AUC over every (video, attribute) pair."""
    return auc(probs.ravel(), labels.ravel())


def war(probs: np.ndarray, labels: np.ndarray) -> float:
    """Weighted average recall: the accuracy of the most probable class."""
    return float((probs.argmax(axis=1) == labels).mean())


def mae(predicted: np.ndarray, targets: np.ndarray) -> float:
    return float(np.abs(predicted - targets).mean())


def multilabel_metrics(probs: np.ndarray, labels: np.ndarray) -> dict[str, float]:
    """probs, labels: (n, C)."""
    predicted = probs > 0.5
    return {
        "acc_micro": accuracy(probs, labels),
        "auc_micro": micro_auc(probs, labels),
        "auc_macro": _nanmean(auc_columns(probs, labels)),
        "f1_macro": _nanmean(f1_columns(predicted, labels)),
    }


def binary_metrics(probs: np.ndarray, labels: np.ndarray) -> dict[str, float]:
    """probs, labels: (n,)."""
    predicted = probs > 0.5
    return {
        "acc": accuracy(probs, labels),
        "auc": auc(probs, labels),
        "f1": float(f1_columns(predicted[:, None], labels[:, None])[0]),
    }


def multiclass_metrics(probs: np.ndarray, labels: np.ndarray) -> dict[str, float]:
    """probs: (n, K) class probabilities; labels: (n,) class indices."""
    predicted = probs.argmax(axis=1)
    n_classes = probs.shape[1]
    one_hot = np.eye(n_classes)
    return {
        "war": war(probs, labels),
        "uar": _nanmean(recalls(predicted, labels, n_classes)),
        "f1_macro": _nanmean(f1_columns(one_hot[predicted], one_hot[labels])),
    }


def regression_metrics(predicted: np.ndarray, targets: np.ndarray) -> dict[str, float]:
    """predicted, targets: (n,). ``acc2`` is sign agreement (negative < 0 vs non-negative)."""
    if np.std(predicted) > 0 and np.std(targets) > 0:
        corr = float(np.corrcoef(predicted, targets)[0, 1])
    else:
        corr = float("nan")
    return {
        "mae": mae(predicted, targets),
        "corr": corr,
        "acc2": float(((predicted >= 0) == (targets >= 0)).mean()),
    }


def multilabel_per_output(
    probs: np.ndarray, labels: np.ndarray, names: list[str]
) -> dict[str, dict[str, float]]:
    """Per-attribute AUC, F1 and accuracy: the tables behind the macro means."""
    columns = {
        "auc": auc_columns(probs, labels),
        "f1": f1_columns(probs > 0.5, labels),
        "acc": ((probs > 0.5) == (labels > 0.5)).mean(axis=0),
    }
    return _by_name(columns, names)


def multiclass_per_output(
    probs: np.ndarray, labels: np.ndarray, names: list[str]
) -> dict[str, dict[str, float]]:
    """Per-class recall: the table behind UAR."""
    return _by_name({"recall": recalls(probs.argmax(axis=1), labels, len(names))}, names)


def _by_name(columns: dict[str, np.ndarray], names: list[str]) -> dict[str, dict[str, float]]:
    return {name: {k: float(v[i]) for k, v in columns.items()} for i, name in enumerate(names)}


def bootstrap(
    compute: Callable[[np.ndarray, np.ndarray], dict[str, float]],
    scores: np.ndarray,
    targets: np.ndarray,
    n_resamples: int = 1000,
    seed: int = 0,
    level: float = 0.95,
) -> dict[str, dict[str, float]]:
    """Each metric ``compute(scores, targets)`` gives (a task kind's ``metrics``), with its
    value and percentile interval over ``n_resamples`` seeded resamples of the rows (videos):
    ``{name: {"value", "low", "high"}}``. Resamples where a metric is undefined are left out of
    its interval."""
    point = compute(scores, targets)
    rng = np.random.default_rng(seed)
    draws = {name: [] for name in point}
    for _ in range(n_resamples):
        rows = rng.integers(0, len(targets), len(targets))
        for name, value in compute(scores[rows], targets[rows]).items():
            draws[name].append(value)
    tail = (1 - level) / 2 * 100
    result = {}
    for name, value in point.items():
        values = np.asarray(draws[name])
        values = values[~np.isnan(values)]
        low, high = np.percentile(values, [tail, 100 - tail]) if len(values) else (np.nan, np.nan)
        result[name] = {"value": value, "low": float(low), "high": float(high)}
    return result
