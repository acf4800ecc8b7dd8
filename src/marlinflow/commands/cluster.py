"""Show the SLURM job this runs in and the Lightning launch derived from it.

Prints (or writes with ``--out``) :func:`marlinflow.compute.slurm.describe` as JSON. Where the
``marlinflow`` command is not installed, ``python -m marlinflow.cli cluster`` does the same.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from marlinflow.atomic import write_json
from marlinflow.compute.slurm import describe


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--out", type=Path, help="write the JSON here instead of printing it")


def run(args: argparse.Namespace) -> int:
    if args.out:
        write_json(args.out, describe())
    else:
        print(json.dumps(describe(), indent=2))
    return 0
