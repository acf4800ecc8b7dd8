"""Paired bootstrap differences between two encoders' test predictions."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from marlinflow.downstream.kinds import BINARY, KINDS, MULTICLASS
from marlinflow.downstream.results import RunResult, predictions_table, write_outputs
from marlinflow.downstream.tasks import Task
from marlinflow.report.compare import compare_runs, paired_bootstrap, read_predictions


def noisy(labels: np.ndarray, signal: float, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return np.clip(0.5 + signal * (labels - 0.5) + rng.normal(0, 0.2, labels.shape), 0, 1)


def test_identical_predictions_differ_by_exactly_zero():
    labels = np.random.default_rng(0).integers(0, 2, 50).astype(float)
    scores = [noisy(labels, 0.3, seed) for seed in (0, 1, 2)]
    found = paired_bootstrap(BINARY.metric("auc"), labels, scores, scores, 200)
    assert (found.mean, found.low, found.high, found.n_videos) == (0.0, 0.0, 0.0, 50)


def test_a_clearly_better_predictor_has_an_interval_above_zero():
    labels = np.random.default_rng(1).integers(0, 2, 80).astype(float)
    good = [noisy(labels, 0.8, seed) for seed in (0, 1)]
    bad = [noisy(labels, 0.0, seed) for seed in (2, 3)]
    found = paired_bootstrap(BINARY.metric("auc"), labels, good, bad, 300)
    assert 0 < found.low <= found.mean <= found.high
    worse = paired_bootstrap(BINARY.metric("auc"), labels, bad, good, 300)
    assert worse.mean == pytest.approx(-found.mean) and worse.high < 0


def test_the_draws_are_seeded():
    labels = np.random.default_rng(2).integers(0, 3, 40)
    a = [np.random.default_rng(s).dirichlet([1, 1, 1], 40) for s in (0, 1)]
    b = [np.random.default_rng(s).dirichlet([1, 1, 1], 40) for s in (2, 3)]
    fn = MULTICLASS.metric("uar")
    assert paired_bootstrap(fn, labels, a, b, 50, seed=4) == paired_bootstrap(
        fn, labels, a, b, 50, seed=4
    )


@pytest.mark.parametrize(
    "kind, name", [(kind, name) for kind in KINDS for name in KINDS[kind].fast_metrics]
)
def test_fast_metrics_are_the_kind_s_metrics(kind, name):
    rng = np.random.default_rng(3)
    targets = {
        "multilabel": rng.integers(0, 2, (30, 4)).astype(float),
        "multiclass": rng.integers(0, 3, 30),
        "binary": rng.integers(0, 2, 30).astype(float),
        "regression": rng.normal(0, 1, 30),
    }[kind]
    scores = {
        "multilabel": rng.random((30, 4)),
        "multiclass": rng.dirichlet([1, 1, 1], 30),
        "binary": rng.random(30),
        "regression": rng.normal(0, 1, 30),
    }[kind]
    assert KINDS[kind].metric(name)(scores, targets) == pytest.approx(
        KINDS[kind].metrics(scores, targets)[name]
    )


def write_run(task: Task, folder, signal: float, seeds=(0, 1), drop: str | None = None):
    """A run's predictions as the downstream verbs write them (optionally missing one video)."""
    test = task.split("test")
    test = test[test["id"] != drop] if drop else test
    one_hot = np.eye(len(task.classes))[task.targets(test)]
    runs = [
        RunResult(
            task.name,
            task.kind,
            "probe",
            "m",
            seed,
            {"war": {"value": 0.0}},
            {},
            {"n_train": 1},
            [],
            0,
            1,
            predictions=predictions_table(
                task, test["id"].tolist(), "test", noisy(one_hot, signal, seed)
            ),
        )
        for seed in seeds
    ]
    write_outputs(runs, folder)
    return read_predictions(folder / "predictions.csv")


def test_runs_are_compared_on_the_videos_both_predicted(tmp_path):
    labels = ["-1", "0", "1"] * 10  # class names that look like numbers stay names
    table = pd.DataFrame({"id": [f"v{i:02d}" for i in range(30)], "split": "test", "label": labels})
    task = Task("emotion", "multiclass", ["-1", "0", "1"], table)
    good = write_run(task, tmp_path / "good", 0.9)
    bad = write_run(task, tmp_path / "bad", 0.0, seeds=(0,), drop="v07")
    assert sorted(good.scores) == [0, 1] and len(good.scores[0]) == 30
    found = compare_runs(MULTICLASS, "war", good, bad, n_resamples=200)
    assert found.n_videos == 29 and found.low > 0
    same = compare_runs(MULTICLASS, "war", good, good, n_resamples=50)
    assert (same.mean, same.low, same.high) == (0.0, 0.0, 0.0)
