"""Where the processes of a pretraining run live: the config's devices, or the SLURM job's.

Inside a SLURM job the allocation decides (``marlinflow.cluster``): nodes, devices per node, the
accelerator, and the cluster environment that gives each srun task its rank and requeues the
job on the time-limit warning. Elsewhere the config's ``accelerator``, ``devices`` and
``num_nodes`` do, and Lightning starts its own processes.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Mapping
from typing import Any

import torch
from pytorch_lightning.strategies import DDPStrategy, Strategy

from marlinflow.cluster import lightning_launch, slurm_allocation
from marlinflow.errors import InputError
from marlinflow.pretrain.config import PretrainConfig

log = logging.getLogger(__name__)


def trainer_placement(
    config: PretrainConfig, environ: Mapping[str, str] | None = None
) -> dict[str, Any]:
    """``num_nodes``, ``devices``, ``accelerator`` and ``plugins`` for the Trainer."""
    environ = os.environ if environ is None else environ
    job = slurm_allocation(environ)
    if job is None:
        return {"num_nodes": config.num_nodes, "devices": config.devices,
                "accelerator": config.accelerator, "plugins": []}  # fmt: skip
    try:
        placement = lightning_launch(environ).trainer_kwargs()
    except ValueError as err:  # a task layout Lightning cannot map to ranks
        raise InputError(f"SLURM job {job.job_id}", str(err)) from err
    log.info("SLURM job %s: %d node(s) x %d %s device(s)", job.job_id,
             placement["num_nodes"], placement["devices"], placement["accelerator"])  # fmt: skip
    return placement


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
