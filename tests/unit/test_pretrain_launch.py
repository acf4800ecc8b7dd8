"""Where pretraining runs: the config's devices outside SLURM, the allocation's inside it (read
from a SLURM job step's environment), and the checkpoint a requeued job resumes from."""

from __future__ import annotations

import os
import signal
import time

import pytest
import pytorch_lightning as pl
import torch
from lightning_fabric.plugins.environments import SLURMEnvironment
from lightning_fabric.utilities.rank_zero import rank_zero_only as fabric_rank_zero_only
from pytorch_lightning.strategies import DDPStrategy
from pytorch_lightning.utilities.rank_zero import rank_zero_only as pl_rank_zero_only

from marlinflow.compute.slurm import REQUEUE_SIGNAL
from marlinflow.errors import InputError
from marlinflow.pretrain.checkpointing import next_requeue_checkpoint, resume_checkpoint
from marlinflow.pretrain.config import PretrainConfig
from marlinflow.pretrain.launch import (
    RequeueAtBatchEnd,
    build_strategy,
    trainer_placement,
    world_size,
)
from marlinflow.pretrain.module import MarlinPretrain
from marlinflow.pretrain.train import build_trainer, start_point

# A task of `srun --ntasks-per-node=2` on a CPU node: the second of two training processes.
TWO_TASKS = {
    "SLURM_JOB_ID": "812",
    "SLURM_JOB_NAME": "pretrain",
    "SLURM_NNODES": "1",
    "SLURM_NTASKS": "2",
    "SLURM_NTASKS_PER_NODE": "2",
    "SLURM_PROCID": "1",
    "SLURM_LOCALID": "1",
    "SLURM_NODEID": "0",
    "SLURM_NODELIST": "node1",
}
# The executor's one-task step around a single-device rule.
ONE_TASK = {**TWO_TASKS, "SLURM_NTASKS": "1", "SLURM_PROCID": "0", "SLURM_LOCALID": "0"}
del ONE_TASK["SLURM_NTASKS_PER_NODE"]
# Asks for one config the allocation overrides.
CONFIG = PretrainConfig(model="tiny", devices=4, num_nodes=3, accelerator="cpu")


@pytest.fixture
def slurm_env(monkeypatch):
    """Set a fake SLURM job step's variables (and no others) in this process's environment."""
    for name in [n for n in os.environ if n.startswith("SLURM_")]:
        monkeypatch.delenv(name)
    monkeypatch.delenv("CUDA_VISIBLE_DEVICES", raising=False)
    # A DDP trainer sets the process-wide rank of rank_zero_only to its own: put it back after.
    for rank_zero_only in (fabric_rank_zero_only, pl_rank_zero_only):
        monkeypatch.setattr(rank_zero_only, "rank", rank_zero_only.rank)

    def apply(env: dict[str, str]) -> None:
        for name, value in env.items():
            monkeypatch.setenv(name, value)

    return apply


def test_outside_slurm_the_config_decides():
    placement = trainer_placement(CONFIG, environ={})
    assert placement == {"num_nodes": 3, "devices": 4, "accelerator": "cpu", "plugins": []}
    assert world_size(placement) == 12
    assert world_size({"devices": [0, 2], "num_nodes": 2, "accelerator": "gpu"}) == 4


def test_strategy_is_ddp_exactly_when_there_are_several_processes():
    assert build_strategy("auto", 1) == "auto"
    assert isinstance(build_strategy("auto", 2), DDPStrategy)
    assert isinstance(build_strategy("ddp", 1), DDPStrategy)  # asked for by name


@pytest.mark.filterwarnings("ignore:The `srun` command is available")  # pytest is not srun'd
def test_slurm_tasks_become_the_trainer_processes(slurm_env, tmp_path):
    slurm_env(TWO_TASKS)
    trainer = build_trainer(CONFIG, tmp_path)
    assert pl_rank_zero_only.rank == 1  # what the fixture puts back
    assert (trainer.num_nodes, trainer.num_devices, trainer.world_size) == (1, 2, 2)
    assert (trainer.global_rank, trainer.local_rank) == (1, 1)  # SLURM's numbering
    assert isinstance(trainer.strategy, DDPStrategy)
    assert isinstance(trainer.strategy.cluster_environment, SLURMEnvironment)
    assert trainer.strategy.cluster_environment.auto_requeue


@pytest.mark.filterwarnings("ignore:The `srun` command is available")
def test_one_slurm_task_trains_alone(slurm_env, tmp_path):
    slurm_env(ONE_TASK)
    trainer = build_trainer(CONFIG, tmp_path)
    assert (trainer.num_nodes, trainer.num_devices, trainer.world_size) == (1, 1, 1)
    assert not isinstance(trainer.strategy, DDPStrategy)
    # Still SLURM's environment: it is what requeues the job on the time-limit warning.
    environment = trainer._accelerator_connector.cluster_environment
    assert isinstance(environment, SLURMEnvironment) and environment.auto_requeue


def test_slurm_layout_without_tasks_per_node_is_refused(slurm_env):
    env = {**TWO_TASKS, "SLURM_NTASKS": "4"}
    del env["SLURM_NTASKS_PER_NODE"]
    slurm_env(env)
    with pytest.raises(InputError, match="SLURM job 812.*ntasks-per-node"):
        trainer_placement(CONFIG)


def test_resume_takes_the_newest_of_last_and_requeue_checkpoints(tmp_path):
    assert resume_checkpoint(tmp_path) is None
    assert next_requeue_checkpoint(tmp_path) == tmp_path / "hpc_ckpt_1.ckpt"
    for age, name in enumerate(["hpc_ckpt_2.ckpt", "last.ckpt", "hpc_ckpt_1.ckpt"]):
        (tmp_path / name).write_bytes(b"x")
        os.utime(tmp_path / name, ns=(10**18 - age * 10**9, 10**18 - age * 10**9))
    assert resume_checkpoint(tmp_path).name == "hpc_ckpt_2.ckpt"
    assert next_requeue_checkpoint(tmp_path) == tmp_path / "hpc_ckpt_3.ckpt"
    (tmp_path / "hpc_ckpt_2.ckpt").unlink()
    assert resume_checkpoint(tmp_path).name == "last.ckpt"


def test_resume_takes_the_newest_checkpoint(tmp_path):
    config = PretrainConfig(model="tiny", run_dir=str(tmp_path), init=str(tmp_path / "absent.pth"))
    module = MarlinPretrain(PretrainConfig(model="tiny"))
    torch.save({"saved": "at an epoch's end"}, tmp_path / "last.ckpt")
    assert start_point(config, module) == tmp_path / "last.ckpt"  # init not read
    time.sleep(0.01)
    torch.save({"saved": "on the requeue signal"}, tmp_path / "hpc_ckpt_1.ckpt")
    assert start_point(config, module) == tmp_path / "hpc_ckpt_1.ckpt"


# The executor's one-task step around the one-GPU pretraining rule.
ONE_GPU_TASK = {**ONE_TASK, "SLURM_GPUS_ON_NODE": "1", "CUDA_VISIBLE_DEVICES": "0"}
no_cuda = pytest.mark.skipif(torch.cuda.is_available(), reason="needs a machine without CUDA")
# SLURM's environment warns that pytest was not started by srun.
not_srun = pytest.mark.filterwarnings("ignore:The `srun` command is available")


@no_cuda
@not_srun
# ids without the word "gpu", which the suite takes for a test that needs a CUDA device
@pytest.mark.parametrize("accelerator", ["auto", "gpu"], ids=["auto", "by-name"])
def test_gpu_run_in_an_allocation_cuda_cannot_use_stops_with_the_fix(accelerator):
    config = PretrainConfig(model="tiny", accelerator=accelerator)
    with pytest.raises(InputError, match="SLURM job 812.*given 1 GPU.*accelerator: cpu"):
        trainer_placement(config, environ=ONE_GPU_TASK)


@no_cuda
@not_srun
def test_gpu_run_asked_for_in_a_job_without_gpus_names_it():
    with pytest.raises(InputError, match="has no GPU"):
        trainer_placement(PretrainConfig(model="tiny", accelerator="gpu"), environ=ONE_TASK)


@not_srun
def test_cpu_run_in_a_gpu_allocation_trains_on_the_cpu(slurm_env, tmp_path):
    slurm_env({**TWO_TASKS, "SLURM_GPUS_ON_NODE": "2", "CUDA_VISIBLE_DEVICES": "0,1"})
    placement = trainer_placement(CONFIG)
    assert (placement["accelerator"], placement["devices"], placement["num_nodes"]) == ("cpu", 2, 1)
    trainer = build_trainer(CONFIG, tmp_path)
    assert trainer.world_size == 2 and trainer.global_rank == 1
    assert trainer.strategy.root_device == torch.device("cpu")
    assert isinstance(trainer.strategy.cluster_environment, SLURMEnvironment)


class WarnMidIteration(pl.Callback):
    """SLURM's warning, landing between the critic's and the generator's step of an iteration
    (Lightning counts both optimisers' steps)."""

    def __init__(self, iteration: int):
        self.iteration = iteration

    def on_before_optimizer_step(self, trainer, pl_module, optimizer) -> None:
        if trainer.global_step == 2 * self.iteration + 1:
            signal.raise_signal(REQUEUE_SIGNAL)


@not_srun
def test_warning_mid_iteration_checkpoints_after_it(slurm_env, tmp_path, monkeypatch, caplog):
    from marlinflow.pretrain.train import pretrain
    from marlinflow.tracking import ENV_PREFIX
    from tests.synthetic import write_clip

    monkeypatch.setenv(ENV_PREFIX + "MODE", "disabled")
    slurm_env(ONE_TASK)
    write_clip(tmp_path / "data", "a", n_frames=20)
    config = PretrainConfig(
        model="tiny",
        index=[str(tmp_path / "data/parsing")],
        batch_size=2,
        epochs=1,
        clips_per_epoch=12,
        workers=0,
        val_fraction=0,
        run_dir=str(tmp_path / "run"),
    )
    asked: list[str] = []
    refuse = lambda job_id: asked.append(job_id) or False  # noqa: E731 (a requeue SLURM refused)
    warnings = [WarnMidIteration(2), WarnMidIteration(4)]
    pretrain(config, [*warnings, RequeueAtBatchEnd(config.run_dir, refuse)])
    saved = torch.load(tmp_path / "run/hpc_ckpt_2.ckpt", weights_only=False)
    assert saved["global_step"] == 2 * 5  # after iteration 4, not inside it
    assert not (tmp_path / "run/hpc_ckpt_1.ckpt").exists()  # older: deleted with the second
    assert asked == ["812", "812"] and "could not requeue SLURM job 812" in caplog.text
    assert torch.load(tmp_path / "run/last.ckpt", weights_only=False)["global_step"] == 2 * 6


def test_pretraining_requeues_at_a_batch_end_by_default_or_with_the_callers_callback(tmp_path):
    from marlinflow.pretrain.train import build_trainer

    config = PretrainConfig(model="tiny", index=[], run_dir=str(tmp_path), accelerator="cpu")

    def requeue_callbacks(extra=()):
        trainer = build_trainer(config, tmp_path, extra=extra)
        return [c for c in trainer.callbacks if isinstance(c, RequeueAtBatchEnd)]

    (default,) = requeue_callbacks()
    assert default.run_dir == tmp_path
    own = RequeueAtBatchEnd(tmp_path / "elsewhere", lambda job_id: False)
    assert requeue_callbacks([own]) == [own]  # replaces the default, not added to it
