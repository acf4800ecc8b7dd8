"""The jobs ``marlinflow plan`` counts are those ``snakemake -n`` plans, rule by rule, and its
SLURM submissions those the SLURM profile's groups make."""

from __future__ import annotations

import re
from pathlib import Path

import pandas as pd
import yaml

from marlinflow.config import load_config
from marlinflow.experiment.cost import estimate
from marlinflow.experiment.spec import experiment_from_config
from tests.workflow.conftest import snakemake

SAMPLE = "config/experiments/sample.yaml"
PROFILE = "workflow/profiles/slurm"


def job_stats(out: str) -> dict[str, int]:
    """rule -> jobs, from the job stats table of a dry run."""
    table = out[out.index("Job stats:") : out.index("\ntotal ")]
    return {rule: int(n) for rule, n in re.findall(r"^(\w+)\s+(\d+)$", table, re.MULTILINE)}


def test_the_plans_jobs_are_those_of_a_dry_run(workflow_copy, monkeypatch):
    # the sample experiment with 20 videos of one's own in its corpus, and 20 more in shards
    # of 8: 28 connected parts of per-video steps (each sample data set is one, its maker making
    # all its videos; each video of one's own; each contact sheet of the sharded data set, its
    # other steps being shard jobs), 8 a job
    rows = [
        {"id": f"v{i:02d}", "source": f"videos/v{i:02d}.mp4", "split": "train"} for i in range(20)
    ]
    pd.DataFrame(rows).to_csv(workflow_copy / "mine.tsv", sep="\t", index=False)
    mine = {"builder": "manifest", "manifest": str(workflow_copy / "mine.tsv")}
    sharded = {**mine, "shard_size": 8}
    corpus = [
        {"dataset": "sample_corpus", "splits": ["train", "val", "test"]},
        {"dataset": "mine", "splits": ["train"]},
        {"dataset": "sharded", "splits": ["train"]},
    ]
    # lip sync on the sample (its audio per video) and on the sharded data set (in shards)
    suite = [
        {"dataset": "sample", "protocols": ["probe", "finetune", "lipsync"]},
        {"dataset": "sharded", "protocols": ["lipsync"]},
    ]
    extra = {
        "experiment": {
            "datasets": {"mine": mine, "sharded": sharded},
            "corpus": corpus,
            "suite": suite,
        }
    }
    (workflow_copy / "config/mine.yaml").write_text(yaml.safe_dump(extra))
    files = [SAMPLE, "config/mine.yaml"]
    result = snakemake(workflow_copy, "-n", "--profile", PROFILE, "--configfile", *files)
    assert result.returncode == 0, result.stderr[-3000:]

    monkeypatch.chdir(workflow_copy)
    config = load_config("config/config.yaml", *files)
    jobs = estimate(experiment_from_config(config), config, Path("Snakefile"), Path(PROFILE)).jobs
    assert jobs.rules == job_stats(result.stdout)
    group_jobs = result.stdout.count("Group job preprocess")
    assert jobs.groups == {"preprocess": group_jobs} and group_jobs == 4
    assert jobs.rules["track_shard"] == jobs.rules["write_shard_rows"] == 3
    assert jobs.rules["audio_shard"] == 3 and jobs.rules["audio_video"] == 32
    assert jobs.rules["list_sync_videos"] == 2 and jobs.rules["lipsync_eval"] == 4
    alone = re.findall(r"^rule (\w+):$", result.stdout, re.MULTILINE)  # not in a group
    assert jobs.submitted == group_jobs + sum(rule not in jobs.local for rule in alone)
    assert jobs.on_login_node == sum(rule in jobs.local for rule in alone)
