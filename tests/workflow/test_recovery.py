"""The README's recovery commands, followed word for word on the sample experiment: a session
stopped with SIGTERM or Ctrl-C (Snakemake and its jobs, as scancel or a shutdown stops them)
resumes with ``snakemake`` again; one killed with SIGKILL (the OOM killer, a lost node) needs
``snakemake --unlock`` first. Either way the pretraining job in progress continues from its
checkpoint, and the finished encoder it extends is kept."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import time
from pathlib import Path

from marlinflow.layout import ExperimentLayout
from tests.workflow.conftest import BIN, SAMPLE_ARGS, snakemake

EXP = ExperimentLayout("sample")
LONGER = "config/longer.yaml"  # the sample's pretraining, twice as long: the run is extended
ARGS = ["--cores", "2", *SAMPLE_ARGS, LONGER]


def start(project: Path) -> subprocess.Popen:
    env = dict(os.environ, PATH=f"{BIN}{os.pathsep}{os.environ['PATH']}")
    env.pop("WANDB_SERVICE", None)
    command = [str(BIN / "snakemake"), EXP.encoder("tiny"), *ARGS]
    return subprocess.Popen(
        command,
        cwd=project,
        env=env,
        start_new_session=True,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )


def wait_for_the_lock(project: Path, timeout: float = 120) -> None:
    """Until the session started has locked the project (a slow start on a busy machine)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if any((project / ".snakemake/locks").glob("*.lock")):
            return
        time.sleep(0.2)
    raise AssertionError(f"no Snakemake lock in {project} within {timeout} s")


def wait_until_still(path: Path, quiet: float = 5.0, timeout: float = 120) -> None:
    """Until ``path`` has not changed for ``quiet`` seconds: a stopped session's pretraining
    process may still be saving its checkpoint after Snakemake itself has exited."""
    deadline, last, since = time.monotonic() + timeout, None, time.monotonic()
    while time.monotonic() < deadline:
        stamp = path.stat().st_mtime_ns if path.exists() else None
        if stamp != last:
            last, since = stamp, time.monotonic()
        elif time.monotonic() - since >= quiet:
            return
        time.sleep(0.2)


def wait_for_a_new_checkpoint(run_dir: Path, after_ns: int, timeout: float = 300) -> None:
    """Until the pretraining job in progress has saved a checkpoint after ``after_ns``."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        checkpoint = run_dir / "last.ckpt"
        if checkpoint.is_file() and checkpoint.stat().st_mtime_ns > after_ns:
            return
        time.sleep(0.2)
    raise AssertionError(f"no checkpoint in {run_dir} within {timeout} s")


def test_a_stopped_or_killed_workflow_resumes_with_the_readme_commands(sample_project, tmp_path):
    project = tmp_path / "project"
    shutil.copytree(sample_project, project, symlinks=True)
    epochs = json.loads((project / EXP.encoder_dir("tiny") / "metrics.json").read_text())["epochs"]
    (project / LONGER).write_text(f"pretrain: {{epochs: {2 * epochs}}}\n")
    run_dir = project / EXP.encoder_dir("tiny")
    finished = (run_dir / "encoder.pt").read_bytes()

    # SIGTERM to the session: the pretraining job stops, Snakemake releases the folder.
    job = start(project)
    wait_for_a_new_checkpoint(run_dir, time.time_ns())
    os.killpg(job.pid, signal.SIGTERM)
    assert job.wait(timeout=120) != 0
    assert not (run_dir / "encoder.pt").exists()  # nothing that looks finished

    # SIGKILL of the whole session, as the OOM killer or a lost node does: once it holds the lock
    # and its own pretraining job has saved a checkpoint (not the stopped session's last one)
    wait_until_still(run_dir / "last.ckpt")
    job = start(project)
    wait_for_the_lock(project)
    wait_for_a_new_checkpoint(run_dir, time.time_ns())
    os.killpg(job.pid, signal.SIGKILL)
    job.wait(timeout=60)
    locked = snakemake(project, *ARGS)
    assert locked.returncode != 0 and "--unlock" in locked.stderr + locked.stdout
    assert snakemake(project, "--unlock", *ARGS).returncode == 0
    done = snakemake(project, EXP.encoder("tiny"), *ARGS)
    assert done.returncode == 0, done.stderr[-3000:]

    log = (project / EXP.logs / "pretrain" / "tiny.log").read_text()
    assert "resuming from" in log  # continued, not started again
    summary = json.loads((run_dir / "metrics.json").read_text())
    assert summary["epochs"] == 2 * epochs
    steps = [
        int(row["step"]) for row in read_csv(run_dir / "metrics.csv") if "train/loss_rec" in row
    ]
    assert steps == list(range(len(steps)))  # every iteration once, in order
    (aside,) = (run_dir / "superseded").iterdir()  # the shorter run's result, as it was
    assert (aside / "final" / "encoder.pt").read_bytes() == finished


def read_csv(path: Path) -> list[dict]:
    import csv

    with open(path, newline="") as f:
        return [{k: v for k, v in row.items() if v} for row in csv.DictReader(f)]
