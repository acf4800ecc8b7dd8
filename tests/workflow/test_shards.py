"""Large data sets in shards (dataset.shard_size): a hundred thousand videos plan as a few hundred
jobs, and the sample runs its per-video steps a shard at a time, its pretraining given the corpus
videos alone."""

from __future__ import annotations

import json
import re

import pandas as pd

from tests.workflow.conftest import snakemake
from tests.workflow.test_plan_jobs import job_stats

SHARDED_SAMPLE = ["dataset={sample_videos: 6, shard_size: 4}", "tracking={mode: disabled}"]


def test_a_hundred_thousand_videos_plan_as_shards(workflow_copy):
    rows = 100_000
    manifest = workflow_copy / "big.tsv"
    manifest.write_text(
        "id\tsource\tsplit\n"
        + "".join(f"v{i:06d}\tvideos/v{i:06d}.mp4\ttrain\n" for i in range(rows))
    )
    config = [
        f"dataset={{name: big, builder: manifest, manifest: {manifest}}}",
        "downstream={tasks: []}",
        "tracking={mode: disabled}",
    ]
    result = snakemake(workflow_copy, "-n", "--cores", "1", "--config", *config, timeout=300)
    assert result.returncode == 0, result.stderr[-3000:]
    stats = job_stats(result.stdout)
    shards = rows // 500  # auto: shards of 500 above 2,000 videos
    for rule in ("write_shard_rows", "download_shard", "track_shard", "parse_shard"):
        assert stats[rule] == shards, rule
    assert not {"download_video", "track_video", "parse_video"} & set(stats)
    assert sum(stats.values()) < 1000


def test_the_sample_runs_in_shards(workflow_copy):
    settings = "results/experiments/sample/encoders/tiny/settings.json"
    targets = [
        "results/datasets/sample/parse_summary.tsv",
        "results/datasets/sample/usable_faces.txt",
        "results/datasets/sample/contact_sheets/sample00.png",
        "data/manifests/sample.tsv",
        settings,
    ]
    run = snakemake(workflow_copy, "--cores", "2", *targets, "--config", *SHARDED_SAMPLE)
    assert run.returncode == 0, run.stderr[-3000:]
    assert sorted(set(re.findall(r"rule (\w+_shard):", run.stderr))) == [
        "download_shard",
        "parse_shard",
        "track_shard",
    ]
    shard_lists = sorted((workflow_copy / "data/interim/sample/parsing/shards").glob("*.txt"))
    assert [p.name for p in shard_lists] == ["s00000.txt", "s00001.txt"]
    summary = pd.read_csv(workflow_copy / targets[0], sep="\t")
    assert len(summary) == 6 and summary["ok"].all()
    assert len((workflow_copy / targets[1]).read_text().split()) == 6
    assert (workflow_copy / targets[2]).stat().st_size > 0

    # pretraining is given the corpus (the train split), not every video of the shards
    manifest = pd.read_csv(workflow_copy / "data/manifests/sample.tsv", sep="\t")
    train = sorted(manifest.loc[manifest["split"] == "train", "id"])
    index = json.loads((workflow_copy / settings).read_text())["index"]
    assert sorted(p.split("/")[-1].removesuffix(".status.json") for p in index) == train
    assert 0 < len(train) < 6

    again = snakemake(workflow_copy, "-n", "--cores", "2", *targets, "--config", *SHARDED_SAMPLE)
    assert "Nothing to be done" in again.stdout + again.stderr
