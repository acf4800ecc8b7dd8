"""The label-efficiency view: rows read from low-label runs beside the full-label ones."""

from __future__ import annotations

import json

import pytest

from marlinflow.report.budgets import budget_rows, label_efficiency, with_budgets
from marlinflow.report.tables import downstream_results


def write_run(root, folder: str, kind: str, metric: str, values: list[float], n_train: int):
    path = root / "downstream" / folder / "metrics.json"
    path.parent.mkdir(parents=True)
    runs = [
        {"counts": {"n_train": n_train, "n_test": 8}, "metrics": {metric: {"value": v}}}
        for v in values
    ]  # as marlinflow.downstream.results writes them
    mean = sum(values) / len(values)
    summary = {metric: {"mean": mean, "std": 0.1, "n": len(values)}, "other": {"mean": 0.0}}
    path.write_text(json.dumps({"kind": kind, "summary": summary, "runs": runs}))


@pytest.fixture
def results(tmp_path):
    for encoder, base in (("tiny", 0.8), ("random-tiny", 0.6)):
        write_run(tmp_path, f"fake/probe/{encoder}", "binary", "auc", [base, base], 40)
        write_run(tmp_path, f"fake/probe-k5/{encoder}", "binary", "auc", [base - 0.1], 10)
        write_run(tmp_path, f"fake/probe-frac0.5/{encoder}", "binary", "auc", [base - 0.05], 20)
        write_run(tmp_path, f"emotion/finetune/{encoder}", "multiclass", "war", [base], 40)
    return tmp_path


def test_rows_carry_budget_training_size_and_main_metric(results):
    rows = budget_rows(downstream_results(results)).set_index(
        ["task", "protocol", "budget", "encoder"]
    )
    assert len(rows) == 8
    assert rows.loc[("fake", "probe", "k5", "tiny"), "n_train"] == 10
    assert rows.loc[("fake", "probe", "frac0.5", "random-tiny"), "mean"] == pytest.approx(0.55)
    assert rows.loc[("fake", "probe", "", "tiny"), "metric"] == "auc"
    assert rows.loc[("emotion", "finetune", "", "tiny"), "metric"] == "war"  # multiclass lead


def test_only_groups_with_a_budget_are_drawn(results, tmp_path):
    assert set(with_budgets(budget_rows(downstream_results(results)))["task"]) == {"fake"}
    png = label_efficiency(downstream_results(results), tmp_path / "figures" / "budgets.png")
    assert png.read_bytes().startswith(b"\x89PNG")


def test_no_budget_runs_is_a_clear_value_error(results):
    for path in results.glob("downstream/fake/probe-*/*/metrics.json"):
        path.unlink()
    with pytest.raises(ValueError, match="no low-label or few-shot runs"):
        label_efficiency(downstream_results(results), results / "budgets.png")


def test_an_unreadable_metrics_file_is_skipped_not_fatal(results):
    (results / "downstream/fake/probe-k5/tiny/metrics.json").write_text("{not json")
    rows = budget_rows(downstream_results(results))
    assert len(rows) == 7 and not ((rows["budget"] == "k5") & (rows["encoder"] == "tiny")).any()
