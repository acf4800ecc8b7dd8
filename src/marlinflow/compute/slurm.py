"""Pretraining under SLURM: the job a process runs in, what Lightning is told, and what the
pretraining rule asks SLURM for (its Snakemake resources).

Two launch shapes work with snakemake-executor-plugin-slurm:

* One GPU on one node. The plugin runs the rule inside `srun -n1 --gpus=1`, so the training
  process is SLURM's single task: Lightning's SLURMEnvironment fits (one task, one device). The
  same job step also holds the job's Snakemake process, which has no handler for SIGUSR1 and
  would end the step on a time-limit warning, so this shape asks for `--requeue` only: a
  preempted job is put back in the queue whole and training resumes from `last.ckpt`.
* Several GPUs or nodes. The rule is an `mpi` rule: the plugin runs its shell command in the
  batch step, and the command starts training through `srun`, one task per GPU
  (`pretrain_resources` gives both shapes; the rule's shell starts with `{resources.launch}`). Every task is
  then a Lightning process with its rank from SLURM, and the time-limit warning
  (`--signal=USR1@120`, sent to job steps only) reaches the training processes alone: Lightning
  saves a checkpoint and requeues the job (`scontrol requeue`), whose next run has
  SLURM_RESTART_COUNT=1 and resumes.

Either way the run's accelerator setting still chooses the device: `cpu` trains on the CPU in a
GPU job, one process per srun task (how the tests run a GPU cluster's launch on simulated GPUs).
Outside SLURM nothing changes: Lightning starts its own processes, one per visible GPU. Where a
run resumes from is :mod:`marlinflow.pretrain.checkpointing`'s; ``marlinflow cluster`` shows
what this module derives (:func:`describe`).
"""

from __future__ import annotations

import math
import os
import re
import shlex
import shutil
import signal
import subprocess
from collections.abc import Mapping
from dataclasses import asdict, dataclass

REQUEUE_SIGNAL = signal.SIGUSR1
# Seconds before the time limit at which SLURM warns the job (time to write a checkpoint).
WARNING_SECONDS = 120
# Job names with which Lightning ignores SLURM (an interactive allocation, processes started
# by hand).
INTERACTIVE_NAMES = ("bash", "interactive")


@dataclass(frozen=True)
class SlurmAllocation:
    """The SLURM job and job step this process runs in, from its environment."""

    job_id: str
    nodes: int
    tasks: int
    tasks_per_node: int | None  # set when srun started a fixed number of tasks on each node
    gpus_on_node: int
    restart_count: int
    interactive: bool


def _first_int(value: str | None) -> int | None:
    """SLURM writes counts as `4`, or per node as `4(x2)` / `4,2`: the first number."""
    match = re.match(r"\s*(\d+)", value or "")
    return int(match.group(1)) if match else None


def visible_gpus(env: Mapping[str, str]) -> int:
    """GPUs on this node for this job: SLURM's count, else CUDA_VISIBLE_DEVICES' entries."""
    on_node = _first_int(env.get("SLURM_GPUS_ON_NODE"))
    if on_node is not None:
        return on_node
    devices = env.get("CUDA_VISIBLE_DEVICES", "").strip()
    if not devices or devices in ("-1", "NoDevFiles"):
        return 0
    return len([d for d in devices.split(",") if d.strip()])


def slurm_allocation(env: Mapping[str, str] | None = None) -> SlurmAllocation | None:
    """The SLURM job of this process, or None outside SLURM (no SLURM_JOB_ID)."""
    env = os.environ if env is None else env
    job_id = env.get("SLURM_JOB_ID") or env.get("SLURM_JOBID")
    if not job_id:
        return None
    return SlurmAllocation(
        job_id=job_id,
        nodes=_first_int(env.get("SLURM_NNODES") or env.get("SLURM_JOB_NUM_NODES")) or 1,
        tasks=_first_int(env.get("SLURM_NTASKS")) or 1,
        tasks_per_node=_first_int(env.get("SLURM_NTASKS_PER_NODE")),
        gpus_on_node=visible_gpus(env),
        restart_count=_first_int(env.get("SLURM_RESTART_COUNT")) or 0,
        interactive=env.get("SLURM_JOB_NAME") in INTERACTIVE_NAMES,
    )


@dataclass(frozen=True)
class LightningLaunch:
    """Trainer settings for where the process runs.

    slurm_managed: SLURM started one process per device (Lightning's SLURMEnvironment, with
    requeue on REQUEUE_SIGNAL); otherwise Lightning starts the processes itself.
    """

    num_nodes: int
    devices: int
    accelerator: str
    slurm_managed: bool
    in_slurm: bool

    def plugins(self) -> list:
        """The cluster environment to hand to the Trainer (none outside SLURM)."""
        from lightning_fabric.plugins.environments import LightningEnvironment, SLURMEnvironment

        if self.slurm_managed:
            return [SLURMEnvironment(auto_requeue=True, requeue_signal=REQUEUE_SIGNAL)]
        # Inside SLURM with one task for several devices, Lightning would take SLURM's single
        # task for the whole world: make it launch its own processes instead.
        return [LightningEnvironment()] if self.in_slurm else []

    def trainer_kwargs(self) -> dict:
        return {
            "num_nodes": self.num_nodes,
            "devices": self.devices,
            "accelerator": self.accelerator,
            "plugins": self.plugins(),
        }


def lightning_launch(
    env: Mapping[str, str] | None = None, accelerator: str = "auto"
) -> LightningLaunch:
    """Derive num_nodes, devices and who starts the processes from the environment.

    ``accelerator`` is the run's own setting. ``cpu`` wins over the allocation's GPUs: the
    tasks are then CPU processes, as many as srun started (a GPU cluster's launch, tried out
    on CPUs). ``auto`` takes the GPUs when the job has any; another name is kept as given.
    """
    env = os.environ if env is None else env
    job = slurm_allocation(env)
    gpus = 0 if accelerator == "cpu" else visible_gpus(env)
    if accelerator == "auto":
        accelerator = "gpu" if gpus else "cpu"
    if job is None or job.interactive or "SLURM_NTASKS" not in env:
        return LightningLaunch(1, max(gpus, 1), accelerator, False, job is not None)
    if job.tasks > 1:
        if job.tasks_per_node is None:
            raise ValueError(
                f"SLURM job {job.job_id} runs {job.tasks} tasks without --ntasks-per-node; "
                "start training with srun --ntasks-per-node=<GPUs per node>"
            )
        return LightningLaunch(job.nodes, job.tasks_per_node, accelerator, True, True)
    if gpus <= 1:  # one task, one device: SLURM's task is the whole world
        return LightningLaunch(1, 1, accelerator, True, True)
    return LightningLaunch(1, gpus, accelerator, False, True)


def srun_prefix(gpus_per_node: int, nodes: int = 1) -> str:
    """The launch of a multi-GPU training command inside the job: one task per GPU."""
    args = ["srun", f"--nodes={nodes}", f"--ntasks-per-node={max(gpus_per_node, 1)}"]
    # One failing rank ends the step instead of leaving the others waiting in a collective.
    args.append("--kill-on-bad-exit=1")
    return shlex.join(args)


def preemption_sbatch_args(
    gpus_per_node: int, nodes: int = 1, warning_s: int = WARNING_SECONDS
) -> str:
    """sbatch options for a requeueable training job (the rule's `slurm_extra`)."""
    if gpus_per_node * nodes <= 1:
        return "--requeue"
    # No "B:": the warning goes to the job steps (the srun'd training processes), not to the
    # batch shell that runs the job's Snakemake.
    return f"--requeue --signal={REQUEUE_SIGNAL.name.removeprefix('SIG')}@{warning_s}"


# A shard job's request (dataset.shard_size): minutes of one worker per video and step, generous
# beside the measured rates (BENCHMARKS.md: a few seconds for a clip of a few hundred frames),
# and memory per worker process (a 720p video tracks in under 1 GB; FaRL parsing takes more).
SHARD_MINUTES_PER_VIDEO = {"download": 1.0, "track": 2.0, "parse": 1.0, "audio": 0.5}
SHARD_MIN_RUNTIME = 30
SHARD_MEM_MB_PER_WORKER = 3000
SHARD_MEM_MB_BASE = 2000


def shard_runtime(stage: str, videos: int, workers: int) -> int:
    """Minutes a shard job of ``stage`` asks for: its videos shared among its workers."""
    per_worker = math.ceil(videos / max(workers, 1))
    return max(SHARD_MIN_RUNTIME, math.ceil(per_worker * SHARD_MINUTES_PER_VIDEO[stage]))


def shard_mem_mb(workers: int) -> int:
    """Memory (MB) a shard job asks for: the Snakemake job and each worker process."""
    return SHARD_MEM_MB_BASE + SHARD_MEM_MB_PER_WORKER * max(workers, 1)


def pretrain_resources(gpus_per_node: int, nodes: int = 1) -> dict:
    """Snakemake `resources:` for the pretraining rule on SLURM.

    The rule's shell starts with `{resources.launch}` in both shapes: `env` (a no-op) where the
    executor's own srun step is the one training task, the srun launch for several GPUs (then
    the rule is an `mpi` rule, which the executor runs in the batch step without its srun).
    """
    resources = {"slurm_extra": preemption_sbatch_args(gpus_per_node, nodes)}
    if gpus_per_node * nodes <= 1:
        return {**resources, "gpu": max(gpus_per_node, 0), "launch": "env"}
    launch = srun_prefix(gpus_per_node, nodes)
    resources.update(gres=f"gpu:{gpus_per_node}", nodes=nodes, mpi=launch, launch=launch)
    if gpus_per_node > 1:
        resources["tasks_per_node"] = gpus_per_node
    else:  # the plugin accepts tasks_per_node only above 1
        resources["tasks"] = nodes
    return resources


def describe(env: Mapping[str, str] | None = None) -> dict:
    """The SLURM job and the derived Lightning launch, as plain data (for logs and checks)."""
    env = os.environ if env is None else env
    job = slurm_allocation(env)
    try:
        launch = asdict(lightning_launch(env))
    except ValueError as err:  # a launch Lightning would refuse: say why
        launch = {"error": str(err)}
    return {
        "slurm": None if job is None else asdict(job),
        "lightning": launch,
        "cuda_visible_devices": env.get("CUDA_VISIBLE_DEVICES"),
        "rank": _first_int(env.get("SLURM_PROCID")),
    }


def controller_problem(timeout_s: float = 20.0) -> str | None:
    """Why jobs cannot go to SLURM from this machine: no SLURM commands, or a controller that
    does not answer ``squeue``; None when it answers. Asked before a workflow submits anything,
    so that a machine without SLURM gets this one line instead of a stalled run."""
    missing = [command for command in ("sbatch", "squeue") if shutil.which(command) is None]
    if missing:
        return (
            f"{' and '.join(missing)} not found: this machine has no SLURM client; run from "
            "the cluster's login node, or without --profile slurm (snakemake --cores all)"
        )
    try:
        done = subprocess.run(
            ["squeue", "--noheader", "--me"], capture_output=True, text=True, timeout=timeout_s
        )
    except subprocess.TimeoutExpired:
        return (
            f"squeue did not answer within {timeout_s:.0f} s: the SLURM controller is unreachable"
        )
    if done.returncode != 0:
        said = " ".join(done.stderr.split())[:300] or f"exit status {done.returncode}"
        return f"squeue cannot reach the SLURM controller ({said})"
    return None
