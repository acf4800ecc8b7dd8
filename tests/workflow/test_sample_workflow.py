"""The sample workflow end to end, a rerun that has nothing to do, and bad videos that drop out."""

from __future__ import annotations

import json

import pandas as pd
import pytest

from tests.workflow.conftest import copy_workflow, snakemake

SMALL_SAMPLE = ["--config", "dataset={sample_videos: 6}"]


@pytest.fixture(scope="module")
def sample_run(repo_root, tmp_path_factory):
    workdir = copy_workflow(repo_root, tmp_path_factory.mktemp("sample") / "project")
    result = snakemake(workdir, "--cores", "2", *SMALL_SAMPLE)
    assert result.returncode == 0, result.stderr[-5000:]
    return workdir


def test_every_sample_video_is_downloaded(sample_run):
    summary = pd.read_csv(sample_run / "results/sample/download_summary.tsv", sep="\t")
    assert len(summary) == 6 and summary["ok"].all()
    record = json.loads((sample_run / "data/raw/sample/sample00.status.json").read_text())
    assert record["stats"]["frames"] == 40 and record["stats"]["width"] == 256


def test_a_second_run_has_nothing_to_do(sample_run):
    result = snakemake(sample_run, "-n", "--cores", "2", *SMALL_SAMPLE)
    assert result.returncode == 0
    assert "Nothing to be done" in result.stdout + result.stderr


def test_bad_videos_drop_out_with_reasons(workflow_copy, carphone):
    data = workflow_copy / "mine"
    data.mkdir()
    (data / "good.mp4").write_bytes(carphone.read_bytes())
    (data / "corrupt.mp4").write_bytes(carphone.read_bytes()[:3000])
    (data / "page.mp4").write_text("<html>not found</html>")
    rows = ["good\tgood.mp4\ttrain", "corrupt\tcorrupt.mp4\ttrain", "page\tpage.mp4\tval"]
    rows.append("absent\tabsent.mp4\ttest")
    (data / "manifest.tsv").write_text("id\tsource\tsplit\n" + "\n".join(rows) + "\n")
    config = "dataset={name: mine, builder: manifest, manifest: mine/manifest.tsv}"
    result = snakemake(workflow_copy, "--cores", "2", "--config", config)
    assert result.returncode == 0, result.stderr[-5000:]
    summary = pd.read_csv(workflow_copy / "results/mine/download_summary.tsv", sep="\t")
    reasons = dict(zip(summary["id"], summary["reason"].fillna(""), strict=True))
    assert summary.set_index("id")["ok"].to_dict() == {
        "absent": False,
        "corrupt": False,
        "page": False,
        "good": True,
    }
    assert "absent.mp4" in reasons["absent"]
    assert "corrupt.mp4" in reasons["corrupt"] and "page.mp4" in reasons["page"]
