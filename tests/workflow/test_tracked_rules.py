"""The workflow's tracked rules: one W&B group per invocation, job types named after the rules,
runs named after what they did and tagged with experiment, data set, encoder and size, and an
offline W&B run beside each record."""

from __future__ import annotations

import json
from pathlib import Path

from marlinflow.layout import DatasetLayout
from tests.unit.test_tracking import wandb_inspect
from tests.workflow.conftest import snakemake

# Every rule the sample runs that is a tracked run (marlinflow.tracking says which are, and why).
TRACKED_RULES = {
    "summarize_download",
    "summarize_track",
    "summarize_parse",
    "pretrain",
    "extract_features",
    "probe",
    "finetune",
    "lipsync_expert",
    "lipsync_generator",
    "lipsync_eval",
    "report_html",
}


def run_records(project: Path) -> list[dict]:
    return [json.loads(p.read_text()) for p in sorted((project / "results").rglob("run.json"))]


def test_stage_summary_rule_records_an_offline_wandb_run(workflow_copy, monkeypatch, tmp_path):
    for name in ("WANDB_MODE", "WANDB_API_KEY"):
        monkeypatch.delenv(name, raising=False)
    for name in ("WANDB_CACHE_DIR", "WANDB_CONFIG_DIR", "WANDB_DATA_DIR"):  # W&B's own folders
        monkeypatch.setenv(name, str(tmp_path / name.lower()))
    target = DatasetLayout("sample").summary("download")
    config = ["dataset={sample_videos: 6}", "tracking={mode: offline}"]
    result = snakemake(workflow_copy, "--cores", "2", "--config", *config, "--", target)
    assert result.returncode == 0, result.stderr[-5000:]

    (record,) = run_records(workflow_copy)
    assert record["job_type"] == "summarize_download" and record["group"].startswith("sample-")
    assert record["tags"] == ["experiment:sample", "dataset:sample"] and record["mode"] == "offline"
    assert record["name"] == "summarize_stage sample"
    assert record["config"]["records"] == 6 and record["config"]["folders"] == ["data/raw/sample"]
    assert {"video_stats", "videos/usable", "stats/frames/total"} <= set(record["logged_keys"])
    assert record["summary"]["videos/usable"] == 6
    run_dir = workflow_copy / record["wandb"]["dir"]
    assert run_dir.parent == workflow_copy / "logs/wandb/wandb"  # the config's tracking folder
    lines = [json.loads(line) for line in wandb_inspect(run_dir, "--json").splitlines()]
    header = next(line["run"] for line in lines if line.get("type") == "run")
    assert (header["run_group"], header["job_type"]) == (record["group"], "summarize_download")


def test_every_tracked_rule_of_the_sample_is_one_run_of_one_group(sample_project):
    records = run_records(sample_project)
    assert {r["job_type"] for r in records} >= TRACKED_RULES
    assert len({r["group"] for r in records}) == 1  # the sample ran in one invocation
    assert all(r["status"] == "finished" for r in records)
    # the invocation's experiment on every run, and each run's own data set, task, encoder, size
    assert all("experiment:sample" in r["tags"] for r in records)
    probes = {r["name"]: r["tags"] for r in records if r["job_type"] == "probe"}
    assert set(probes["probe sample/fake tiny"]) >= {
        "dataset:sample",
        "task:fake",
        "encoder:tiny",
        "size:tiny",
    }
    assert "probe-k2 sample/expression random-tiny" in probes
    # fine-tune runs carry their encoder's name, not the weights file's stem ("encoder")
    finetunes = {r["name"]: r["tags"] for r in records if r["job_type"] == "finetune"}
    assert "encoder" not in {tag for tags in finetunes.values() for tag in tags}
    assert "encoder:official-tiny" in finetunes["finetune sample/fake official-tiny"]
    assert all(r["name"] for r in records)
