"""The label-efficiency view: rows read from low-label runs beside the full-label ones."""

from __future__ import annotations

import json
import re

import pytest

from marlinflow.report.budgets import (
    budget_rows,
    label_efficiency,
    plot_label_efficiency,
    with_budgets,
)
from marlinflow.report.plan import Plan
from marlinflow.report.tables import downstream_results


def write_run(root, folder: str, kind: str, metric: str, values: list[float], n_train: float):
    """A metrics.json as marlinflow.downstream.results writes it; returns its plan entry."""
    path = root / "downstream" / folder / "metrics.json"
    path.parent.mkdir(parents=True)
    runs = [
        {"counts": {"n_train": n_train, "n_test": 8}, "metrics": {metric: {"value": v}}}
        for v in values
    ]
    mean = sum(values) / len(values)
    summary = {metric: {"mean": mean, "std": 0.1, "n": len(values)}, "other": {"mean": 0.0}}
    path.write_text(json.dumps({"kind": kind, "summary": summary, "runs": runs}))
    task, protocol, encoder = folder.split("/")
    return {
        "dataset": "ds",
        "task": task,
        "protocol": protocol,
        "encoder": encoder,
        "metrics": str(path.relative_to(root)),
    }


@pytest.fixture
def plan(tmp_path):
    entries = []
    for encoder, base in (("tiny", 0.8), ("random-tiny", 0.6)):
        entries += [
            write_run(tmp_path, f"fake/probe/{encoder}", "binary", "auc", [base, base], 1500),
            write_run(tmp_path, f"fake/probe-k5/{encoder}", "binary", "auc", [base - 0.1], 10),
            write_run(
                tmp_path, f"fake/probe-frac0.5/{encoder}", "binary", "auc", [base - 0.05], 750.5
            ),
            write_run(tmp_path, f"emotion/finetune/{encoder}", "multiclass", "war", [base], 40),
        ]
    document = {"experiment": "e", "datasets": {}, "encoders": {}, "results": entries}
    return Plan(document, tmp_path, tmp_path / "plan.json")


def test_rows_carry_budget_training_size_and_main_metric(plan):
    rows = budget_rows(downstream_results(plan)).set_index(
        ["task", "protocol", "budget", "encoder"]
    )
    assert len(rows) == 8 and set(rows["dataset"]) == {"ds"}
    assert rows.loc[("fake", "probe", "k5", "tiny"), "n_train"] == 10
    assert rows.loc[("fake", "probe", "frac0.5", "random-tiny"), "mean"] == pytest.approx(0.55)
    assert rows.loc[("fake", "probe", "", "tiny"), "metric"] == "auc"
    assert rows.loc[("emotion", "finetune", "", "tiny"), "metric"] == "war"  # multiclass lead


def test_only_groups_with_a_budget_are_drawn(plan, tmp_path):
    assert set(with_budgets(budget_rows(downstream_results(plan)))["task"]) == {"fake"}
    png = label_efficiency(downstream_results(plan), tmp_path / "figures" / "budgets.png")
    assert png.read_bytes().startswith(b"\x89PNG")


def test_the_training_video_axis_has_whole_number_ticks(plan):
    figure = plot_label_efficiency(budget_rows(downstream_results(plan)))
    (ax,) = figure.axes
    assert ax.get_title() == "ds: fake" and ax.get_xlabel() == "labelled training videos"
    assert list(ax.get_xticks()) == [10, 750, 1500]  # 750.5: a mean over seeds, drawn where it is
    labels = [label.get_text() for label in ax.get_xticklabels()]
    assert labels == ["10", "750", "1500"] and all(re.fullmatch(r"\d+", t) for t in labels)
    assert ax.get_xticks(minor=True).size == 0


def test_no_budget_runs_is_a_clear_value_error(plan):
    for path in plan.root.glob("downstream/fake/probe-*/*/metrics.json"):
        path.unlink()
    with pytest.raises(ValueError, match="no low-label or few-shot runs"):
        label_efficiency(downstream_results(plan), plan.root / "budgets.png")


def test_an_unreadable_metrics_file_is_skipped_not_fatal(plan):
    (plan.root / "downstream/fake/probe-k5/tiny/metrics.json").write_text("{not json")
    rows = budget_rows(downstream_results(plan))
    assert len(rows) == 7 and not ((rows["budget"] == "k5") & (rows["encoder"] == "tiny")).any()
