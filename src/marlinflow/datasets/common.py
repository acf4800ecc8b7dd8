"""What the data set modules share: safe ids, the downloaded folder, JSON. (Deterministic splits
are :mod:`marlinflow.downstream.splits`.)"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import TYPE_CHECKING, Any

from marlinflow.errors import InputError

if TYPE_CHECKING:
    from marlinflow.datasets.registry import Dataset

_UNSAFE = re.compile(r"[^A-Za-z0-9_.-]")


def require_root(dataset: Dataset, root: str | Path | None) -> Path:
    """The data set's folder, or an error saying what to download and where to put it."""
    gate = dataset.gate
    if gate is None:
        raise ValueError(f"data set {dataset.name!r} is not downloaded under a licence")
    if root is None:
        raise InputError(
            f"dataset.root ({dataset.name})",
            f"{dataset.title} is read from a folder you download from {gate.page}: {gate.how}; "
            "then set dataset.root to that folder",
        )
    root = Path(root)
    if not (root / gate.expect).exists():
        raise InputError(
            root / gate.expect,
            f"{dataset.title} not found: {gate.how} (see {gate.page})",
        )
    return root


def safe_id(*parts: str) -> str:
    """Parts joined by ``__`` with every character a file name dislikes replaced by ``_``."""
    return "__".join(_UNSAFE.sub("_", p) for p in parts)


def read_json(path: Path) -> Any:
    """A JSON file of a data set, or an error naming the file."""
    if not path.is_file():
        raise InputError(path, "file not found")
    try:
        return json.loads(path.read_text())
    except (ValueError, UnicodeDecodeError) as err:
        raise InputError(path, f"not valid JSON ({err})") from err
