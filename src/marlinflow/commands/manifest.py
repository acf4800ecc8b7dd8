"""Write the manifest of the configured data set: built from its own files, or your own TSV.

The config's ``dataset.builder`` names the data set (:mod:`marlinflow.datasets`); a gated data
set missing from ``dataset.root`` gets a message saying what to download and where to put it.
"""

from __future__ import annotations

import argparse
from pathlib import Path


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("config", type=Path, help="workflow config (YAML) with a dataset section")
    parser.add_argument("out", type=Path, help="manifest TSV to write")


def run(args: argparse.Namespace) -> int:
    from marlinflow.config import load_config
    from marlinflow.datasets import build_manifest
    from marlinflow.manifest import write_manifest

    table = build_manifest(load_config(args.config)["dataset"])
    write_manifest(table, args.out)
    print(f"{args.out}: {len(table)} videos, splits {table['split'].value_counts().to_dict()}")
    return 0
