"""The W&B Report's structure, built without a server from real run records and stage summaries."""

from __future__ import annotations

import argparse
import json

import pandas as pd
import pytest
import wandb_workspaces.reports.v2 as wr

from marlinflow.report.wandb_report import (
    ReportInputs,
    add_arguments,
    build_report,
    markdown_table,
    outline,
    run,
)
from marlinflow.status import StageRecord, summary_table
from marlinflow.tracking import ENV_PREFIX, TrackingSettings, track_run


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


@pytest.fixture
def summary_tsv(tmp_path):
    stage_records = [StageRecord("v1", "download", True), StageRecord("v2", "download", False, "HTTP 404"),
                     StageRecord("v3", "download", False, "no | face")]  # fmt: skip
    path = tmp_path / "download_summary.tsv"
    summary_table(stage_records).to_csv(path, sep="\t", index=False)
    later = [StageRecord("v1", "track", False, "no face found"),
             StageRecord("v2", "track", False, "skipped: download: HTTP 404")]  # fmt: skip
    summary_table(later).to_csv(tmp_path / "track_summary.tsv", sep="\t", index=False)
    return path


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
    skipped = pd.DataFrame({"id": ["v2"], "stage": ["download"], "reason": ["HTTP 404"]})
    report = build_report(ReportInputs("sample-2", runs, results, skipped, "sample"), entity="")
    assert report.title == "MARLIN pipeline run sample-2"
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
    assert parts["Results"][0].text.splitlines()[2] == "| emotion | 0.5123 |  |"

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
    assert "| v2 | download | HTTP 404 |" in table.text


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


def test_run_writes_outline_offline(records, summary_tsv, tmp_path, monkeypatch):
    monkeypatch.setenv(ENV_PREFIX + "MODE", "offline")
    monkeypatch.setenv(ENV_PREFIX + "GROUP", "sample-2")
    parser = argparse.ArgumentParser()
    add_arguments(parser)
    out = tmp_path / "wandb_report.json"
    summaries = [str(summary_tsv), str(summary_tsv.with_name("track_summary.tsv"))]
    argv = ["--runs", *map(str, records), "--summaries", *summaries, "--dataset", "sample",
            "--out", str(out)]  # fmt: skip
    assert run(parser.parse_args(argv)) == 0
    written = json.loads(out.read_text())
    assert written["url"] is None and written["title"] == "MARLIN pipeline run sample-2"
    skipped_table = [b["text"] for b in written["blocks"] if b["block"] == "MarkdownBlock"][-1]
    assert "| v2 | download | HTTP 404 |" in skipped_table and "no \\| face" in skipped_table
    assert "| v1 | track | no face found |" in skipped_table and "skipped:" not in skipped_table
    assert "3 videos could not be used (download: 2, track: 1)." in [
        b.get("text") for b in written["blocks"]
    ]
    grids = [b for b in written["blocks"] if b["block"] == "PanelGrid"]
    assert [len(g["panels"]) for g in grids] == [1, 2, 4]  # losses, downstream, extraction
