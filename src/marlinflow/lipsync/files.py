"""Lip-sync network files that describe themselves: the expert and the generator.

A file holds its ``format`` (one per kind of network; another is refused, not misread), the
state dict, the keyword arguments that rebuild the network (``config``: plain values) and its
provenance (what it was trained from, with the code version and time, as encoder files record
it). Everything loads with ``torch.load(weights_only=True)``.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import torch

from marlinflow.atomic import atomic_path
from marlinflow.errors import InputError
from marlinflow.weights.checkpoints import plain, read_checkpoint, stamp


def save_network(
    path: str | Path,
    kind: str,
    network: torch.nn.Module,
    config: Mapping[str, Any],
    provenance: Mapping[str, Any] | None = None,
) -> Path:
    """Write ``network`` as a ``kind`` file, atomically."""
    data = {
        "format": kind,
        "state_dict": {key: value.cpu() for key, value in network.state_dict().items()},
        "config": plain(dict(config)),
        "provenance": {**plain(dict(provenance or {})), **stamp()},
    }
    with atomic_path(path) as tmp:
        torch.save(data, tmp)
    return Path(path)


def read_network(path: str | Path, kind: str) -> dict[str, Any]:
    """The contents of a ``kind`` file; a file of another kind is an :class:`InputError`."""
    data = read_checkpoint(path)
    if data.get("format") != kind:
        found = data.get("format", "no format")
        raise InputError(path, f"not a {kind} file (it holds {found!r})")
    return data


def load_state(network: torch.nn.Module, data: Mapping[str, Any], path: str | Path) -> None:
    """Load a file's state dict into ``network`` strictly, naming the file when it does not fit."""
    try:
        network.load_state_dict(data["state_dict"], strict=True)
    except RuntimeError as err:
        first = str(err).splitlines()[0]
        raise InputError(
            path, f"its weights do not fit the network it describes ({first})"
        ) from err
