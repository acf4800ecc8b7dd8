"""The kinds of downstream task: what each one predicts, and how it is read, trained and scored.

One frozen :class:`TaskKind` per kind, in the registry :data:`KINDS` (name -> kind); the code
asks a task's kind instead of comparing kind names.

- ``multilabel``: one 0/1 column per attribute; a sigmoid output per attribute, BCE loss.
- ``multiclass``: column ``label`` holds a class name; softmax over the classes, cross-entropy.
- ``binary``: column ``label`` holds 0/1; one sigmoid output, BCE loss.
- ``regression``: column ``label`` holds a number; one output, L1 loss.

torch is imported on first use, in the methods that need it: the workflow reads every task's
kind when it plans the runs, and importing torch there would slow every workflow start.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from marlinflow.downstream import metrics

if TYPE_CHECKING:
    import pandas as pd
    import torch
    from torch import nn

MetricFn = Callable[[np.ndarray, np.ndarray], float]  # (scores, targets) -> value


@dataclass(frozen=True, eq=False)  # one instance per kind, so identity is equality
class TaskKind:
    """One kind of task. The callables take the task's ``classes`` (attribute names for
    multi-label, class names for multi-class, [] otherwise) where the answer depends on them."""

    name: str
    attribute_columns: bool  # one 0/1 label column per attribute, else one column "label"
    class_labels: bool  # the label names one class: text in the table, an index as target
    # table, classes, float dtype -> targets: (n, C) or (n,) floats, or (n,) class indices
    targets: Callable[..., np.ndarray]
    label_problem: Callable[[Any, list[str]], str | None]  # what is wrong with one label
    loss: str  # the torch.nn loss class, fed the head's logits and target_tensor's targets
    activation: Callable[[torch.Tensor], torch.Tensor]  # logits -> scores
    metrics: Callable[[np.ndarray, np.ndarray], dict[str, float]]  # every metric of the kind
    per_output: Callable[..., dict[str, dict[str, float]]]  # scores, targets, names -> tables
    selection: str  # the metric that picks the best epoch (the official code: max val AUC)
    lower_is_better: bool  # of the selection metric
    main_metrics: tuple[str, ...]  # the report's columns; the paper's tables lead with the first
    fast_metrics: Mapping[str, MetricFn]  # main metrics alone, for the paired bootstrap
    prior_scores: Callable[[np.ndarray, list[str], int], np.ndarray]  # train, classes, n_test
    point_labels: Callable[[pd.DataFrame, list[str]], tuple[list[str], str]]
    class_members: Callable[[np.ndarray], list[np.ndarray]] | None  # train rows of each class

    @property
    def outputs_per_class(self) -> bool:
        """One head output and one score column per attribute or class, else one ("label")."""
        return self.attribute_columns or self.class_labels

    @property
    def has_classes(self) -> bool:
        """Whether the labels fall into classes, so a few-shot budget (k per class) applies."""
        return self.class_members is not None

    def label_columns(self, classes: list[str]) -> list[str]:
        return list(classes) if self.attribute_columns else ["label"]

    def output_names(self, classes: list[str]) -> list[str]:
        return list(classes) if self.outputs_per_class else ["label"]

    def n_outputs(self, classes: list[str]) -> int:
        """Width of the linear head."""
        return len(self.output_names(classes))

    def loss_module(self) -> nn.Module:
        from torch import nn

        return getattr(nn, self.loss)()

    def target_tensor(self, targets: np.ndarray) -> torch.Tensor:
        """Targets as the loss wants them: (n, C) or (n, 1) floats, or (n,) class indices."""
        import torch

        tensor = torch.tensor(targets, dtype=torch.long if self.class_labels else torch.float32)
        return tensor if self.outputs_per_class else tensor.reshape(-1, 1)

    def to_scores(self, logits: torch.Tensor) -> np.ndarray:
        """Head outputs -> probabilities (sigmoid / softmax), or values for regression."""
        logits = logits.detach().float().cpu()
        return self.activation(logits if self.outputs_per_class else logits.reshape(-1)).numpy()

    def scores_from_columns(self, values: np.ndarray) -> np.ndarray:
        """(n, outputs) score columns as saved in predictions.csv -> scores as ``to_scores``
        makes them."""
        return values if self.outputs_per_class else values[:, 0]

    def metric(self, name: str) -> MetricFn:
        """One metric of the kind as a function of (scores, targets): the fast one where there
        is one, else taken from every metric."""
        return self.fast_metrics.get(name) or (lambda s, t: self.metrics(s, t)[name])

    def selection_score(self, scores: np.ndarray, targets: np.ndarray) -> float:
        return self.metrics(scores, targets)[self.selection]

    def is_better(self, new: float, best: float | None) -> bool:
        """Whether ``new`` beats ``best`` on the selection metric (NaN never does)."""
        if np.isnan(new):
            return False
        if best is None or np.isnan(best):
            return True
        return new < best if self.lower_is_better else new > best


def _attribute_targets(table: pd.DataFrame, classes: list[str], dtype=np.float32) -> np.ndarray:
    return table[classes].to_numpy(dtype=dtype)


def _class_targets(table: pd.DataFrame, classes: list[str], dtype=np.float32) -> np.ndarray:
    """Class indices, whatever float type the other kinds' targets are asked in."""
    index = {name: i for i, name in enumerate(classes)}
    return table["label"].map(index).to_numpy(dtype=np.int64)


def _value_targets(table: pd.DataFrame, classes: list[str], dtype=np.float32) -> np.ndarray:
    return table["label"].to_numpy(dtype=dtype)


def _class_problem(value, classes: list[str]) -> str | None:
    return None if value in classes else f"{value!r} is not one of {classes}"


def _flag_problem(value, classes: list[str]) -> str | None:
    return None if value in (0, 1, 0.0, 1.0) else f"{value!r} is not 0 or 1"


def _number_problem(value, classes: list[str]) -> str | None:
    return None if _is_number(value) else f"{value!r} is not a number"


def _is_number(value) -> bool:
    try:
        return bool(np.isfinite(float(value)))
    except (TypeError, ValueError):
        return False


def _sigmoid(logits: torch.Tensor) -> torch.Tensor:
    return logits.sigmoid()


def _softmax(logits: torch.Tensor) -> torch.Tensor:
    return logits.softmax(dim=1)


def _identity(logits: torch.Tensor) -> torch.Tensor:
    return logits


def _no_per_output(scores: np.ndarray, targets: np.ndarray, names: list[str]) -> dict:
    return {}


# The chance predictor (report.chance) scores every test row with the training labels'
# frequencies, or their mean for one output.
def _class_prior(train: np.ndarray, classes: list[str], n_test: int) -> np.ndarray:
    return np.tile(np.bincount(train, minlength=len(classes)) / len(train), (n_test, 1))


def _attribute_prior(train: np.ndarray, classes: list[str], n_test: int) -> np.ndarray:
    return np.tile(train.mean(axis=0), (n_test, 1))


def _mean_prior(train: np.ndarray, classes: list[str], n_test: int) -> np.ndarray:
    return np.full(n_test, float(train.mean()))


# The text of each row's label in the feature-space figure, and what it shows: a multi-label
# task is coloured by its first attribute.
def _attribute_points(table: pd.DataFrame, classes: list[str]) -> tuple[list[str], str]:
    return [f"{classes[0]}={int(v)}" for v in table[classes[0]]], classes[0]


def _value_points(table: pd.DataFrame, classes: list[str]) -> tuple[list[str], str]:
    return [f"{float(v):+.1f}" for v in table["label"]], "label"


def _label_points(table: pd.DataFrame, classes: list[str]) -> tuple[list[str], str]:
    return [str(v) for v in table["label"]], "label"


def _attribute_members(targets: np.ndarray) -> list[np.ndarray]:
    """The rows positive for each attribute."""
    return [np.flatnonzero(targets[:, c] > 0.5) for c in range(targets.shape[1])]


def _label_members(targets: np.ndarray) -> list[np.ndarray]:
    """The rows of each label value present."""
    return [np.flatnonzero(targets == c) for c in np.unique(targets)]


MULTILABEL = TaskKind(
    name="multilabel",
    attribute_columns=True,
    class_labels=False,
    targets=_attribute_targets,
    label_problem=_flag_problem,
    loss="BCEWithLogitsLoss",
    activation=_sigmoid,
    metrics=metrics.multilabel_metrics,
    per_output=metrics.multilabel_per_output,
    selection="auc_micro",
    lower_is_better=False,
    main_metrics=("acc_micro", "auc_micro"),
    fast_metrics={"acc_micro": metrics.accuracy, "auc_micro": metrics.micro_auc},
    prior_scores=_attribute_prior,
    point_labels=_attribute_points,
    class_members=_attribute_members,
)
MULTICLASS = TaskKind(
    name="multiclass",
    attribute_columns=False,
    class_labels=True,
    targets=_class_targets,
    label_problem=_class_problem,
    loss="CrossEntropyLoss",
    activation=_softmax,
    metrics=metrics.multiclass_metrics,
    per_output=metrics.multiclass_per_output,
    selection="war",
    lower_is_better=False,
    main_metrics=("war", "uar"),
    fast_metrics={"war": metrics.war},
    prior_scores=_class_prior,
    point_labels=_label_points,
    class_members=_label_members,
)
BINARY = TaskKind(
    name="binary",
    attribute_columns=False,
    class_labels=False,
    targets=_value_targets,
    label_problem=_flag_problem,
    loss="BCEWithLogitsLoss",
    activation=_sigmoid,
    metrics=metrics.binary_metrics,
    per_output=_no_per_output,
    selection="auc",
    lower_is_better=False,
    main_metrics=("auc", "acc"),
    fast_metrics={"acc": metrics.accuracy, "auc": metrics.auc},
    prior_scores=_mean_prior,
    point_labels=_label_points,
    class_members=_label_members,
)
REGRESSION = TaskKind(
    name="regression",
    attribute_columns=False,
    class_labels=False,
    targets=_value_targets,
    label_problem=_number_problem,
    loss="L1Loss",
    activation=_identity,
    metrics=metrics.regression_metrics,
    per_output=_no_per_output,
    selection="mae",
    lower_is_better=True,
    main_metrics=("mae", "corr"),
    fast_metrics={"mae": metrics.mae},
    prior_scores=_mean_prior,
    point_labels=_value_points,
    class_members=None,
)

KINDS: dict[str, TaskKind] = {k.name: k for k in (MULTILABEL, MULTICLASS, BINARY, REGRESSION)}


def kind_named(name: object) -> TaskKind:
    """The kind called ``name``; a ValueError naming the known kinds for anything else."""
    if isinstance(name, str) and name in KINDS:
        return KINDS[name]
    raise ValueError(f"unknown task kind {name!r}; the kinds are {', '.join(KINDS)}")
