"""The whole sample workflow through a real SLURM: `--profile slurm` with a site profile on top.

The site profile is what a user keeps outside the repository: it names the partition (through
the executor's partition file) without restating our default resources, which must survive.
The sample is made small (one task, one seed, a few epochs) but runs every rule of the default
target, the report included. The GPU rules ask for the cluster's (simulated) GPUs and are told
to compute on the CPU, as on a GPU cluster tried out without CUDA.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from marlinflow.layout import DatasetLayout, ExperimentLayout

pytestmark = pytest.mark.slurm
VIDEOS = 6
SHEETS = 3
DATASET, EXP = DatasetLayout("sample"), ExperimentLayout("sample")
EXPRESSION = "{name: expression, adapter: csv, kind: multiclass, label_columns: [expression]}"
CONFIG = [
    f"dataset={{sample_videos: {VIDEOS}}}",
    # The single data set pretrains on its train split: 2 of the 6 videos, one for validation.
    "pretrain={epochs: 2, accelerator: cpu, clips_per_epoch: 4}",
    f"downstream={{seeds: [0], baselines: [], tasks: [{EXPRESSION}],"
    " probe: {max_epochs: 50, bootstrap: 20}, finetune: {max_epochs: 1, bootstrap: 20}}",
    # The test node has 4 CPUs and 16 GB; the GPUs are SLURM's only (no CUDA device behind).
    "compute={threads: 2, gpus_per_node: 1, downstream_gpus: 1, preprocess_gpus: 1,"
    " pretrain_runtime: 30,"
    " pretrain_mem_mb: 4000, downstream_runtime: 20, downstream_mem_mb: 3000}",
    f"report={{contact_sheets: {SHEETS}}}",
]


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


def rule_job(workdir: Path, rule: str) -> str:
    (job_id,) = job_logs(workdir)[f"rule_{rule}"]
    return job_id


@pytest.fixture(scope="module")
def sample_run(run_snakemake, copy_workflow, tmp_path_factory):
    workdir = copy_workflow(tmp_path_factory.mktemp("workflow"))
    # --cores as in `snakemake --cores all --profile slurm`: rules with `threads: workflow.cores`
    # need it. For remote jobs it also caps the CPUs of all running jobs together.
    # a guard against a hang, not a speed check: a busy machine takes several minutes
    result = run_snakemake(workdir, "--cores", "4", "--config", *CONFIG, timeout=1200)
    return workdir, result


def test_whole_sample_workflow_completes_through_slurm(sample_run):
    workdir, result = sample_run
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    assert "Using profiles slurm and" in result.stdout + result.stderr
    summary = (workdir / DATASET.summary("download")).read_text().splitlines()
    assert len(summary) == VIDEOS + 1  # header and one row per video
    assert (workdir / EXP.report / "index.html").is_file()
    assert (workdir / EXP.wandb_report).is_file()
    assert (workdir / EXP.metrics("sample", "expression", "finetune", "tiny")).is_file()


def test_every_job_is_a_slurm_job_the_controller_ran(sample_run, slurm_cluster):
    workdir, result = sample_run
    logs = job_logs(workdir)
    expected = {
        f"rule_{name}"
        for name in ("pretrain", "extract_features", "probe", "finetune", "report_html")
    }
    assert expected <= set(logs), logs
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
    record = job_record(slurm_cluster, rule_job(workdir, "probe"))  # a rule that asks nothing
    assert record["Partition"] == slurm_cluster.partition  # from the site profile
    assert record["TimeLimit"] == "01:00:00"  # runtime: 60 from ours, not dropped by layering
    assert "mem=4000M" in record["TRES"] and "cpu=1," in record["TRES"]


def test_per_video_steps_share_one_job_that_runs_them_in_turn(sample_run, slurm_cluster):
    workdir, _ = sample_run
    (folder,) = (name for name in job_logs(workdir) if name.startswith("group_preprocess"))
    (job_id,) = job_logs(workdir)[folder]
    log = (workdir / "logs/slurm" / folder / f"{job_id}.log").read_text()
    for rule, count in (
        ("make_sample", 1),
        ("download_video", VIDEOS),
        ("track_video", VIDEOS),
        ("parse_video", VIDEOS),
        ("contact_sheet", SHEETS),
    ):
        assert log.count(f"localrule {rule}:") == count, rule
    record = job_record(slurm_cluster, job_id)
    # One lane: one member's CPU and memory (track, parse: 4000 MB); the runtimes added up
    # (download 10, track 30, parse 15 minutes, the sample 10 and a contact sheet 5).
    assert "cpu=1," in record["TRES"] and "mem=4000M" in record["TRES"]
    hours, minutes = divmod(VIDEOS * (10 + 30 + 15) + 10 + SHEETS * 5, 60)
    assert record["TimeLimit"] == f"{hours:02d}:{minutes:02d}:00"
    assert record["TresPerJob"] == "gres:gpu:1"  # compute.preprocess_gpus: one for the group


def test_pretraining_asks_for_its_gpu_and_trains_on_the_cpu(sample_run, slurm_cluster):
    workdir, _ = sample_run
    job_id = rule_job(workdir, "pretrain")
    record = job_record(slurm_cluster, job_id)
    assert record["TresPerJob"] == "gres:gpu:1"  # compute.gpus_per_node: 1 -> --gpus=1
    assert record["Requeue"] == "1" and record["TimeLimit"] == "00:30:00"
    assert "mem=4000M" in record["TRES"] and "cpu=2," in record["TRES"]
    log = (workdir / EXP.logs / "pretrain/tiny.log").read_text()
    assert f"SLURM job {job_id}: 1 node(s) x 1 cpu device(s)" in log
    assert (workdir / EXP.encoder("tiny")).is_file()


@pytest.mark.parametrize("rule", ["extract_features", "finetune"])
def test_downstream_gpu_rules_ask_for_a_gpu(sample_run, slurm_cluster, rule):
    workdir, _ = sample_run
    record = job_record(slurm_cluster, rule_job(workdir, rule))
    assert record["TresPerJob"] == "gres:gpu:1"  # compute.downstream_gpus: 1
    assert record["TimeLimit"] == "00:20:00"
    assert "mem=3000M" in record["TRES"] and "cpu=2," in record["TRES"]
