"""Import encoder weights (released, Lightning or ours) into a self-describing encoder file.

Pinning the geometry once, at import, means every later step reads it from the file instead of
guessing it from tensor shapes; the file also records which source file (by SHA-256) it came
from.
"""

from __future__ import annotations

import argparse
import dataclasses
import hashlib
import sys
from pathlib import Path
from typing import Any

import yaml

from marlinflow.checkpoints import (
    encoder_info,
    model_from_checkpoint,
    read_checkpoint,
    save_encoder,
)
from marlinflow.errors import InputError
from marlinflow.models import ModelSize, resolve_size


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("source", type=Path, help="weights: released .pt, Lightning .ckpt, ours")
    parser.add_argument("--out", type=Path, required=True, help="the encoder file to write")
    parser.add_argument(
        "--model",
        help="the size: a registered name or a mapping such as '{name: tiny, img_size: 128}' "
        "(default: recorded in the file, else read from the weights' shapes when unambiguous)",
    )


def parse_size(text: str | None) -> ModelSize | None:
    """``--model``'s size: a registered name, or a YAML/JSON mapping when it starts with ``{``."""
    if text is None:
        return None
    try:
        spec = yaml.safe_load(text) if text.lstrip().startswith("{") else text
        return resolve_size(spec)
    except (yaml.YAMLError, KeyError, TypeError, ValueError) as err:
        message = err.args[0] if isinstance(err, KeyError) else err
        raise InputError("--model", f"not a model size ({message})") from err


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


def run(args: argparse.Namespace) -> int:
    """Import weights (``import-encoder``)."""
    try:
        geometry = import_encoder(args.source, args.out, parse_size(args.model))
    except InputError as err:
        print(f"error: {err}", file=sys.stderr)
        return 1
    shown = ", ".join(f"{key}={value}" for key, value in geometry.items())
    print(f"wrote {args.out} ({shown})")
    return 0
