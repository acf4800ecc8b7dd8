"""Import encoder weights (released, Lightning or ours) into a self-describing encoder file.

The file records the geometry, given with ``--model`` or read from the source
(:func:`marlinflow.weights.importing.import_encoder`), so later steps never guess it from shapes.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import yaml

from marlinflow.errors import InputError
from marlinflow.models import ModelSize, resolve_size
from marlinflow.weights.importing import import_encoder


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


def run(args: argparse.Namespace) -> int:
    geometry = import_encoder(args.source, args.out, parse_size(args.model))
    shown = ", ".join(f"{key}={value}" for key, value in geometry.items())
    print(f"wrote {args.out} ({shown})")
    return 0
