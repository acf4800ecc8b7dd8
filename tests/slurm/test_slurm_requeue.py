"""A two-rank pretraining job warned in the middle of an iteration, on the real test cluster:
it saves after that iteration, requeues itself, and the next run of the job resumes there and
ends where an uninterrupted run does (same iterations, losses and weights).

The warning reaches one rank only: the ranks must agree to save together (a checkpoint written
by one rank alone would leave the other waiting in a collective)."""

from __future__ import annotations

import sys
import time
from pathlib import Path

import pytest
import torch
import yaml

from marlinflow.compute.slurm import preemption_sbatch_args, srun_prefix
from marlinflow.pretrain.config import PretrainConfig
from marlinflow.pretrain.train import pretrain
from marlinflow.tracking import ENV_PREFIX
from tests.synthetic import write_clip
from tests.training_runs import assert_same_training

pytestmark = [
    pytest.mark.slurm,
    # The uninterrupted run here is not srun'd; Lightning warns where srun is installed.
    pytest.mark.filterwarnings("ignore:The `srun` command is available"),
]

# The real pretraining, with its own requeue callback. In its first run, rank 1 raises SLURM's
# warning signal between the critic's and the generator's step of iteration 3 (Lightning counts
# both steps), where Lightning's own handler would have saved half an iteration.
TRAINER = """
import logging, os, signal, sys
import pytorch_lightning as pl
from marlinflow.pretrain.config import PretrainConfig
from marlinflow.pretrain.train import pretrain
from marlinflow.compute.slurm import REQUEUE_SIGNAL


class WarnMidIteration(pl.Callback):
    def on_before_optimizer_step(self, trainer, pl_module, optimizer):
        if trainer.global_step == 2 * 3 + 1:
            signal.raise_signal(REQUEUE_SIGNAL)


logging.basicConfig(level=logging.INFO)
config = PretrainConfig.load(sys.argv[1])
first_run = os.environ.get("SLURM_RESTART_COUNT", "0") == "0"
warn = [WarnMidIteration()] if first_run and os.environ["SLURM_PROCID"] == "1" else []
pretrain(config, callbacks=warn)  # the requeue callback is pretrain's own
"""


def settings(tmp_path: Path, run: str, batch_size: int) -> PretrainConfig:
    # 12 clips of 2 per epoch (in all processes): 6 iterations an epoch, 12 in all.
    return PretrainConfig(
        model="tiny",
        index=[str(tmp_path / "data/parsing")],
        run_dir=str(tmp_path / run),
        batch_size=batch_size,
        epochs=2,
        clips_per_epoch=12,
        workers=0,
        warmup_epochs=1,
        base_lr=0.1,
        val_fraction=0,
    )


def wait_for_completion(cluster, job_id: str, timeout: float) -> str:
    deadline = time.monotonic() + timeout
    while "JobState=COMPLETED" not in (
        record := cluster.run("scontrol", "show", "job", job_id).stdout
    ):
        assert time.monotonic() < deadline and "JobState=FAILED" not in record, record
        time.sleep(1)
    return record


@pytest.fixture(scope="module")
def requeued_run(slurm_cluster, tmp_path_factory):
    workdir = tmp_path_factory.mktemp("requeue")
    for name, frames in (("a", 30), ("b", 24)):
        write_clip(workdir / "data", name, n_frames=frames)
    (workdir / "trainer.py").write_text(TRAINER)
    requeued = settings(workdir, "requeued", batch_size=1)  # per rank
    (workdir / "settings.yaml").write_text(yaml.safe_dump(requeued.to_dict()))
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv(ENV_PREFIX + "MODE", "disabled")  # the job inherits it (sbatch exports all)
        command = f"{srun_prefix(2)} {sys.executable} trainer.py settings.yaml"
        submit = slurm_cluster.run(
            "sbatch",
            "--parsable",
            "-t",
            "5",
            "--ntasks-per-node=2",
            *preemption_sbatch_args(gpus_per_node=2).split(),
            "-D",
            str(workdir),
            "-o",
            str(workdir / "job.log"),
            "--open-mode=append",
            "--wrap",
            command,
        )
        assert submit.returncode == 0, submit.stderr
        pretrain(settings(workdir, "straight", batch_size=2))  # meanwhile, in one process
    record = wait_for_completion(slurm_cluster, submit.stdout.strip(), timeout=150)
    return workdir, record


def test_the_job_was_requeued_once_and_completed(requeued_run):
    workdir, record = requeued_run
    assert "Restarts=1" in record and "Requeue=1" in record
    log = (workdir / "job.log").read_text()
    assert log.count("requeueing SLURM job") == 1  # by rank 0, which was not warned itself
    assert log.count("hpc_ckpt_1.ckpt on SLURM's time-limit warning") == 2  # saved by both
    assert log.count("MEMBER: 2/2") == 2  # both runs of the job had both ranks
    assert (workdir / "requeued/encoder.pt").is_file()


def test_the_warning_mid_iteration_saved_after_it(requeued_run):
    workdir, _ = requeued_run
    (saved,) = (workdir / "requeued").glob("hpc_ckpt_*.ckpt")
    assert saved.name == "hpc_ckpt_1.ckpt"
    assert torch.load(saved, weights_only=False)["global_step"] == 2 * 4  # iterations 0-3


def test_the_resumed_run_ends_as_an_uninterrupted_one(requeued_run):
    workdir, _ = requeued_run
    # Two ranks' averaged gradients: equal to one process's up to float summation.
    assert_same_training(
        workdir / "straight", workdir / "requeued", steps=12, rel=1e-4, abs_tol=1e-6, atol=1e-5
    )
