"""Deriving Lightning's launch and the pretraining rule's SLURM request from environments."""

from __future__ import annotations

import signal

import pytest

from marlinflow import cli
from marlinflow.compute.slurm import (
    lightning_launch,
    preemption_sbatch_args,
    pretrain_resources,
    slurm_allocation,
    srun_prefix,
    visible_gpus,
)

# What a job step started by `srun --nodes=2 --ntasks-per-node=4` on 4-GPU nodes sees.
MULTI_NODE = {
    "SLURM_JOB_ID": "812",
    "SLURM_JOB_NAME": "pretrain",
    "SLURM_NNODES": "2",
    "SLURM_NTASKS": "8",
    "SLURM_NTASKS_PER_NODE": "4",
    "SLURM_GPUS_ON_NODE": "4",
    "SLURM_PROCID": "5",
    "CUDA_VISIBLE_DEVICES": "0,1,2,3",
}
# The executor's `srun -n1 --gpus=1` step around a single-GPU rule, after one requeue.
ONE_GPU_STEP = {
    "SLURM_JOB_ID": "77",
    "SLURM_JOB_NAME": "4c1e-uuid",
    "SLURM_NNODES": "1",
    "SLURM_NTASKS": "1",
    "SLURM_GPUS_ON_NODE": "1",
    "SLURM_RESTART_COUNT": "1",
    "CUDA_VISIBLE_DEVICES": "0",
}


def test_outside_slurm_lightning_starts_one_process_per_visible_gpu():
    assert slurm_allocation({"CUDA_VISIBLE_DEVICES": "0,1"}) is None
    launch = lightning_launch({"CUDA_VISIBLE_DEVICES": "0,1"})
    assert (launch.num_nodes, launch.devices, launch.accelerator) == (1, 2, "gpu")
    assert not launch.slurm_managed and launch.plugins() == []


def test_outside_slurm_without_gpus_runs_on_one_cpu_device():
    launch = lightning_launch({})
    assert (launch.devices, launch.accelerator, launch.slurm_managed) == (1, "cpu", False)


def test_allocation_reads_counts_and_restarts():
    job = slurm_allocation(MULTI_NODE)
    assert (job.job_id, job.nodes, job.tasks, job.tasks_per_node) == ("812", 2, 8, 4)
    assert job.gpus_on_node == 4 and job.restart_count == 0 and not job.interactive
    assert slurm_allocation(ONE_GPU_STEP).restart_count == 1


@pytest.mark.parametrize(
    ("env", "count"),
    [
        ({"SLURM_GPUS_ON_NODE": "2", "CUDA_VISIBLE_DEVICES": "0,1,2,3"}, 2),
        ({"CUDA_VISIBLE_DEVICES": "1,3,5"}, 3),
        ({"CUDA_VISIBLE_DEVICES": ""}, 0),
        ({"CUDA_VISIBLE_DEVICES": "NoDevFiles"}, 0),
        ({}, 0),
    ],
)
def test_visible_gpus_prefers_slurm_count(env, count):
    assert visible_gpus(env) == count


@pytest.mark.filterwarnings("ignore:The `srun` command is available")  # pytest is not srun'd
def test_srun_launched_tasks_are_lightning_processes_with_slurm_ranks():
    from lightning_fabric.plugins.environments import SLURMEnvironment

    launch = lightning_launch(MULTI_NODE)
    assert (launch.num_nodes, launch.devices, launch.accelerator) == (2, 4, "gpu")
    assert launch.slurm_managed
    kwargs = launch.trainer_kwargs()
    (environment,) = kwargs["plugins"]
    assert isinstance(environment, SLURMEnvironment)
    assert environment.auto_requeue and environment.requeue_signal == signal.SIGUSR1
    assert (kwargs["num_nodes"], kwargs["devices"]) == (2, 4)


def test_one_gpu_step_is_a_one_task_slurm_world():
    launch = lightning_launch(ONE_GPU_STEP)
    assert (launch.num_nodes, launch.devices, launch.slurm_managed) == (1, 1, True)


def test_one_task_with_several_gpus_lets_lightning_start_the_processes():
    from lightning_fabric.plugins.environments import LightningEnvironment

    env = {**ONE_GPU_STEP, "SLURM_GPUS_ON_NODE": "4", "CUDA_VISIBLE_DEVICES": "0,1,2,3"}
    launch = lightning_launch(env)
    assert (launch.devices, launch.slurm_managed) == (4, False)
    assert [type(p) for p in launch.plugins()] == [LightningEnvironment]


def test_interactive_allocation_is_not_slurm_managed():
    env = {**MULTI_NODE, "SLURM_JOB_NAME": "interactive", "SLURM_NTASKS": "1"}
    launch = lightning_launch(env)
    assert not launch.slurm_managed and launch.devices == 4


def test_several_tasks_without_tasks_per_node_is_refused_with_the_fix():
    env = {k: v for k, v in MULTI_NODE.items() if k != "SLURM_NTASKS_PER_NODE"}
    with pytest.raises(ValueError, match="--ntasks-per-node"):
        lightning_launch(env)


def test_single_gpu_rule_is_requeued_without_a_signal():
    assert pretrain_resources(1) == {"gpu": 1, "slurm_extra": "--requeue", "launch": "env"}


def test_multi_gpu_rule_launches_one_srun_task_per_gpu_and_warns_the_steps():
    resources = pretrain_resources(4, nodes=2)
    assert resources["gres"] == "gpu:4" and resources["nodes"] == 2
    assert resources["tasks_per_node"] == 4
    assert resources["mpi"] == "srun --nodes=2 --ntasks-per-node=4 --kill-on-bad-exit=1"
    assert resources["launch"] == resources["mpi"]
    assert resources["slurm_extra"] == "--requeue --signal=USR1@120"
    assert "B:" not in resources["slurm_extra"]  # the batch shell runs Snakemake, not training


def test_one_gpu_per_node_on_several_nodes_counts_tasks():
    resources = pretrain_resources(1, nodes=3)
    assert resources["tasks"] == 3 and "tasks_per_node" not in resources
    assert srun_prefix(1, 3) == "srun --nodes=3 --ntasks-per-node=1 --kill-on-bad-exit=1"


def test_extras_pass_the_executor_plugin_validation():
    """The plugin refuses options it manages itself inside slurm_extra."""
    import re

    from snakemake_executor_plugin_slurm.validation import get_forbidden_slurm_options

    for extra in (preemption_sbatch_args(1), preemption_sbatch_args(8, 4, warning_s=300)):
        for pattern in get_forbidden_slurm_options():
            assert not re.search(pattern, extra), (pattern, extra)
    assert preemption_sbatch_args(2, warning_s=300).endswith("--signal=USR1@300")


def test_run_writes_what_it_derived(tmp_path, monkeypatch):
    import json

    for name, value in ONE_GPU_STEP.items():
        monkeypatch.setenv(name, value)
    assert cli.main(["cluster", "--out", str(tmp_path / "launch.json")]) == 0
    written = json.loads((tmp_path / "launch.json").read_text())
    assert written["slurm"]["job_id"] == "77" and written["slurm"]["restart_count"] == 1
    assert written["lightning"]["devices"] == 1 and written["lightning"]["slurm_managed"]
    assert written["cuda_visible_devices"] == "0"


def test_describe_reports_a_refused_launch_instead_of_failing():
    from marlinflow.compute.slurm import describe

    env = {k: v for k, v in MULTI_NODE.items() if k != "SLURM_NTASKS_PER_NODE"}
    described = describe(env)
    assert described["slurm"]["tasks"] == 8 and described["rank"] == 5
    assert "--ntasks-per-node" in described["lightning"]["error"]


def test_cpu_accelerator_wins_over_the_allocations_gpus():
    """A GPU cluster's launch tried on CPUs: one CPU process per srun task, still SLURM's."""
    launch = lightning_launch(MULTI_NODE, accelerator="cpu")
    assert (launch.num_nodes, launch.devices, launch.accelerator) == (2, 4, "cpu")
    assert launch.slurm_managed
    one = lightning_launch(ONE_GPU_STEP, accelerator="cpu")
    assert (one.devices, one.accelerator, one.slurm_managed) == (1, "cpu", True)
    several = {**ONE_GPU_STEP, "SLURM_GPUS_ON_NODE": "4", "CUDA_VISIBLE_DEVICES": "0,1,2,3"}
    assert lightning_launch(several, accelerator="cpu").devices == 1  # no processes of its own


def test_auto_accelerator_follows_the_allocation():
    assert lightning_launch(ONE_GPU_STEP, accelerator="auto").accelerator == "gpu"
    no_gpu = {k: v for k, v in ONE_GPU_STEP.items() if "GPU" not in k and "CUDA" not in k}
    assert lightning_launch(no_gpu, accelerator="auto").accelerator == "cpu"
    assert lightning_launch(no_gpu, accelerator="gpu").accelerator == "gpu"  # kept as asked
