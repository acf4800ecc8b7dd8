"""The steps tracked beside pretraining and the downstream runs: the stage summaries (the
preprocessing runs), feature extraction and the HTML report, each run for real with W&B offline
and read back from our record and from W&B's own files; and nothing of W&B when disabled."""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch

from marlinflow import cli
from marlinflow.features import Marlin, plan_windows
from marlinflow.models import resolve_size
from marlinflow.report.stage_summary import stage_aggregates, summary_table
from marlinflow.report.wandb_report import ReportInputs, build_report
from marlinflow.stages import StageRecord
from marlinflow.tracking import ENV_PREFIX, TAGS_ENV, start_pipeline, track_run
from tests.unit.test_report import EXP, write_experiment
from tests.unit.test_tracking import wandb_inspect

# Track-stage records as marlinflow track writes them: three usable videos, two not.
TRACKED = {
    "v0": dict(
        frames=40,
        face_fraction=1.0,
        tracks_found=1,
        tracks_kept=1,
        cuts=0,
        crop_jitter_px=0.5,
        face_jitter_px=1.0,
        frames_per_s_processed=150.0,
    ),
    "v1": dict(
        frames=60,
        face_fraction=0.75,
        tracks_found=2,
        tracks_kept=1,
        cuts=1,
        crop_jitter_px=1.5,
        face_jitter_px=3.0,
        frames_per_s_processed=170.0,
    ),
    "v2": dict(
        frames=20,
        face_fraction=0.9,
        tracks_found=1,
        tracks_kept=1,
        cuts=0,
        crop_jitter_px=2.5,
        face_jitter_px=2.0,
        frames_per_s_processed=160.0,
    ),
}
FAILED = {"v3": "v3.mp4: no face in 95% of the frames", "v4": "skipped: download: HTTP 404"}


@pytest.fixture
def pipeline(tmp_path):
    """An invocation's settings as the workflow exports them (W&B offline, in this test's
    folder; data set ``sample``, model ``tiny``); the environment is restored afterwards."""
    saved = dict(os.environ)
    inherited = [n for n in os.environ if n.startswith(ENV_PREFIX)]
    for name in ("WANDB_MODE", "WANDB_API_KEY", "WANDB_DIR", *inherited):
        os.environ.pop(name, None)
    for name in ("WANDB_CACHE_DIR", "WANDB_CONFIG_DIR", "WANDB_DATA_DIR"):  # W&B's own folders
        os.environ[name] = str(tmp_path / name.lower())
    yield start_pipeline({"mode": "offline", "dir": str(tmp_path / "wandb")}, "sample", ["tiny"])
    os.environ.clear()
    os.environ.update(saved)


@pytest.fixture
def track_records(tmp_path) -> list[Path]:
    folder = tmp_path / "faces"
    folder.mkdir()
    records = [StageRecord(i, "track", True, stats=s, seconds=1.0) for i, s in TRACKED.items()]
    records += [StageRecord(i, "track", False, reason, seconds=0.5) for i, reason in FAILED.items()]
    for record in records:
        record.save(folder / f"{record.id}.status.json")
    return sorted(folder.glob("*.status.json"))


def summarize(records: list[Path], out: Path) -> int:
    return cli.main(["summary", *map(str, records), "--out", str(out)])


def wandb_run(record: dict) -> tuple[dict, dict]:
    """W&B's own view of a run: its summary document, and the run header it recorded."""
    run_dir = Path(record["wandb"]["dir"])
    summary = json.loads(wandb_inspect(run_dir, "--summary", "--json"))
    lines = [json.loads(line) for line in wandb_inspect(run_dir, "--json").splitlines()]
    return summary, next(line["run"] for line in lines if line.get("type") == "run")


def wandb_table(record: dict, name: str) -> dict:
    """A table the run logged, from W&B's run files (columns, data)."""
    (path,) = Path(record["wandb"]["dir"]).glob(f"files/media/table/{name}_*.table.json")
    return json.loads(path.read_text())


def test_stage_summary_is_the_stages_tracked_run(pipeline, track_records, tmp_path):
    out = tmp_path / "results" / "track_summary.tsv"
    assert summarize(track_records, out) == 0
    table = pd.read_csv(out, sep="\t", dtype={"id": str})
    assert table["id"].tolist() == ["v3", "v4", "v0", "v1", "v2"]  # the unusable first
    assert table.set_index("id").loc["v1", "stats/crop_jitter_px"] == 1.5

    run_dir = tmp_path / "results" / "runs" / "summarize_track"
    record = json.loads((run_dir / "run.json").read_text())
    assert (record["group"], record["job_type"], record["tags"], record["status"]) == (
        pipeline.group,
        "summarize_track",
        ["experiment:sample", "tiny"],
        "finished",
    )
    assert record["config"] == {
        "stages": ["track"],
        "records": 5,
        "folders": [str(tmp_path / "faces")],
        "out": str(out),
    }
    assert record["tables"] == ["video_stats"]
    pd.testing.assert_frame_equal(
        pd.read_csv(run_dir / "video_stats.tsv", sep="\t"), pd.read_csv(out, sep="\t")
    )
    summary = record["summary"]
    jitter = [s["crop_jitter_px"] for s in TRACKED.values()]
    assert summary["stats/crop_jitter_px/p90"] == pytest.approx(np.percentile(jitter, 90))
    assert (
        summary["videos/usable"],
        summary["unusable/no_face"],
        summary["unusable/skipped"],
        summary["stats/frames/total"],
    ) == (3, 1, 1, 120)
    assert {"video_stats", "videos/unusable", "stats/frames_per_s_processed/mean"} <= set(
        record["logged_keys"]
    )

    wandb_summary, header = wandb_run(record)
    assert (header["run_group"], header["job_type"]) == (pipeline.group, "summarize_track")
    assert (
        wandb_summary["tags"] == ["experiment:sample", "tiny"]
        and wandb_summary["config"]["records"] == 5
    )
    assert wandb_summary["summary"]["videos/usable"] == 3
    assert wandb_summary["summary"]["video_stats"]["_type"] == "table-file"
    logged = wandb_table(record, "video_stats")
    assert len(logged["data"]) == 5 and "stats/face_jitter_px" in logged["columns"]


def test_disabled_tracking_writes_our_record_and_nothing_of_wandb(
    pipeline, track_records, tmp_path
):
    os.environ[ENV_PREFIX + "MODE"] = "disabled"
    out = tmp_path / "results" / "track_summary.tsv"
    assert summarize(track_records, out) == 0
    run_dir = tmp_path / "results" / "runs" / "summarize_track"
    record = json.loads((run_dir / "run.json").read_text())
    assert (record["mode"], record["wandb"], record["group"]) == ("disabled", None, pipeline.group)
    assert (run_dir / "video_stats.tsv").is_file() and record["summary"]["videos/total"] == 5
    assert not [p for p in tmp_path.rglob("*") if "wandb" in p.name.lower()]


def test_stage_aggregates_of_nested_statistics():
    records = [
        StageRecord(
            "a",
            "parse",
            True,
            stats={"frames": 10, "backend": "farl", "label_coverage": {"skin": 0.5, "hair": 0.1}},
        ),
        StageRecord(
            "b",
            "parse",
            True,
            stats={"frames": 30, "backend": "farl", "label_coverage": {"skin": 0.3, "hair": 0.3}},
        ),
        StageRecord("c", "parse", False, "corrupt: truncated file"),
    ]
    table = summary_table(records)
    assert list(table.columns[6:]) == [
        "stats/frames",
        "stats/backend",
        "stats/label_coverage/skin",
        "stats/label_coverage/hair",
    ]
    aggregates = stage_aggregates(table)
    assert aggregates["stats/label_coverage/skin/mean"] == pytest.approx(0.4)
    assert (aggregates["stats/frames/mean"], aggregates["stats/frames/total"]) == (20.0, 40.0)
    assert aggregates["unusable/corrupt"] == 1 and "stats/backend/mean" not in aggregates


def test_summary_verb_says_what_it_does(capsys):
    with pytest.raises(SystemExit):
        cli.main(["--help"])
    (line,) = [line for line in capsys.readouterr().out.splitlines() if " summary " in line]
    assert "Summarise a stage's video records" in line


def test_feature_extraction_is_a_tracked_run(pipeline, carphone, tmp_path, capsys):
    os.environ[TAGS_ENV] = "sample"  # the model size tag comes from the weights themselves
    torch.manual_seed(0)
    model = Marlin(resolve_size({"name": "tiny", "n_frames": 16}), with_decoder=False)
    weights = model.save(tmp_path / "tiny16.encoder.pt")
    (tmp_path / "broken.mp4").write_bytes(b"\x00" * 100)
    out = tmp_path / "features" / "tiny"
    argv = [
        str(carphone),
        str(tmp_path / "broken.mp4"),
        "--weights",
        str(weights),
        "--out",
        str(out),
    ]
    assert cli.main(["extract", *argv]) == 1  # the broken video is skipped
    # progress on stderr, as whole lines where stderr is no terminal: the start and the end
    progress = [line for line in capsys.readouterr().err.splitlines() if line.startswith("extract")]
    assert progress[0].startswith("extract:   0%") and "0/2 [" in progress[0]
    assert progress[-1].startswith("extract: 100%") and "2/2 [" in progress[-1]

    record = json.loads((out / "run.json").read_text())
    assert (record["group"], record["job_type"], record["tags"]) == (
        pipeline.group,
        "extract_features",
        ["sample", "tiny"],
    )
    assert record["config"]["videos"] == 2 and record["config"]["weights"] == str(weights)
    windows = len(plan_windows(120, 16, 2))  # carphone: 120 frames
    summary = record["summary"]
    assert (summary["videos"], summary["videos_failed"], summary["windows"]) == (1, 1, windows)
    assert summary["clips_per_s"] > 0
    assert json.loads((out / "metrics.jsonl").read_text())["video/windows"] == windows
    wandb_summary, header = wandb_run(record)
    assert (header["run_group"], header["job_type"]) == (pipeline.group, "extract_features")
    assert wandb_summary["summary"]["windows"] == windows


def test_html_report_is_a_tracked_run_with_the_results_table(pipeline, tmp_path):
    plan = write_experiment(tmp_path)
    report = tmp_path / EXP / "report"
    argv = ["report", str(plan), "--out", str(report / "index.html"), "--root", str(tmp_path)]
    assert cli.main(argv) == 0

    record = json.loads((report / "run.json").read_text())
    assert (record["group"], record["job_type"], record["tags"]) == (
        pipeline.group,
        "report_html",
        ["experiment:sample", "tiny"],
    )
    assert record["config"]["plan"] == str(plan) and record["tables"] == ["results"]
    rows = pd.read_csv(report / "results.tsv", sep="\t")
    assert record["summary"]["results_rows"] == len(rows) > 0
    assert (record["summary"]["encoders"], record["summary"]["datasets"]) == (2, 1)
    assert len(wandb_table(record, "results")["data"]) == len(rows)


def test_wandb_report_has_a_preprocessing_section(pipeline, track_records, tmp_path):
    os.environ[ENV_PREFIX + "MODE"] = "disabled"
    assert summarize(track_records, tmp_path / "track_summary.tsv") == 0
    record = json.loads((tmp_path / "runs" / "summarize_track" / "run.json").read_text())
    report = build_report(ReportInputs(pipeline.group, [record]), entity="")
    headings = [block.text for block in report.blocks if type(block).__name__ == "H1"]
    grid = report.blocks[[type(b).__name__ for b in report.blocks].index("PanelGrid")]
    assert headings.index("Preprocessing") < headings.index("Skipped videos")
    titles = [getattr(p, "title", None) or p.table_name for p in grid.panels]
    assert titles[:3] == ["videos/usable", "videos/unusable", "stats/face_fraction/mean"]
    assert {"unusable/no_face", "stats/crop_jitter_px/p90", "video_stats"} <= set(titles)
    assert "summarize_track" in grid.runsets[0].filters


def test_a_long_mixed_table_is_kept_whole_by_us_and_cut_for_wandb(pipeline, tmp_path, monkeypatch):
    import wandb

    monkeypatch.setattr(wandb.Table, "MAX_ROWS", 3)  # W&B's limit is 10,000 rows
    table = pd.DataFrame({"id": list("abcde"), "value": [1, "two", 3.0, None, 5]})
    with track_run("summarize_track", {}, out_dir=tmp_path / "run") as tracked:
        tracked.log_table("video_stats", table)
    record = json.loads((tmp_path / "run" / "run.json").read_text())
    assert len(pd.read_csv(tmp_path / "run" / "video_stats.tsv", sep="\t")) == 5
    assert [row[0] for row in wandb_table(record, "video_stats")["data"]] == ["a", "b", "c"]
