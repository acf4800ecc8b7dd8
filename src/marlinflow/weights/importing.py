"""Import encoder weights (released, Lightning or ours) into a self-describing encoder file.

Pinning the geometry once, at import, means every later step reads it from the file instead of
guessing it from tensor shapes; the file also records which source file (by SHA-256) it came
from.
"""

from __future__ import annotations

import dataclasses
import hashlib
from pathlib import Path
from typing import Any

from marlinflow.models import ModelSize
from marlinflow.weights.checkpoints import (
    encoder_info,
    model_from_checkpoint,
    read_checkpoint,
    save_encoder,
)


def sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def import_encoder(source: Path, out: Path, size: ModelSize | None = None) -> dict[str, Any]:
    """Write ``source``'s encoder to ``out`` with its geometry; returns the geometry written.
    InputError when ``source`` cannot be loaded or its geometry is ambiguous without ``size``."""
    data = read_checkpoint(source)
    model = model_from_checkpoint(data, source, size, full=False)
    provenance = {
        "kind": "external",
        "source": str(Path(source).resolve()),
        "source_sha256": sha256(Path(source)),
    }
    info = encoder_info(data, source)
    if info is not None:
        provenance["source_provenance"] = info["provenance"]
    save_encoder(model, out, provenance)
    return dataclasses.asdict(model.size)
