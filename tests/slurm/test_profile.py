"""The SLURM profile without a cluster: it resolves from the checkout's root, layers under a
site profile, groups the per-video steps and gives every job our default resources.

Dry runs only, so these run wherever Snakemake does (no SLURM needed).
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

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
