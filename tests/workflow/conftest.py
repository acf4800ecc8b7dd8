"""Run the real workflow in a temporary copy of the project's workflow files."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

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
    env.pop("WANDB_SERVICE", None)  # the jobs start their own W&B service, as they would outside
    command = ["timeout", "-k", "10", str(timeout), str(BIN / "snakemake"), *args]
    return subprocess.run(command, cwd=workdir, env=env, capture_output=True, text=True)


@pytest.fixture
def workflow_copy(repo_root, tmp_path) -> Path:
    return copy_workflow(repo_root, tmp_path / "project")


# The sample experiment (config/experiments/sample.yaml) made smaller and shorter, with an
# external encoder beside ours: the tests need every kind of output, not good numbers.
SMALL_SAMPLE = {
    "experiment": {
        "datasets": {"sample": {"sample_videos": 8}, "sample_corpus": {"sample_videos": 6}},
        "encoders": {"official-tiny": {"kind": "external", "weights": "external/official-tiny.pt"}},
        # two of the sample's three tasks: a multi-class and a binary one (each job costs a
        # process start and a W&B run, and the test suite pays for every one)
        # and lip sync (config/experiments/sample.yaml's settings)
        "suite": [
            {
                "dataset": "sample",
                "tasks": ["expression", "fake"],
                "protocols": ["probe", "finetune", "lipsync"],
            }
        ],
    },
    "pretrain": {"epochs": 4},
    "downstream": {
        "seeds": [0],
        "probe": {"max_epochs": 50, "bootstrap": 20},
        "finetune": {"max_epochs": 2, "bootstrap": 20},
    },
}
SMALL_CONFIG = "config/small.yaml"
SAMPLE_ARGS = ["--configfile", "config/experiments/sample.yaml", SMALL_CONFIG]


def write_small_sample(project: Path) -> None:
    """SMALL_SAMPLE as a config file, and the external encoder it names: a foreign file in the
    released layout (a plain state dict, no geometry recorded), as the official weights are."""
    import torch

    from marlinflow.models import MarlinModel, get_size
    from marlinflow.weights.checkpoints import export_official

    (project / SMALL_CONFIG).write_text(yaml.safe_dump(SMALL_SAMPLE))
    torch.manual_seed(7)
    model = MarlinModel(get_size("tiny"), with_decoder=False)
    export_official(model, project / "external/official-tiny.pt", full=False)


@pytest.fixture(scope="session")
def sample_project(repo_root, tmp_path_factory) -> Path:
    """The sample experiment run once, small, shared by the workflow tests."""
    project = copy_workflow(repo_root, tmp_path_factory.mktemp("sample") / "project")
    write_small_sample(project)
    result = snakemake(project, "--cores", "2", *SAMPLE_ARGS)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-5000:]
    return project
