"""DVC round trip of the sample workflow with a real local-folder remote: run, commit, push; then
a fresh clone pulls the same bytes and Snakemake has nothing to redo."""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

from tests.workflow.conftest import BIN, copy_workflow, snakemake

pytestmark = pytest.mark.slow

SMALL_SAMPLE = ["--config", "dataset={sample_videos: 6}"]
TARGETS = ["data/manifests/sample.tsv", "results/sample/download_summary.tsv"]
DVC_FILES = ("dvc.yaml", ".dvcignore", ".gitignore")  # beside the workflow files
EXPECTED_OUTS = {"data/sample", "data/manifests/sample.tsv", "data/raw/sample",
                 "results/sample/download_summary.tsv"}  # fmt: skip


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


def make_project(repo_root: Path, dest: Path) -> Path:
    """The workflow, the DVC files and the sources the DVC stages name as dependencies."""
    copy_workflow(repo_root, dest)
    for name in DVC_FILES:
        shutil.copy2(repo_root / name, dest / name)
    shutil.copytree(repo_root / "src", dest / "src", ignore=shutil.ignore_patterns("__pycache__"))
    return dest


def digests(root: Path, outs: list[str]) -> dict[str, str]:
    files = []
    for out in outs:
        path = root / out
        files += sorted(p for p in path.rglob("*") if p.is_file()) if path.is_dir() else [path]
    return {str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest() for p in files}


def locked_stages(project: Path) -> dict[str, dict]:
    return yaml.safe_load((project / "dvc.lock").read_text())["stages"]


def lock_outs(project: Path) -> list[str]:
    stages = locked_stages(project).values()
    return sorted({out["path"] for stage in stages for out in stage.get("outs", [])})


def test_clean_clone_pulls_results_and_has_nothing_to_redo(repo_root, tmp_path):
    env = tool_env(tmp_path)
    project = make_project(repo_root, tmp_path / "project")
    git, dvc = ["git"], [str(BIN / "dvc")]
    run([*git, "init", "-q"], project, env)
    run([*dvc, "init", "-q"], project, env)
    run([*dvc, "remote", "add", "-d", "store", str(tmp_path / "remote")], project, env)

    result = snakemake(project, "--cores", "2", *TARGETS, *SMALL_SAMPLE, timeout=300)
    assert result.returncode == 0, result.stderr[-5000:]
    run([*dvc, "commit", "--force"], project, env)
    run([*dvc, "push"], project, env)
    run([*git, "add", "-A"], project, env)
    run([*git, "commit", "-q", "-m", "sample results"], project, env)
    outs = lock_outs(project)
    assert set(outs) == EXPECTED_OUTS
    assert not run([*git, "ls-files", "data", "results"], project, env).strip()  # data: DVC's only

    clone = tmp_path / "clone"
    run([*git, "clone", "-q", str(project), str(clone)], tmp_path, env)
    assert not (clone / "data").exists()
    run([*dvc, "pull"], clone, env)
    run([*dvc, "status", "--quiet"], clone, env)  # data match this commit's code and config
    # the targets DVC versions (the rest of the pipeline is not part of this round trip)
    touched = snakemake(clone, "--touch", "--cores", "1", *TARGETS, *SMALL_SAMPLE, timeout=120)
    assert touched.returncode == 0, touched.stderr[-5000:]
    dry = snakemake(clone, "-n", "--cores", "1", *TARGETS, *SMALL_SAMPLE, timeout=120)
    assert dry.returncode == 0 and "Nothing to be done" in dry.stdout + dry.stderr, dry.stderr
    for name, stage in locked_stages(clone).items():  # each DVC stage's own command, too
        command = stage["cmd"].split()
        assert command[0] == "snakemake", name
        dry = snakemake(clone, *command[1:], "-n", *SMALL_SAMPLE, timeout=120)
        assert "Nothing to be done" in dry.stdout + dry.stderr, f"{name}: {dry.stderr[-3000:]}"

    original = digests(project, outs)
    assert len(original) == 7 + 1 + 12 + 1  # sample videos + manifest, manifest, raw, summary
    assert digests(clone, outs) == original
