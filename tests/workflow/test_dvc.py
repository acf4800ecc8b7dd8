"""DVC round trip of the whole sample pipeline with a real local-folder remote: the finished run
is committed and pushed; a fresh clone pulls the same bytes and Snakemake has nothing to redo."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
from pathlib import Path

import pandas as pd
import pytest
import yaml

from tests.workflow.conftest import BIN, SMALL_SAMPLE, copy_workflow, snakemake

pytestmark = pytest.mark.slow

DVC_FILES = ("dvc.yaml", ".dvcignore", ".gitignore")  # beside the workflow files
# The sample made small, as a config file: DVC stage commands carry --configfile, not --config.
SMALL_CONFIG = "config/small.yaml"
RESULTS = "results/sample"
EXPECTED_OUTS = {
    "data/sample", "data/manifests/sample.tsv", "data/raw/sample",
    f"{RESULTS}/download_summary.tsv", "data/interim/sample/faces", f"{RESULTS}/track_summary.tsv",
    "data/interim/sample/parsing", f"{RESULTS}/parse_summary.tsv", f"{RESULTS}/tasks",
    f"{RESULTS}/pretrain", f"{RESULTS}/usable_faces.txt", f"{RESULTS}/baselines",
    f"{RESULTS}/features", f"{RESULTS}/downstream", f"{RESULTS}/contact_sheets",
    f"{RESULTS}/report", f"{RESULTS}/wandb_report.json", f"{RESULTS}/metrics.json",
}  # fmt: skip
# W&B run records of the stage summaries: kept like logs, not versioned.
SIDE_RECORDS = f"{RESULTS}/runs"


def run(command: list[str], cwd: Path, env: dict[str, str], timeout: int = 120) -> str:
    """A command under `timeout -k`; fails the test with its output if it fails."""
    done = subprocess.run(["timeout", "-k", "10", str(timeout), *command], cwd=cwd, env=env,
                          capture_output=True, text=True)  # fmt: skip
    assert done.returncode == 0, f"{command}: {done.stdout[-3000:]}{done.stderr[-3000:]}"
    return done.stdout + done.stderr


def tool_env(home: Path) -> dict[str, str]:
    """This environment's commands first; git identity and DVC state kept inside the test."""
    return dict(os.environ, PATH=f"{BIN}{os.pathsep}{os.environ['PATH']}", HOME=str(home),
                DVC_NO_ANALYTICS="1", DVC_SITE_CACHE_DIR=str(home / "dvc-site"),
                GIT_AUTHOR_NAME="test", GIT_AUTHOR_EMAIL="test@example.org",
                GIT_COMMITTER_NAME="test", GIT_COMMITTER_EMAIL="test@example.org")  # fmt: skip


def write_small_config(project: Path) -> None:
    """SMALL_SAMPLE's `key=value` overrides as a config file, and dvc.yaml's sample entry on it."""
    overrides = dict(item.split("=", 1) for item in SMALL_SAMPLE)
    small = {key: yaml.safe_load(value) for key, value in overrides.items()}
    (project / SMALL_CONFIG).write_text(yaml.safe_dump(small))
    spec = yaml.safe_load((project / "dvc.yaml").read_text())
    spec["vars"][0]["datasets"]["sample"]["config"] = SMALL_CONFIG
    (project / "dvc.yaml").write_text(yaml.safe_dump(spec, sort_keys=False))


def make_project(repo_root: Path, finished: Path, dest: Path) -> Path:
    """The workflow, the DVC files, the sources the stages depend on, and a finished run's data."""
    copy_workflow(repo_root, dest)
    for name in DVC_FILES:
        shutil.copy2(repo_root / name, dest / name)
    shutil.copytree(repo_root / "src", dest / "src", ignore=shutil.ignore_patterns("__pycache__"))
    for folder in ("data", "results"):
        shutil.copytree(finished / folder, dest / folder)
    write_small_config(dest)
    return dest


def digests(root: Path) -> dict[str, str]:
    """Every file the pipeline wrote under data/ and results/ but its side records, by SHA-256."""
    files = [p for folder in ("data", "results") for p in (root / folder).rglob("*")]
    kept = sorted(p for p in files if p.is_file() and (root / SIDE_RECORDS) not in p.parents)
    return {str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest() for p in kept}


def locked_stages(project: Path) -> dict[str, dict]:
    return yaml.safe_load((project / "dvc.lock").read_text())["stages"]


def lock_outs(project: Path) -> set[str]:
    stages = locked_stages(project).values()
    return {out["path"] for stage in stages for out in stage.get("outs", [])}


def metrics(project: Path, stage: str) -> dict[str, dict]:
    """Every metrics.json a stage wrote (one per pretraining run, or per downstream run)."""
    found = sorted((project / RESULTS / stage).rglob("metrics.json"))
    return {str(path.relative_to(project)): json.loads(path.read_text()) for path in found}


def dvc_metrics(project: Path, env: dict[str, str]) -> dict:
    """`dvc metrics show --json`: the one metrics file of the sample's report stage."""
    done = subprocess.run([str(BIN / "dvc"), "metrics", "show", "--json"], cwd=project, env=env,
                          capture_output=True, text=True, timeout=120)  # fmt: skip
    assert done.returncode == 0, done.stderr
    shown = json.loads(done.stdout)
    (workspace,) = shown.values()
    return workspace["data"][f"{RESULTS}/metrics.json"]["data"]


def results_table(project: Path) -> pd.DataFrame:
    return pd.read_csv(project / RESULTS / "report/results.tsv", sep="\t")


def assert_nothing_to_do(project: Path, *args: str) -> None:
    dry = snakemake(project, "-n", *args, timeout=120)
    assert dry.returncode == 0 and "Nothing to be done" in dry.stdout + dry.stderr, (
        f"{args}: {dry.stdout[-3000:]}{dry.stderr[-3000:]}"
    )


def commit_and_push(project: Path, remote: Path, env: dict[str, str]) -> None:
    """Record the finished run in dvc.lock without running a stage, push the data, commit."""
    git, dvc = ["git"], [str(BIN / "dvc")]
    run([*git, "init", "-q"], project, env)
    run([*dvc, "init", "-q"], project, env)
    run([*dvc, "remote", "add", "-d", "store", str(remote)], project, env)
    run([*dvc, "commit", "--force"], project, env)
    run([*dvc, "push"], project, env)
    run([*git, "add", "-A"], project, env)
    run([*git, "commit", "-q", "-m", "sample results"], project, env)


def test_clean_clone_pulls_the_whole_pipeline_and_has_nothing_to_redo(
    repo_root, sample_project, tmp_path
):
    env = tool_env(tmp_path)
    project = make_project(repo_root, sample_project, tmp_path / "project")
    commit_and_push(project, tmp_path / "remote", env)
    assert lock_outs(project) == EXPECTED_OUTS  # every stage, each out a file the run made
    assert not run(["git", "ls-files", "data", "results"], project, env).strip()  # DVC's only
    made = digests(project)

    clone = tmp_path / "clone"
    run(["git", "clone", "-q", str(project), str(clone)], tmp_path, env)
    assert not (clone / "data").exists() and not (clone / "results").exists()
    run([str(BIN / "dvc"), "pull"], clone, env)
    run([str(BIN / "dvc"), "status", "--quiet"], clone, env)  # data match code and config
    touched = snakemake(clone, "--touch", "--cores", "1", "--configfile", SMALL_CONFIG)
    assert touched.returncode == 0, touched.stderr[-5000:]
    assert_nothing_to_do(clone, "--cores", "1", "--configfile", SMALL_CONFIG)  # the default target
    for name, stage in locked_stages(clone).items():  # each DVC stage's own command, too
        command = stage["cmd"].split()
        assert command[0] == "snakemake" and SMALL_CONFIG in command, name
        assert_nothing_to_do(clone, *command[1:])

    assert digests(clone) == made  # every file of the run pulled, byte for byte
    # the numbers: of both pretraining runs and of tasks x protocols x encoders downstream
    for stage, at_least in (("pretrain", 2), ("downstream", 3 * 2 * 3)):
        assert len(metrics(project, stage)) >= at_least, stage
        assert metrics(clone, stage) == metrics(project, stage), stage
    table = results_table(project)
    pd.testing.assert_frame_equal(results_table(clone), table)
    # DVC's own view of the numbers: the report stage's metrics file, the same in the clone
    shown = dvc_metrics(project, env)
    assert shown == dvc_metrics(clone, env)
    downstream = shown["downstream"]["expression"]["probe-k2"]["tiny"]
    assert set(downstream) == {"war", "uar"} and shown["pretrain"]["tiny"]["iterations"] > 0
    assert set(table["encoder"]) == {"tiny", "videomae-tiny", "random-tiny"}


def test_a_pretraining_set_makes_the_outputs_of_its_task_and_downstream_stages(repo_root, tmp_path):
    """Without downstream tasks the stages `tasks` and `downstream` still leave their folders
    (a note in each), so `dvc repro` of a pretraining set such as YouTube Faces can finish."""
    project = copy_workflow(repo_root, tmp_path / "project")
    (project / "config/pretraining.yaml").write_text("downstream: {tasks: []}\n")
    stages = yaml.safe_load((repo_root / "dvc.yaml").read_text())["stages"]
    for stage in ("tasks", "downstream"):
        command = stages[stage]["do"]["cmd"].replace("${item.config}", "config/pretraining.yaml")
        (out,) = stages[stage]["do"]["outs"][0]
        result = snakemake(project, *command.split()[1:], timeout=300)
        assert result.returncode == 0, result.stderr[-3000:]
        made = project / out.replace("${key}", "sample")
        assert (made / "NO_TASKS.txt").read_text().startswith("This data set has no downstream")
