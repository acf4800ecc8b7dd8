"""The SLURM profile without a cluster: it resolves from the checkout's root, layers under a
site profile, groups the per-video steps and gives every job our default resources.

Dry runs, and a run refused for want of a controller: these run wherever Snakemake does (no
SLURM cluster needed).
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

BIN = Path(sys.executable).parent


def dry_run(workdir: Path, *profiles: str) -> str:
    command = [str(BIN / "snakemake"), "--dry-run", "--config", "dataset={sample_videos: 6}"]
    for profile in profiles:
        command += ["--profile", profile]
    env = {**os.environ, "PATH": f"{BIN}{os.pathsep}{os.environ['PATH']}"}
    result = subprocess.run(
        ["timeout", "-k", "5", "120", *command],
        cwd=workdir,
        env=env,
        capture_output=True,
        text=True,
    )
    output = result.stdout + result.stderr
    assert result.returncode == 0, output[-3000:]
    return output


def test_profile_resolves_from_the_root_and_groups_per_video_steps(
    copy_workflow, make_site_profile, tmp_path
):
    site = make_site_profile(tmp_path / "mysite", "gpu-a100")
    output = dry_run(copy_workflow(tmp_path), "slurm", str(site))
    assert f"Using profiles slurm and {site}" in output
    assert "Group job preprocess" in output
    requests = [line for line in output.splitlines() if line.strip().startswith("resources:")]
    assert len(requests) >= 8  # make_sample, 6 downloads, the summary
    for line in requests:  # our defaults fill what a rule does not set
        for resource in ("cpus_per_task=1", "group_lanes=1"):
            assert resource in line, line
    assert any("runtime=60" in line and "mem_mb=4000" in line for line in requests)  # defaults
    assert any("runtime=10" in line and "mem_mb=2000" in line for line in requests)  # download


def test_site_default_resources_replace_ours_whole(copy_workflow, tmp_path):
    """Why the site profile names partitions by file, not by default-resources."""
    site = tmp_path / "restating"
    site.mkdir()
    (site / "config.yaml").write_text("default-resources:\n  slurm_partition: gpu-a100\n")
    output = dry_run(copy_workflow(tmp_path), "slurm", str(site))
    assert "slurm_partition=gpu-a100" in output
    assert "runtime=60" not in output and "group_lanes" not in output


def test_a_machine_without_slurm_gets_one_line_and_exit_1(copy_workflow, tmp_path):
    """Submitting from a machine whose SLURM commands cannot reach a controller (this one, when
    no test cluster is up): refused before the first submission, within seconds."""
    from marlinflow.compute.slurm import controller_problem

    env = {k: v for k, v in os.environ.items() if not k.startswith("SLURM")}
    env["PATH"] = f"{BIN}{os.pathsep}{os.environ['PATH']}"
    if controller_problem() is None:
        pytest.skip("a SLURM controller answers here")
    command = [
        str(BIN / "snakemake"),
        "--profile",
        "slurm",
        "--config",
        "dataset={sample_videos: 6}",
    ]
    result = subprocess.run(
        ["timeout", "-s", "KILL", "120", *command],
        cwd=copy_workflow(tmp_path),
        env=env,
        capture_output=True,
        text=True,
    )
    assert result.returncode == 1, result.stderr[-2000:]
    assert "--executor slurm: squeue" in result.stderr or "not found" in result.stderr
    assert "sacct" not in result.stdout + result.stderr  # no guessing at an account first
    assert not any((tmp_path / ".snakemake").glob("slurm_logs/**/*.log"))  # nothing submitted


def test_without_slurm_commands_the_reason_names_them(monkeypatch, tmp_path):
    from marlinflow.compute.slurm import controller_problem

    monkeypatch.setenv("PATH", str(tmp_path))  # no sbatch, no squeue
    assert controller_problem().startswith("sbatch and squeue not found")
