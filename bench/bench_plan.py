"""Planning cost: the wall time and peak memory of ``snakemake -n`` for a data set of N videos.

A synthetic manifest of N rows (local sources that need not exist: planning does not read them)
is run as the README runs your own data (builder ``manifest``, no downstream tasks: pretraining
only), with tracking disabled, in a temporary copy of the workflow. Each N is planned by a fresh
``snakemake -n`` process; its peak resident memory comes from the kernel when it exits.

The data set's per-video steps run as the config has them: ``dataset.shard_size`` ``auto`` (one
job per video up to 2,000 videos, shards of 500 above), or ``--shard-size N`` (0: one job per
video at any size). ``--profile`` plans as a cluster does, with the SLURM profile.

Run: ``python bench/bench_plan.py [--rows 10000 100000 1000000] [--shard-size auto]
[--profile]``. Prints markdown rows:

    | videos | shard size | profile | jobs | wall s | peak RSS MB | machine |
"""

from __future__ import annotations

import argparse
import os
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from machine import cpu_model

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))  # the repository: tests.workflow.conftest
from tests.workflow.conftest import copy_workflow  # noqa: E402

SNAKEMAKE = Path(sys.executable).parent / "snakemake"


def write_manifest(path: Path, rows: int) -> None:
    lines = ["id\tsource\tsplit"] + [f"v{i:07d}\tvideos/v{i:07d}.mp4\ttrain" for i in range(rows)]
    path.write_text("\n".join(lines) + "\n")


def plan(project: Path, rows: int, shard_size: str, profile: bool) -> dict:
    """``snakemake -n`` of a data set of ``rows`` videos: its jobs, wall time and peak RSS."""
    manifest = project / f"manifest{rows}.tsv"
    if not manifest.exists():
        write_manifest(manifest, rows)
    dataset = f"name: mine{rows}, builder: manifest, manifest: {manifest}"
    config = [
        f"dataset={{{dataset}, shard_size: {shard_size}}}",
        "downstream={tasks: []}",
        "tracking={mode: disabled}",
    ]
    out = project / f"dryrun{rows}.txt"
    env = dict(os.environ, PATH=f"{SNAKEMAKE.parent}{os.pathsep}{os.environ['PATH']}")
    started = time.perf_counter()
    with open(out, "w") as stdout:
        command = [str(SNAKEMAKE), "-n", "--cores", "1", "--config", *config]
        command += ["--profile", "workflow/profiles/slurm"] if profile else []
        child = subprocess.Popen(command, cwd=project, env=env, stdout=stdout, stderr=stdout)
        _, status, usage = os.wait4(child.pid, 0)
    seconds = time.perf_counter() - started
    text = out.read_text()
    if os.waitstatus_to_exitcode(status) != 0:
        raise RuntimeError(f"snakemake -n failed for {rows} rows:\n{text[-3000:]}")
    jobs = int(re.search(r"^total\s+(\d+)$", text, re.MULTILINE).group(1))
    peak_mb = usage.ru_maxrss / 1024
    return {"rows": rows, "shard_size": shard_size, "profile": profile, "jobs": jobs,
            "seconds": seconds, "peak_mb": peak_mb}  # fmt: skip


def row(result: dict) -> str:
    machine = f"{cpu_model()}, {os.cpu_count()} cores, load {os.getloadavg()[0]:.1f}"
    profile = "slurm" if result["profile"] else "-"
    return (
        f"| {result['rows']:,} | {result['shard_size']} | {profile} | {result['jobs']:,} | "
        f"{result['seconds']:.1f} | {result['peak_mb']:,.0f} | {machine} |"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, nargs="+", default=[10000, 100000, 1000000])
    parser.add_argument("--shard-size", default="auto", help="dataset.shard_size (0: per video)")
    parser.add_argument("--profile", action="store_true", help="plan with the SLURM profile too")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        project = copy_workflow(REPO, Path(tmp) / "project")
        for rows in args.rows:
            for profile in (False, True) if args.profile else (False,):
                print(row(plan(project, rows, args.shard_size, profile)), flush=True)


if __name__ == "__main__":
    main()
