"""Convert MARLIN weights to the official layout of the released files.

Reads a ``.pt`` state dict, one of our weights files or a Lightning ``.ckpt``
(:func:`marlinflow.weights.checkpoints.load_model`) and writes the plain state dict the official package
loads (:func:`marlinflow.weights.checkpoints.export_official`): the encoder only, or with ``--full`` the
decoder too.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from marlinflow.weights.checkpoints import export_official, load_model


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("checkpoint", type=Path, help="weights: .pt state dict or Lightning .ckpt")
    parser.add_argument("output", type=Path, help="where to write the official-layout .pt file")
    parser.add_argument(
        "--full", action="store_true", help="keep the decoder (default: encoder only)"
    )
    parser.add_argument("--size", help="model size name (default: read from the weights)")


def run(args: argparse.Namespace) -> int:
    model = load_model(args.checkpoint, args.size, full=bool(args.full))
    export_official(model, args.output, full=args.full)
    print(f"wrote {args.output} ({model.size.name}, {'full' if args.full else 'encoder'})")
    return 0
