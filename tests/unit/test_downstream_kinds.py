"""Task kinds: the registry, and what each kind does with labels, logits and scores."""

from __future__ import annotations

import dataclasses

import numpy as np
import pandas as pd
import pytest
import torch
from torch import nn

from marlinflow.downstream import tasks
from marlinflow.downstream.kinds import (
    BINARY,
    KINDS,
    MULTICLASS,
    MULTILABEL,
    REGRESSION,
    TaskKind,
    kind_named,
)
from marlinflow.experiment.plan import has_classes, label_budgets

IDS = {"id": ["a", "b", "c", "d"], "split": ["train", "train", "test", "test"]}
# One small task of each kind: its classes, its table, and a label value it must refuse.
EXAMPLES = {
    "multilabel": (["x", "y"], IDS | {"x": [1, 0, 1, 0], "y": [0, 1, 1, 1]}, 2),
    "multiclass": (["sad", "-1"], IDS | {"label": ["sad", "-1", "-1", "sad"]}, "happy"),
    "binary": ([], IDS | {"label": [1, 0, 0, 1]}, 0.5),
    "regression": ([], IDS | {"label": [-1.5, 0.0, 2.0, 3.0]}, "high"),
}
OPTIONAL = {"class_members"}  # None where the labels have no classes


def example(name: str) -> tuple[TaskKind, list[str], pd.DataFrame]:
    classes, table, _ = EXAMPLES[name]
    return kind_named(name), classes, pd.DataFrame(table)


def test_the_registry_knows_each_kind_by_its_name():
    assert set(KINDS) == set(EXAMPLES) == set(tasks.KINDS)
    assert all(kind.name == name for name, kind in KINDS.items())
    assert "binary" in tasks.KINDS and "ranking" not in tasks.KINDS  # the adapters' check


@pytest.mark.parametrize("name", list(KINDS))
def test_every_kind_provides_every_capability(name):
    kind, classes, table = example(name)
    for field in dataclasses.fields(TaskKind):
        assert getattr(kind, field.name) is not None or field.name in OPTIONAL, field.name
    assert kind.has_classes == (kind.class_members is not None)
    assert set(kind.label_columns(classes)) <= set(table.columns)
    assert all(
        kind.label_problem(v, classes) is None
        for c in kind.label_columns(classes)
        for v in table[c]
    )
    assert "is not" in kind.label_problem(EXAMPLES[name][2], classes)
    targets = kind.targets(table, classes)
    logits = torch.linspace(-2, 2, len(table) * kind.n_outputs(classes)).reshape(len(table), -1)
    loss = kind.loss_module()(logits, kind.target_tensor(targets))
    assert isinstance(kind.loss_module(), nn.Module) and torch.isfinite(loss)
    scores = kind.to_scores(logits)
    assert scores.shape == kind.prior_scores(targets, classes, len(table)).shape
    assert np.array_equal(kind.scores_from_columns(scores.reshape(len(table), -1)), scores)
    found = kind.metrics(scores, targets)
    assert {kind.selection, *kind.main_metrics, *kind.fast_metrics} <= set(found)
    assert kind.selection_score(scores, targets) == found[kind.selection]
    assert all(kind.metric(m)(scores, targets) == pytest.approx(found[m]) for m in found)
    assert isinstance(kind.per_output(scores, targets, classes), dict)
    labels, shown = kind.point_labels(table, classes)
    assert len(labels) == len(table) and shown in table.columns
    if kind.has_classes:
        assert sum(len(rows) for rows in kind.class_members(targets)) >= len(table) // 2


def test_an_unknown_kind_is_refused_naming_the_known_ones():
    for name in ("ranking", None, ["binary"]):
        with pytest.raises(ValueError, match="unknown task kind .*multilabel, multiclass, binary"):
            kind_named(name)
    with pytest.raises(ValueError, match="task 'x': unknown task kind 'ranking'"):
        tasks.Task("x", "ranking", [], pd.DataFrame({"id": [], "split": []}))


def test_targets_and_tensors_have_each_kind_s_shape():
    kind, classes, table = example("multilabel")
    assert kind.targets(table, classes).tolist() == [[1, 0], [0, 1], [1, 1], [0, 1]]
    assert kind.target_tensor(kind.targets(table, classes)).shape == (4, 2)
    kind, classes, table = example("multiclass")
    indices = kind.target_tensor(kind.targets(table, classes))
    assert indices.dtype == torch.long and indices.tolist() == [0, 1, 1, 0]
    kind, classes, table = example("regression")
    assert kind.targets(table, classes, np.float64).dtype == np.float64
    values = kind.target_tensor(kind.targets(table, classes))
    assert values.dtype == torch.float32 and values.shape == (4, 1)


def test_logits_become_probabilities_or_values():
    logits = torch.tensor([[0.0, 1.0], [2.0, -1.0]])
    assert MULTILABEL.to_scores(logits) == pytest.approx(torch.sigmoid(logits).numpy())
    assert MULTICLASS.to_scores(logits).sum(axis=1) == pytest.approx([1.0, 1.0])
    column = torch.tensor([[0.0], [3.0]])
    assert BINARY.to_scores(column) == pytest.approx([0.5, torch.sigmoid(column[1, 0]).item()])
    assert REGRESSION.to_scores(column).tolist() == [0.0, 3.0]
    assert (MULTILABEL.loss, MULTICLASS.loss, BINARY.loss, REGRESSION.loss) == (
        "BCEWithLogitsLoss",
        "CrossEntropyLoss",
        "BCEWithLogitsLoss",
        "L1Loss",
    )


def test_k_per_class_budgets_only_where_labels_have_classes():
    low = {"fractions": [0.5], "k_per_class": [2]}
    csv = {"adapter": "csv", "kind": "multiclass"}
    assert has_classes(csv) and has_classes({"adapter": "dfew", "kind": None})
    assert not has_classes(csv | {"kind": "regression"})
    assert not has_classes({"adapter": "cmu_mosei_sentiment", "kind": None})  # regression
    assert list(label_budgets(low, csv)) == ["frac0.5", "k2"]
    assert list(label_budgets(low, csv | {"kind": "regression"})) == ["frac0.5"]
