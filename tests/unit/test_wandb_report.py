"""The W&B Report's structure, built without a server from real run records and stage summaries
found through an experiment's plan."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest
import wandb_workspaces.reports.v2 as wr

from marlinflow import cli
from marlinflow.report.plan import load_plan
from marlinflow.report.wandb_report import (
    ReportInputs,
    build_report,
    markdown_table,
    outline,
    preprocessing_panels,
    record_paths,
)
from marlinflow.tracking import ENV_PREFIX, TrackingSettings, track_run
from tests.unit.test_report import EXP, write_experiment


@pytest.fixture(autouse=True)
def no_wandb_override(monkeypatch):
    """The modes the tests name are the ones used, whatever the environment says."""
    monkeypatch.delenv("WANDB_MODE", raising=False)


@pytest.fixture
def records(tmp_path):
    """Run records of a pretraining run (older group) and a downstream run, made by track_run."""
    paths = []
    for group, job_type in [("sample-1", "pretrain"), ("sample-2", "finetune_emotion")]:
        settings = TrackingSettings(mode="disabled", group=group)
        out = tmp_path / job_type
        with track_run(job_type, {"model": "tiny"}, ["sample"], out, settings) as tracked:
            for step in range(3):
                tracked.log({"train/loss_rec": 1 / (step + 1), "lr": 1e-4}, step=step)
            tracked.log({"val/loss_rec": 0.6}, step=2)
            tracked.summarize({"test/accuracy": 0.5, "test/auc": 0.7, "checkpoint": "last.ckpt"})
        paths.append(out / "run.json")
    settings = TrackingSettings(mode="disabled", group="sample-2")
    out = tmp_path / "features"
    with track_run("extract_features", {"model": "tiny"}, ["tiny"], out, settings) as tracked:
        tracked.summarize({"videos": 8, "videos_failed": 0, "windows": 24, "clips_per_s": 12.5})
    return [*paths, out / "run.json"]


def sections(report: wr.Report) -> dict[str, list]:
    """Blocks under each H1 heading."""
    found: dict[str, list] = {}
    for block in report.blocks:
        if isinstance(block, wr.H1):
            found[block.text] = []
        elif found:
            list(found.values())[-1].append(block)
    return found


def test_report_structure(records):
    runs = [json.loads(p.read_text()) for p in records]
    results = pd.DataFrame({"task": ["emotion"], "accuracy": [0.51234], "auc": [float("nan")]})
    skipped = pd.DataFrame(
        {"dataset": ["faces"], "id": ["v2"], "stage": ["download"], "reason": ["HTTP 404"]}
    )
    report = build_report(ReportInputs("sample-2", runs, results, skipped, "demo"), entity="")
    assert report.title == "MARLIN experiment demo"
    assert "sample-1, sample-2" in report.description
    parts = sections(report)
    assert list(parts) == [
        "Results",
        "Pretraining",
        "Downstream",
        "Preprocessing",
        "Feature extraction",
        "Skipped videos",
    ]
    assert parts["Results"][1].text.splitlines()[2] == "| emotion | 0.5123 |  |"

    (losses,) = parts["Pretraining"]
    assert [(p.title, p.y) for p in losses.panels] == [
        ("loss_rec", ["train/loss_rec", "val/loss_rec"])
    ]
    assert (
        losses.runsets[0].filters
        == "Metric(\"Group\") in ['sample-1'] and Metric(\"JobType\") in ['pretrain']"
    )
    (metrics,) = parts["Downstream"]
    assert [p.metrics for p in metrics.panels] == [["test/accuracy"], ["test/auc"]]
    assert (
        "'sample-2'" in metrics.runsets[0].filters
        and "finetune_emotion" in metrics.runsets[0].filters
    )
    (extraction,) = parts["Feature extraction"]
    assert [p.metrics for p in extraction.panels] == [
        ["clips_per_s"],
        ["videos"],
        ["videos_failed"],
        ["windows"],
    ]
    assert "extract_features" in extraction.runsets[0].filters
    intro, table = parts["Skipped videos"]
    assert intro.text == "1 video could not be used (download: 1)."
    assert "| faces | v2 | download | HTTP 404 |" in table.text


def test_preprocessing_shows_what_the_encoder_sees():
    summary = {
        "videos/usable": 8,
        "stats/visible_composition/background/mean": 0.75,
        "stats/visible_composition/skin/mean": 0.15,
        "stats/visible_composition/parts/mean": 0.1,
    }
    panels = preprocessing_panels([{"summary": summary, "tables": ["video_stats"]}])
    assert [p.metrics for p in panels[:-1]] == [
        ["videos/usable"],
        ["stats/visible_composition/background/mean"],
        ["stats/visible_composition/skin/mean"],
        ["stats/visible_composition/parts/mean"],
    ]


def test_empty_sections_say_so():
    report = build_report(ReportInputs("g", runs=[]), entity="")
    texts = [item.get("text") for item in outline(report)]
    assert "No results yet in this run." in texts
    assert "No pretraining run in this pipeline run." in texts
    assert "No stage summary in this pipeline run." in texts
    assert "No feature extraction in this pipeline run." in texts
    assert "Every video was usable." in texts
    assert not any(isinstance(b, wr.PanelGrid) for b in report.blocks)


def test_markdown_table_escapes_and_truncates():
    table = pd.DataFrame({"id": [f"v{i}" for i in range(5)], "reason": ["a|b", "x\ny", "", "", ""]})
    text = markdown_table(table, max_rows=2)
    assert text.splitlines()[2:4] == ["| v0 | a\\|b |", "| v1 | x y |"]
    assert text.endswith("*... and 3 more rows*")


def track(out: Path, job_type: str, group: str, summary: dict) -> None:
    settings = TrackingSettings(mode="disabled", group=group)
    with track_run(job_type, {"model": "tiny"}, ["tiny"], out, settings) as tracked:
        if job_type == "pretrain":
            tracked.log({"train/loss_rec": 1.0}, step=0)
        tracked.summarize(summary)


@pytest.fixture
def experiment(tmp_path):
    """The demo experiment of the local report's tests, with a run record where most steps keep
    one (the others' are missing: they are skipped)."""
    plan = write_experiment(tmp_path)
    exp = tmp_path / EXP
    track(exp / "encoders/tiny", "pretrain", "demo-1", {"epochs": 3})
    track(exp / "features/faces/tiny", "extract_features", "demo-2", {"videos": 12, "windows": 36})
    for encoder in ("tiny", "random-tiny"):
        track(
            exp / f"downstream/faces/appearance/finetune/{encoder}",
            "finetune",
            "demo-2",
            {"test/acc_micro/mean": 0.9},
        )
    track(
        tmp_path / "results/datasets/faces/runs/summarize_download",
        "summarize_download",
        "demo-2",
        {"videos/usable": 4, "videos/unusable": 1},
    )
    return tmp_path, plan


def wandb_report(root: Path, plan: Path, out: Path, results: Path) -> int:
    argv = [str(plan), "--results", str(results), "--root", str(root), "--out", str(out)]
    return cli.main(["wandb-report", *argv])


def test_run_records_are_where_the_plan_says(experiment):
    root, plan = experiment
    paths = record_paths(load_plan(plan, root), root / EXP / "report")
    relative = [p.relative_to(root).as_posix() for p in paths]
    assert relative[0] == f"{EXP}/encoders/tiny/run.json"
    assert f"{EXP}/features/faces/random-tiny/run.json" in relative
    assert f"{EXP}/downstream/faces/emotion/probe-k2/tiny/run.json" in relative
    assert "results/datasets/faces/runs/summarize_parse/run.json" in relative
    assert relative[-1] == f"{EXP}/report/run.json" and len(relative) == len(set(relative))


def test_run_writes_outline_offline(experiment, monkeypatch):
    root, plan = experiment
    monkeypatch.setenv(ENV_PREFIX + "GROUP", "demo-2")
    monkeypatch.setenv(ENV_PREFIX + "MODE", "disabled")
    report_dir = root / EXP / "report"
    argv = [str(plan), "--out", str(report_dir / "index.html"), "--root", str(root)]
    assert cli.main(["report", *argv]) == 0
    monkeypatch.setenv(ENV_PREFIX + "MODE", "offline")
    out = root / EXP / "wandb_report.json"
    assert wandb_report(root, plan, out, report_dir / "results.tsv") == 0
    written = json.loads(out.read_text())
    assert written["url"] is None and written["title"] == "MARLIN experiment demo"
    texts = [b.get("text", "") for b in written["blocks"]]
    assert "smoke test" in texts[0].lower()  # the plan is the embedded sample's
    lines = next(t for t in texts if t.startswith("| encoder |")).splitlines()
    assert lines[0].startswith("| encoder | faces / appearance / finetune: acc_micro |")
    assert [line.split(" | ")[0] for line in lines[2:]] == [
        "| tiny",
        "| random-tiny",
        "| official-tiny",
        "| paper",
        "| chance",
    ]
    skipped_table = [b["text"] for b in written["blocks"] if b["block"] == "MarkdownBlock"][-1]
    assert "| faces | v4 | download | HTTP Error 404: Not Found |" in skipped_table
    assert "| faces | v3 | parse | no face in 95% of the frames |" in skipped_table
    assert "2 videos could not be used (download: 1, parse: 1)." in texts
    grids = [b for b in written["blocks"] if b["block"] == "PanelGrid"]
    # losses, downstream, stage summaries, feature extraction
    assert [len(g["panels"]) for g in grids] == [1, 1, 2, 2]


def test_a_partial_experiment_gets_a_report(tmp_path):
    """Only the plan is there: every section says what is missing."""
    plan = write_experiment(tmp_path / "full")
    (tmp_path / "plan.json").write_text(plan.read_text())
    out = tmp_path / "wandb_report.json"
    assert wandb_report(tmp_path, tmp_path / "plan.json", out, tmp_path / "report/results.tsv") == 0
    texts = [b.get("text") for b in json.loads(out.read_text())["blocks"]]
    assert "No results yet in this run." in texts
    assert "No stage summary yet in this experiment." in texts
    assert "No pretraining run in this pipeline run." in texts


def test_a_missing_plan_is_refused(tmp_path, capsys):
    out = tmp_path / "wandb_report.json"
    assert wandb_report(tmp_path, tmp_path / "plan.json", out, tmp_path / "results.tsv") == 2
    assert not out.exists()
    error = capsys.readouterr().err
    plan = tmp_path / "plan.json"
    assert error == f"marlinflow wandb-report: error: {plan}: experiment plan not found\n"
