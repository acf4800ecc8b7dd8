"""Torch devices by name, with ``auto``: the GPU where CUDA sees one, else the CPU."""

from __future__ import annotations

import torch

from marlinflow.errors import InputError


def resolve_device(name: str) -> str:
    """``auto`` -> ``cuda`` or ``cpu``; any other name is checked by torch and returned.

    A CUDA device asked for where CUDA sees none is refused with the reason (a GPU job on a
    node whose GPU is not visible) rather than failing inside the first forward pass.
    """
    if name == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    try:
        device = torch.device(name)
    except RuntimeError as err:
        raise InputError(name, f"not a torch device ({err})") from None
    if device.type == "cuda" and not torch.cuda.is_available():
        raise InputError(name, "CUDA sees no GPU here; use --device cpu or auto")
    return name


def device_of(module: torch.nn.Module) -> torch.device:
    """The device a module's parameters are on (the CPU for a module without any)."""
    return next(module.parameters(), torch.empty(0)).device
