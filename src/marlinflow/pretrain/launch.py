"""Where the processes of a pretraining run live: the config's devices, or the SLURM job's.

Inside a SLURM job the allocation decides (``marlinflow.compute.slurm``): nodes, devices per node, and
the cluster environment that gives each srun task its rank and requeues the job on the
time-limit warning. The config's ``accelerator`` still chooses the device kind: ``cpu`` trains
on the CPU even in a GPU allocation, one process per srun task; ``auto`` takes the job's GPUs,
and a GPU run where CUDA finds no device stops at once with the reason. Elsewhere the config's
``accelerator``, ``devices`` and ``num_nodes`` decide, and Lightning starts its own processes.
"""

from __future__ import annotations

import logging
import os
import signal
import subprocess
import time
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import pytorch_lightning as pl
import torch
from pytorch_lightning.strategies import DDPStrategy, Strategy

from marlinflow.compute.slurm import (
    REQUEUE_SIGNAL,
    WARNING_SECONDS,
    SlurmAllocation,
    lightning_launch,
    slurm_allocation,
)
from marlinflow.errors import InputError
from marlinflow.pretrain.checkpointing import next_requeue_checkpoint, requeue_checkpoints
from marlinflow.pretrain.config import PretrainConfig

log = logging.getLogger(__name__)
# Accelerator names that need CUDA (Lightning's "gpu" is CUDA or Apple's MPS; clusters run CUDA).
GPU_ACCELERATORS = ("gpu", "cuda")


def trainer_placement(
    config: PretrainConfig, environ: Mapping[str, str] | None = None
) -> dict[str, Any]:
    """``num_nodes``, ``devices``, ``accelerator`` and ``plugins`` for the Trainer."""
    environ = os.environ if environ is None else environ
    job = slurm_allocation(environ)
    if job is None:
        return {
            "num_nodes": config.num_nodes,
            "devices": config.devices,
            "accelerator": config.accelerator,
            "plugins": [],
        }
    try:
        placement = lightning_launch(environ, config.accelerator).trainer_kwargs()
    except ValueError as err:  # a task layout Lightning cannot map to ranks
        raise InputError(f"SLURM job {job.job_id}", str(err)) from err
    if placement["accelerator"] in GPU_ACCELERATORS and not torch.cuda.is_available():
        raise InputError(f"SLURM job {job.job_id}", no_cuda_reason(job.gpus_on_node))
    log.info(
        "SLURM job %s: %d node(s) x %d %s device(s)",
        job.job_id,
        placement["num_nodes"],
        placement["devices"],
        placement["accelerator"],
    )
    return placement


def no_cuda_reason(gpus_on_node: int) -> str:
    """Why a GPU run cannot start here, and the setting that trains on the CPU instead."""
    given = f"was given {gpus_on_node} GPU(s)" if gpus_on_node else "has no GPU"
    return (
        f"the run asks for GPUs and the job {given}, but CUDA finds no usable device here "
        f"(torch {torch.__version__}, CUDA build {torch.version.cuda}); set the pretrain "
        "setting accelerator: cpu to train on the CPU"
    )


def world_size(placement: Mapping[str, Any]) -> int:
    """Processes the run will have (``devices: auto`` takes every GPU, or one CPU process)."""
    devices = placement["devices"]
    if isinstance(devices, (list, tuple)):  # explicit device ids
        devices = len(devices)
    if devices in ("auto", "-1", -1):
        wants_gpu = placement["accelerator"] in ("auto", "gpu", "cuda")
        devices = torch.cuda.device_count() if wants_gpu and torch.cuda.is_available() else 1
    return int(devices) * int(placement["num_nodes"])


def build_strategy(strategy: str, world: int) -> str | Strategy:
    """DDP whenever there are several processes, with unused-parameter search: each backward
    (critic, then generator) reaches only part of the networks, which plain DDP would take for
    an error."""
    if strategy == "ddp" or (strategy == "auto" and world > 1):
        return DDPStrategy(find_unused_parameters=True)
    return strategy


def scontrol_requeue(job_id: str) -> bool:
    """Put the job back in the queue (SLURM then ends this run of it)."""
    done = subprocess.run(["scontrol", "requeue", job_id], capture_output=True, text=True)
    if done.returncode != 0:
        log.warning("scontrol requeue %s: %s", job_id, done.stderr.strip())
    return done.returncode == 0


def wait_for_the_end(limit_s: float = 2 * WARNING_SECONDS) -> None:
    """Wait for the requeue to end this process (the job's time limit is at most the
    warning's lead away anyway)."""
    time.sleep(limit_s)
    raise RuntimeError(f"the requeued job was not stopped within {limit_s:.0f} s")


class RequeueAtBatchEnd(pl.Callback):
    """Checkpoint and requeue on SLURM's time-limit warning, between two iterations.

    Lightning's own handler saves inside the signal handler, wherever training is: between the
    critic's and the generator's step of one iteration (a resume then repeats half of it), or
    on one rank while the others wait in a collective. This callback takes the signal over once
    training starts: the handler only notes it; after the batch in progress, the ranks agree
    whether any was warned, all take part in writing the next requeue checkpoint (which
    :func:`marlinflow.pretrain.checkpointing.resume_checkpoint` finds) and rank 0 requeues the
    job. The processes then wait for SLURM to end them, writing nothing more. Outside SLURM it
    does nothing.
    """

    def __init__(self, run_dir: str | Path, requeue: Callable[[str], bool] = scontrol_requeue):
        self.run_dir, self.requeue = Path(run_dir), requeue
        self.job: SlurmAllocation | None = None
        self.warned = False

    def on_train_start(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        self.job = slurm_allocation()
        if self.job is not None:
            signal.signal(REQUEUE_SIGNAL, self.note_warning)  # Lightning restores it at the end

    def note_warning(self, signum: int, frame: object) -> None:
        self.warned = True

    def on_train_batch_end(self, trainer: pl.Trainer, pl_module, outputs, batch, batch_idx) -> None:
        if self.job is None or not trainer.strategy.reduce_boolean_decision(self.warned, all=False):
            return
        path = self.save(trainer)
        log.info("saved %s on SLURM's time-limit warning", path)
        if self.requeued(trainer):
            wait_for_the_end()
        log.warning("could not requeue SLURM job %s; training on", self.job.job_id)
        self.warned = False

    def requeued(self, trainer: pl.Trainer) -> bool:
        """Rank 0 requeues the job; every rank learns whether it did."""
        # The run is saved: the requeue's SIGTERM may end this process at once from here on.
        previous = signal.signal(signal.SIGTERM, signal.SIG_DFL)
        if trainer.is_global_zero:  # said first: once requeued, SLURM may stop us at any line
            log.info("requeueing SLURM job %s; SLURM stops it once requeued", self.job.job_id)
        done = trainer.is_global_zero and self.requeue(self.job.job_id)
        if not trainer.strategy.broadcast(done, src=0):
            signal.signal(signal.SIGTERM, previous)
            return False
        return True

    def save(self, trainer: pl.Trainer) -> Path:
        path = next_requeue_checkpoint(self.run_dir)
        path = trainer.strategy.broadcast(path, src=0)  # rank 0's numbering
        partial = path.with_name(f".{path.name}.partial")
        trainer.save_checkpoint(partial, weights_only=False)  # every rank takes part; rank 0 writes
        if trainer.is_global_zero:
            os.replace(partial, path)
            # earlier ones are older than this: a resume never reads them (a model each)
            for stale in requeue_checkpoints(self.run_dir):
                if stale != path:
                    stale.unlink(missing_ok=True)
        trainer.strategy.barrier("requeue_checkpoint")
        return path
