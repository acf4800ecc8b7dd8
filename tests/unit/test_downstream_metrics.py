"""Downstream metrics on cases small enough to work out by hand."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torchmetrics.functional.classification import binary_auroc

from marlinflow.downstream import metrics
from marlinflow.downstream.kinds import BINARY, MULTICLASS, MULTILABEL, REGRESSION


def test_auc_counts_correctly_ordered_pairs():
    # positives 0.35 and 0.8 against negatives 0.1 and 0.4: 3 of 4 pairs ordered right
    assert metrics.auc(np.array([0.1, 0.4, 0.35, 0.8]), np.array([0, 0, 1, 1])) == 0.75


def test_auc_tie_counts_half_and_one_class_is_undefined():
    assert metrics.auc(np.array([0.5, 0.5]), np.array([0, 1])) == 0.5
    assert np.isnan(metrics.auc(np.array([0.2, 0.7]), np.array([1, 1])))


def test_auc_matches_torchmetrics_with_ties():
    rng = np.random.default_rng(3)
    scores = rng.integers(0, 5, 200) / 4  # many ties
    labels = rng.integers(0, 2, 200)
    expected = binary_auroc(torch.tensor(scores), torch.tensor(labels)).item()
    assert metrics.auc(scores, labels) == pytest.approx(expected, abs=1e-6)


def test_multilabel_micro_and_macro():
    probs = np.array([[0.9, 0.2], [0.4, 0.6]])
    labels = np.array([[1, 0], [1, 1]])
    result = metrics.multilabel_metrics(probs, labels)
    assert result["acc_micro"] == 0.75  # predictions [[1, 0], [0, 1]]: 3 of 4 pairs right
    assert result["auc_micro"] == 1.0  # the one negative (0.2) is below every positive
    assert result["auc_macro"] == 1.0  # attribute 0 has no negative: left out of the mean
    assert result["f1_macro"] == pytest.approx((2 / 3 + 1.0) / 2)


def test_micro_auc_differs_from_macro_auc():
    # each attribute alone is perfectly ranked, but their score scales differ
    probs = np.array([[0.1, 0.8], [0.3, 0.9], [0.2, 0.7], [0.4, 0.95]])
    labels = np.array([[0, 0], [1, 1], [0, 0], [1, 1]])
    result = metrics.multilabel_metrics(probs, labels)
    assert result["auc_macro"] == 1.0
    assert result["auc_micro"] < 1.0


def test_binary_f1_and_accuracy():
    result = metrics.binary_metrics(np.array([0.9, 0.8, 0.1, 0.2]), np.array([1, 0, 1, 0]))
    assert result["f1"] == 0.5  # tp 1, fp 1, fn 1
    assert result["acc"] == 0.5
    assert result["auc"] == 0.5


def test_uar_and_war_on_an_imbalanced_set():
    probs = np.array([[0.9, 0.1]] * 4)  # always class 0
    result = metrics.multiclass_metrics(probs, np.array([0, 0, 0, 1]))
    assert result["war"] == 0.75
    assert result["uar"] == 0.5  # recall 1 for class 0, 0 for class 1


def test_regression_mae_and_correlation():
    result = metrics.regression_metrics(np.array([1.0, 2.0, 3.0]), np.array([1.0, 2.0, 4.0]))
    assert result["mae"] == pytest.approx(1 / 3)
    assert metrics.regression_metrics(np.array([1.0, 2.0, 3.0]), np.array([3.0, 2.0, 1.0]))[
        "corr"
    ] == pytest.approx(-1.0)
    assert result["acc2"] == 1.0


def test_bootstrap_interval_is_seeded_and_brackets_the_value():
    rng = np.random.default_rng(0)
    labels = rng.integers(0, 2, 300)
    scores = labels * 0.3 + rng.random(300)
    first = metrics.bootstrap(BINARY.metrics, scores, labels, n_resamples=200, seed=5)
    again = metrics.bootstrap(BINARY.metrics, scores, labels, n_resamples=200, seed=5)
    other = metrics.bootstrap(BINARY.metrics, scores, labels, n_resamples=200, seed=6)
    assert first == again
    assert first["auc"]["low"] != other["auc"]["low"]
    assert first["auc"]["low"] < first["auc"]["value"] < first["auc"]["high"]


def test_selection_direction():
    assert BINARY.is_better(0.8, 0.7)
    assert not REGRESSION.is_better(0.8, 0.7)  # MAE: lower is better
    assert not BINARY.is_better(float("nan"), None)
    assert BINARY.is_better(0.1, float("nan")) and REGRESSION.is_better(5.0, None)


def test_per_output_tables_behind_the_macro_means():
    probs = np.array([[0.9, 0.2], [0.4, 0.6], [0.1, 0.7]])
    labels = np.array([[1, 0], [1, 1], [0, 1]])
    table = MULTILABEL.per_output(probs, labels, ["a", "b"])
    assert table["a"] == {"auc": 1.0, "f1": pytest.approx(2 / 3), "acc": pytest.approx(2 / 3)}
    assert table["b"]["acc"] == 1.0
    recall = MULTICLASS.per_output(np.eye(3)[[0, 1, 1]], np.array([0, 1, 2]), list("xyz"))
    assert recall == {"x": {"recall": 1.0}, "y": {"recall": 1.0}, "z": {"recall": 0.0}}
    assert BINARY.per_output(probs[:, 0], labels[:, 0], []) == {}
