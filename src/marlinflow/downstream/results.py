"""Run results a report can read: metrics with confidence intervals, counts, skipped videos.

One run (task × protocol × model × seed) is a :class:`RunResult`; ``write_outputs`` writes
``metrics.json`` (every run plus a mean ± std summary over seeds) and ``predictions.csv`` (one row
per evaluated video and seed) into an output folder, atomically.
"""

from __future__ import annotations

import dataclasses
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from marlinflow.atomic import atomic_path, write_json
from marlinflow.downstream.metrics import bootstrap
from marlinflow.downstream.tasks import Task
from marlinflow.downstream.training import FitResult


@dataclass
class RunResult:
    task: str
    kind: str
    protocol: str  # linear_probe | finetune
    model: str
    seed: int
    metrics: dict[str, dict[str, float]]  # test: {name: {value, low, high}}
    val_metrics: dict[str, float]
    counts: dict[str, int]  # n_train, n_val, n_test actually used
    skipped: list[dict[str, str]]  # {"id", "reason"}
    best_epoch: int
    epochs: int
    config: dict[str, Any] = field(default_factory=dict)
    per_output: dict[str, dict[str, float]] = field(default_factory=dict)  # test, per attribute
    predictions: pd.DataFrame | None = field(default=None, repr=False)

    def to_json(self) -> dict[str, Any]:
        data = asdict(self)
        data.pop("predictions")
        return data


def predictions_table(task: Task, ids: list[str], split: str, scores: np.ndarray) -> pd.DataFrame:
    """id, split, the true label column(s), and one ``score_<name>`` column per output."""
    rows = task.table.set_index("id").loc[ids]
    table = pd.DataFrame({"id": ids, "split": split})
    for column in task.label_columns:
        table[column] = rows[column].to_numpy()
    names = task.task_kind.output_names(task.classes)
    scores = scores.reshape(len(ids), -1)
    for i, name in enumerate(names):
        table[f"score_{name}"] = scores[:, i]
    return table


@dataclass
class Scored:
    """One split's evaluated videos: ids, scores (as ``TaskKind.to_scores`` makes them), targets."""

    ids: list[str]
    scores: np.ndarray
    targets: np.ndarray


def make_result(
    task: Task,
    protocol: str,
    model: str,
    n_train: int,
    val: Scored,
    test: Scored,
    fitted: FitResult,
    skipped: list[dict[str, str]],
    config: Any,
    n_bootstrap: int,
) -> RunResult:
    """A run's result: test metrics with bootstrap intervals (seeded like the run), val
    metrics, counts, and the val and test predictions."""
    seed, kind = config.train.seed, task.task_kind
    tables = [
        predictions_table(task, s.ids, name, s.scores)
        for name, s in (("val", val), ("test", test))
        if s.ids
    ]
    return RunResult(
        task=task.name,
        kind=task.kind,
        protocol=protocol,
        model=model,
        seed=seed,
        metrics=bootstrap(kind.metrics, test.scores, test.targets, n_bootstrap, seed),
        val_metrics=kind.metrics(val.scores, val.targets) if val.ids else {},
        counts={"n_train": n_train, "n_val": len(val.ids), "n_test": len(test.ids)},
        skipped=skipped,
        best_epoch=fitted.best_epoch,
        epochs=fitted.epochs,
        config=dataclasses.asdict(config),
        predictions=pd.concat(tables, ignore_index=True),
        per_output=kind.per_output(test.scores, test.targets, task.classes),
    )


def summarise(runs: list[RunResult]) -> dict[str, dict[str, float]]:
    """Mean and standard deviation (ddof 1; 0 for one run) of each test metric over seeds."""
    summary = {}
    for name in runs[0].metrics:
        values = np.array([run.metrics[name]["value"] for run in runs], dtype=float)
        std = float(np.nanstd(values, ddof=1)) if len(values) > 1 else 0.0
        summary[name] = {"mean": float(np.nanmean(values)), "std": std, "n": len(values)}
    return summary


def write_outputs(runs: list[RunResult], out_dir: str | Path) -> Path:
    """``metrics.json`` and ``predictions.csv`` in ``out_dir``; returns the metrics path."""
    out_dir = Path(out_dir)
    first = runs[0]
    document = {
        "task": first.task,
        "kind": first.kind,
        "protocol": first.protocol,
        "model": first.model,
        "seeds": [run.seed for run in runs],
        "summary": summarise(runs),
        "runs": [run.to_json() for run in runs],
    }
    write_json(out_dir / "metrics.json", document)
    tables = [run.predictions.assign(seed=run.seed) for run in runs if run.predictions is not None]
    if tables:
        with atomic_path(out_dir / "predictions.csv") as tmp:
            pd.concat(tables, ignore_index=True).to_csv(tmp, index=False)
    return out_dir / "metrics.json"


def per_class_table(runs: list[RunResult]) -> pd.DataFrame:
    """Test metrics per class or attribute: one row per (seed, class), a column per metric."""
    rows = [
        {"seed": run.seed, "class": name, **values}
        for run in runs
        for name, values in run.per_output.items()
    ]
    return pd.DataFrame(rows)


def write_tracked(
    runs: list[RunResult], out_dir: str | Path, job_type: str, config: dict[str, Any]
) -> Path:
    """:func:`write_outputs`, recorded as one tracked run (``run.json``, and W&B when on): the
    test metrics of every seed as steps, their mean and std over seeds as the summary."""
    from marlinflow.tracking import track_run

    first = runs[0]
    with track_run(job_type, config, tags=[first.task, first.model], out_dir=out_dir) as tracked:
        for run in runs:
            tracked.log({f"test/{k}": v["value"] for k, v in run.metrics.items()}, step=run.seed)
        if any(run.per_output for run in runs):
            tracked.log_table("per_class", per_class_table(runs))
        path = write_outputs(runs, out_dir)
        tracked.summarize(
            {
                f"test/{name}/{k}": v
                for name, stats in summarise(runs).items()
                for k, v in stats.items()
            }
        )
    return path
