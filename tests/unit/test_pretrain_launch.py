"""Where pretraining runs: the config's devices outside SLURM, the allocation's inside it (read
from a SLURM job step's environment), and the checkpoint a requeued job resumes from."""

from __future__ import annotations

import os
import time

import pytest
from lightning_fabric.plugins.environments import SLURMEnvironment
from lightning_fabric.utilities.rank_zero import rank_zero_only as fabric_rank_zero_only
from pytorch_lightning.strategies import DDPStrategy
from pytorch_lightning.utilities.rank_zero import rank_zero_only as pl_rank_zero_only

from marlinflow.errors import InputError
from marlinflow.pretrain.config import PretrainConfig
from marlinflow.pretrain.launch import build_strategy, trainer_placement, world_size
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


def test_resume_takes_the_newest_checkpoint(tmp_path):
    config = PretrainConfig(model="tiny", run_dir=str(tmp_path), init=str(tmp_path / "absent.pth"))
    module = MarlinPretrain("tiny")
    (tmp_path / "last.ckpt").write_bytes(b"epoch end")
    assert start_point(config, module) == tmp_path / "last.ckpt"  # init not read
    time.sleep(0.01)
    (tmp_path / "hpc_ckpt_1.ckpt").write_bytes(b"written on the requeue signal")
    assert start_point(config, module) == tmp_path / "hpc_ckpt_1.ckpt"
