"""The sample workflow through a real SLURM: `--profile slurm` with a site profile layered on top.

The site profile is what a user keeps outside the repository: it names the partition (through
the executor's partition file) without restating our default resources, which must survive.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

pytestmark = pytest.mark.slurm
VIDEOS = 6
# The sample's preprocessing head: the sample, the per-video group, a stage summary. (The whole
# sample, training included, is the local workflow test's; here each job costs a submission.)
TARGET = "results/sample/download_summary.tsv"


def job_logs(workdir: Path) -> dict[str, list[str]]:
    """SLURM job ids by log folder (rule_<rule> or group_<group>_<rules>), from logs/slurm/."""
    found: dict[str, list[str]] = {}
    for log in sorted((workdir / "logs" / "slurm").rglob("*.log")):
        folder = log.relative_to(workdir / "logs" / "slurm").parts[0]
        found.setdefault(folder, []).append(log.stem)
    return found


def job_record(cluster, job_id: str) -> dict[str, str]:
    """`scontrol show job` as Key=Value pairs (finished jobs stay listed for MinJobAge)."""
    text = cluster.run("scontrol", "show", "job", job_id).stdout
    return dict(re.findall(r"(\S+?)=(\S*)", text))


@pytest.fixture(scope="module")
def sample_run(run_snakemake, copy_workflow, tmp_path_factory):
    workdir = copy_workflow(tmp_path_factory.mktemp("workflow"))
    # --cores as in `snakemake --cores all --profile slurm`: rules with `threads: workflow.cores`
    # need it. For remote jobs it also caps the CPUs of all running jobs together.
    config = f"dataset={{sample_videos: {VIDEOS}}}"
    result = run_snakemake(workdir, TARGET, "--cores", "4", "--config", config)
    return workdir, result


def test_sample_workflow_completes_through_slurm(sample_run):
    workdir, result = sample_run
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    assert "Using profiles slurm and" in result.stdout + result.stderr
    summary = (workdir / TARGET).read_text().splitlines()
    assert len(summary) == VIDEOS + 1  # header and one row per video
    assert len(list((workdir / "data/raw/sample").glob("*.status.json"))) == VIDEOS


def test_every_job_is_a_slurm_job_the_controller_ran(sample_run, slurm_cluster):
    workdir, result = sample_run
    logs = job_logs(workdir)
    assert any(folder.startswith("rule_") for folder in logs), logs
    assert any(folder.startswith("group_preprocess") for folder in logs), logs
    submitted = re.findall(
        r"has been submitted with SLURM jobid (\d+)", result.stdout + result.stderr
    )
    logged = [job_id for ids in logs.values() for job_id in ids]
    assert sorted(submitted) == sorted(logged)  # one log per submission, none run elsewhere
    controller_log = slurm_cluster.ctld_log.read_text()
    partition = slurm_cluster.partition
    for job_id in logged:
        # Started by the main scheduler or by backfill, each logs the start its own way.
        started = (
            rf"Allocate JobId={job_id} .*Partition={partition}"
            rf"|Started JobId={job_id} in {partition} "
        )
        assert re.search(started, controller_log), job_id
        assert f"JobId={job_id} WEXITSTATUS 0" in controller_log


def test_jobs_asked_our_defaults_on_the_site_partition(sample_run, slurm_cluster):
    workdir, _ = sample_run
    job_id = next(ids[0] for folder, ids in job_logs(workdir).items() if folder.startswith("rule_"))
    record = job_record(slurm_cluster, job_id)
    assert record["Partition"] == slurm_cluster.partition  # from the site profile
    assert record["TimeLimit"] == "01:00:00"  # runtime: 60 from ours, not dropped by layering
    assert "mem=4000M" in record["TRES"] and "cpu=1," in record["TRES"]


def test_per_video_steps_share_one_job_that_runs_them_in_turn(sample_run, slurm_cluster):
    workdir, _ = sample_run
    (folder,) = (name for name in job_logs(workdir) if name.startswith("group_preprocess"))
    (job_id,) = job_logs(workdir)[folder]
    log = (workdir / "logs/slurm" / folder / f"{job_id}.log").read_text()
    assert log.count("localrule download_video:") == VIDEOS
    record = job_record(slurm_cluster, job_id)
    # One lane: one member's CPU and memory (download: 2000 MB), the runtimes (10 min) added up.
    assert "cpu=1," in record["TRES"] and "mem=2000M" in record["TRES"]
    hours, minutes = divmod(VIDEOS * 10, 60)
    assert record["TimeLimit"] == f"{hours:02d}:{minutes:02d}:00"
