"""The machine a benchmark row was measured on, in the words its table column uses."""

from __future__ import annotations

import os
import platform
from pathlib import Path

import torch


def cpu_model() -> str:
    cpuinfo = Path("/proc/cpuinfo")
    names = (
        [
            line.split(":", 1)[1].strip()
            for line in cpuinfo.read_text().splitlines()
            if line.startswith("model name")
        ]
        if cpuinfo.is_file()
        else []
    )
    return names[0] if names else platform.machine()


def describe(device: str = "cpu") -> str:
    """The GPU's name for a CUDA device; else the CPU model, its cores and torch's threads."""
    if device.startswith("cuda"):
        return f"{torch.cuda.get_device_name(device)}, torch {torch.__version__}"
    return (
        f"{cpu_model()}, {os.cpu_count()} cores, {torch.get_num_threads()} torch threads, "
        f"torch {torch.__version__}"
    )


CPU_FLAGS = ("avx512_bf16", "amx_bf16", "amx_tile")  # what bf16 matmuls can run on


def cpu_features() -> str:
    """Which of the bf16 instruction sets the CPU reports (``lscpu``'s flags, from
    /proc/cpuinfo) and the vector code torch's CPU kernels chose."""
    cpuinfo = Path("/proc/cpuinfo")
    flags: set[str] = set()
    if cpuinfo.is_file():
        for line in cpuinfo.read_text().splitlines():
            if line.startswith("flags"):
                flags = set(line.split(":", 1)[1].split())
                break
    present = ", ".join(f"{flag} {'yes' if flag in flags else 'no'}" for flag in CPU_FLAGS)
    return f"{present}; torch CPU capability {torch.backends.cpu.get_cpu_capability()}"


def load_average() -> str:
    """The 1-minute load average, with the machine's cores for scale."""
    return f"load {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores"
