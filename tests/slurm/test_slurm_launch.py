"""Training launches on the real test cluster: the pretraining rule's one-GPU and two-GPU shapes
through the executor, and a Lightning run that is warned, requeued and resumes.

The rules run `python -m marlinflow.cli cluster`, so what is checked is what the pretraining code
would derive from the environment SLURM really gives it.
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

import pytest

from marlinflow.compute.slurm import preemption_sbatch_args, srun_prefix

pytestmark = pytest.mark.slurm

# The pretraining rule's two shapes, with resources from marlinflow.compute.slurm.pretrain_resources.
SNAKEFILE = """
from marlinflow.compute.slurm import pretrain_resources


rule all:
    input:
        "gpu.json",
        expand("ranks/{rank}.json", rank=range(2)),


rule gpu_probe:
    output:
        "gpu.json",
    threads: 2
    resources:
        **pretrain_resources(1),
    shell:
        "{resources.launch} python -m marlinflow.cli cluster --out {output}"


rule rank_probe:
    output:
        expand("ranks/{rank}.json", rank=range(2)),
    resources:
        **pretrain_resources(2),
        cpus_per_task=1,
    shell:
        "{resources.launch} sh -c 'python -m marlinflow.cli cluster --out ranks/$SLURM_PROCID.json'"
"""

# A Lightning run set up by marlinflow.compute.slurm. On the time-limit warning Lightning's own
# SLURMEnvironment handler saves hpc_ckpt_1.ckpt and requeues the job; the next run resumes.
TRAINER = """
import json, os, sys, time
from pathlib import Path

import pytorch_lightning as pl
import torch
from torch.utils.data import DataLoader, TensorDataset

from marlinflow.pretrain.checkpointing import resume_checkpoint
from marlinflow.compute.slurm import lightning_launch

out = Path(sys.argv[1])
restart = os.environ.get("SLURM_RESTART_COUNT", "0")


class Tiny(pl.LightningModule):
    def __init__(self):
        super().__init__()
        self.layer = torch.nn.Linear(4, 1)

    def training_step(self, batch, index):
        time.sleep(0.05)
        return self.layer(batch[0]).pow(2).mean()

    def on_train_start(self):
        seen = {"restart": restart, "start_step": self.global_step,
                "environment": type(self.trainer._accelerator_connector.cluster_environment).__name__}
        (out / f"run{restart}.json").write_text(json.dumps(seen))

    def on_train_batch_end(self, *args):
        if restart == "0" and self.global_step == 5:
            (out / "ready").touch()
        if restart != "0" and self.global_step >= 3 + json.loads((out / "run1.json").read_text())["start_step"]:
            self.trainer.should_stop = True

    def configure_optimizers(self):
        return torch.optim.SGD(self.parameters(), lr=0.01)


launch = lightning_launch()
trainer = pl.Trainer(default_root_dir=out, max_epochs=-1, logger=False, enable_checkpointing=False,
                     enable_progress_bar=False, enable_model_summary=False, **launch.trainer_kwargs())
data = DataLoader(TensorDataset(torch.randn(64, 4)), batch_size=4)
trainer.fit(Tiny(), data, ckpt_path=resume_checkpoint(out))
"""


@pytest.fixture(scope="module")
def probe_run(run_snakemake, tmp_path_factory):
    workdir = tmp_path_factory.mktemp("probe")
    (workdir / "Snakefile").write_text(SNAKEFILE)
    result = run_snakemake(workdir, timeout=150)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    return workdir


def test_gpu_rule_gets_a_gpu_and_a_one_task_slurm_world(probe_run, slurm_cluster):
    seen = json.loads((probe_run / "gpu.json").read_text())
    assert seen["cuda_visible_devices"] == "0"
    assert seen["slurm"]["gpus_on_node"] == 1
    assert seen["lightning"] == {
        "num_nodes": 1,
        "devices": 1,
        "accelerator": "gpu",
        "slurm_managed": True,
        "in_slurm": True,
    }
    record = slurm_cluster.run("scontrol", "show", "job", seen["slurm"]["job_id"]).stdout
    assert "TresPerJob=gres:gpu:1" in record  # sbatch --gpus=1
    assert "NumCPUs=2" in record  # cpus_per_task follows the rule's threads
    assert "Requeue=1" in record  # --requeue from slurm_extra


def test_two_gpu_rule_starts_one_lightning_process_per_gpu(probe_run, slurm_cluster):
    ranks = [json.loads((probe_run / f"ranks/{rank}.json").read_text()) for rank in range(2)]
    assert [seen["rank"] for seen in ranks] == [0, 1]
    (job_id,) = {seen["slurm"]["job_id"] for seen in ranks}
    for seen in ranks:
        assert seen["slurm"]["tasks_per_node"] == 2 and seen["slurm"]["tasks"] == 2
        assert seen["slurm"]["gpus_on_node"] == 2
        assert seen["lightning"] == {
            "num_nodes": 1,
            "devices": 2,
            "accelerator": "gpu",
            "slurm_managed": True,
            "in_slurm": True,
        }
    record = slurm_cluster.run("scontrol", "show", "job", job_id).stdout
    assert "TresPerNode=gres:gpu:2" in record and "Requeue=1" in record


def wait_for(path: Path, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while not path.exists():
        assert time.monotonic() < deadline, f"{path.name} did not appear in {timeout} s"
        time.sleep(0.3)


def test_warned_training_checkpoints_requeues_and_resumes_with_restart_count_1(
    slurm_cluster, tmp_path
):
    (tmp_path / "trainer.py").write_text(TRAINER)
    # What the multi-GPU pretraining rule asks for, with one task here.
    script = f"#!/bin/sh\n{srun_prefix(1)} {sys.executable} trainer.py {tmp_path}\n"
    (tmp_path / "job.sh").write_text(script)
    extra = preemption_sbatch_args(gpus_per_node=2).split()
    submit = slurm_cluster.run(
        "sbatch",
        "--parsable",
        "-t",
        "5",
        *extra,
        "-D",
        str(tmp_path),
        "-o",
        str(tmp_path / "job.log"),
        "--open-mode=append",
        str(tmp_path / "job.sh"),
    )
    assert submit.returncode == 0, submit.stderr
    job_id = submit.stdout.strip()
    wait_for(tmp_path / "ready", 60)
    # The time-limit warning, now: to the job steps only, as --signal without B: does.
    assert slurm_cluster.run("scancel", "--signal=USR1", job_id).returncode == 0
    wait_for(tmp_path / "run1.json", 90)
    first = json.loads((tmp_path / "run0.json").read_text())
    second = json.loads((tmp_path / "run1.json").read_text())
    assert first["environment"] == second["environment"] == "SLURMEnvironment"
    assert (tmp_path / "hpc_ckpt_1.ckpt").is_file()  # written by Lightning's requeue handler
    assert second["restart"] == "1" and second["start_step"] >= 5  # resumed, not restarted
    deadline = time.monotonic() + 60
    while "JobState=COMPLETED" not in (
        record := slurm_cluster.run("scontrol", "show", "job", job_id).stdout
    ):
        assert time.monotonic() < deadline, record
        time.sleep(0.5)
    assert "Restarts=1" in record and "Requeue=1" in record
