"""Run the real workflow in a temporary copy of the project's workflow files."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

WORKFLOW_FILES = ("Snakefile", "workflow", "config", "environment.yml")
BIN = Path(sys.executable).parent


def copy_workflow(repo_root: Path, dest: Path) -> Path:
    dest.mkdir(parents=True, exist_ok=True)
    for name in WORKFLOW_FILES:
        source = repo_root / name
        if source.is_dir():
            shutil.copytree(source, dest / name, symlinks=True)
        else:
            shutil.copy2(source, dest / name)
    return dest


def snakemake(workdir: Path, *args: str, timeout: int = 900) -> subprocess.CompletedProcess:
    """``snakemake ARGS`` in ``workdir`` with this environment's commands on PATH."""
    env = dict(os.environ, PATH=f"{BIN}{os.pathsep}{os.environ['PATH']}")
    command = ["timeout", "-k", "10", str(timeout), str(BIN / "snakemake"), *args]
    return subprocess.run(command, cwd=workdir, env=env, capture_output=True, text=True)


@pytest.fixture
def workflow_copy(repo_root, tmp_path) -> Path:
    return copy_workflow(repo_root, tmp_path / "project")
