"""Real pretraining as two SLURM tasks on the test cluster: the two-GPU rule's launch
(`pretrain_resources(2)`: gres, two tasks per node, `srun` in the batch step), told to train
on the CPU. Lightning must see a SLURM world of two gloo processes that trains exactly as one
process does with the same global batch, and only rank 0 may record the run."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys

import pytest
import torch
import yaml

from marlinflow.tracking import ENV_PREFIX
from tests.synthetic import write_clip
from tests.training_runs import losses

pytestmark = pytest.mark.slurm

SNAKEFILE = """
from marlinflow.compute.slurm import pretrain_resources


rule pretrain_on_two_tasks:
    input:
        "pretrain.yaml",
    output:
        "two/encoder.pt",
    log:
        "two.log",
    resources:
        **pretrain_resources(2),
        cpus_per_task=1,
        mem_mb=3000,
        runtime=10,
    shell:
        "{resources.launch} marlinflow pretrain {input} --run-dir two --set batch_size=2"
        " > {log} 2>&1"
"""
GLOBAL_BATCH = 4


def settings(data) -> dict:
    return {
        "model": "tiny",
        "index": [str(data / "parsing")],
        "epochs": 2,
        "clips_per_epoch": 8,
        "val_fraction": 0,
        "workers": 0,
        "accelerator": "cpu",
        "strategy": "ddp",
        "warmup_epochs": 1,
        "base_lr": 0.5,
        "seed": 3,
        "batch_size": GLOBAL_BATCH,
    }


def global_step(run_dir) -> int:
    return torch.load(run_dir / "last.ckpt", map_location="cpu", weights_only=False)["global_step"]


def train_in_one_process(workdir) -> None:
    """The same run without SLURM: one process with the whole batch."""
    command = [
        sys.executable,
        "-m",
        "marlinflow.pretrain",
        str(workdir / "pretrain.yaml"),
        "--run-dir",
        str(workdir / "one"),
    ]
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SLURM_", "WANDB_"))}
    env.update({"OMP_NUM_THREADS": "1", ENV_PREFIX + "MODE": "disabled"})
    done = subprocess.run(command, capture_output=True, text=True, timeout=300, env=env)
    assert done.returncode == 0, done.stderr[-3000:]


@pytest.fixture(scope="module")
def ddp_run(run_snakemake, slurm_cluster, tmp_path_factory):
    workdir = tmp_path_factory.mktemp("ddp")
    for name, frames in (("a", 30), ("b", 24), ("c", 18)):
        write_clip(workdir / "data", name, n_frames=frames)
    (workdir / "pretrain.yaml").write_text(yaml.safe_dump(settings(workdir / "data")))
    (workdir / "Snakefile").write_text(SNAKEFILE)
    train_in_one_process(workdir)
    # The jobs inherit this environment (sbatch --export=ALL): W&B offline, in the test folder.
    tracking = {
        ENV_PREFIX + "MODE": "offline",
        ENV_PREFIX + "DIR": str(workdir / "wandb"),
        "OMP_NUM_THREADS": "1",
    }
    tracking |= {
        name: str(workdir / name.lower())
        for name in ("WANDB_CACHE_DIR", "WANDB_CONFIG_DIR", "WANDB_DATA_DIR")
    }
    with pytest.MonkeyPatch.context() as patch:
        patch.delenv("WANDB_MODE", raising=False)
        for name, value in tracking.items():
            patch.setenv(name, value)
        result = run_snakemake(workdir, "--cores", "4", timeout=240)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    return workdir, (workdir / "two.log").read_text()


def test_srun_starts_two_gloo_ranks_in_a_slurm_world_on_the_cpu(ddp_run, slurm_cluster):
    _, log = ddp_run
    for rank in (0, 1):
        assert f"GLOBAL_RANK: {rank}, MEMBER: {rank + 1}/2" in log  # both ranks joined
    (job_id,) = set(re.findall(r"SLURM job (\d+): 1 node\(s\) x 2 cpu device\(s\)", log))
    assert log.count(f"SLURM job {job_id}: 1 node(s) x 2 cpu device(s)") == 2  # one per rank
    assert "gloo" in log
    record = slurm_cluster.run("scontrol", "show", "job", job_id).stdout
    assert "NumTasks=2" in record and "TresPerNode=gres:gpu:2" in record


def test_two_ranks_train_exactly_as_one_process(ddp_run):
    workdir, _ = ddp_run
    one, two = workdir / "one", workdir / "two"
    assert global_step(one) == global_step(two) > 0
    assert len(losses(one)) == len(losses(two)) == 2 * 4  # 8 clips / 4 per step x 2 epochs
    assert losses(one) == pytest.approx(losses(two), rel=1e-4, abs=1e-6)
    first, second = (torch.load(run / "encoder.pt")["state_dict"] for run in (one, two))
    for key, weights in first.items():
        assert torch.allclose(weights, second[key], atol=1e-5), key


def test_only_rank_zero_records_the_run(ddp_run):
    workdir, _ = ddp_run
    assert len(list((workdir / "wandb/wandb").glob("offline-run-*"))) == 1
    assert json.loads((workdir / "two/run.json").read_text())["status"] == "finished"
    assert [p.name for p in (workdir / "two/logs").iterdir()] == ["version_0"]
