"""The config files a verb reads, merged as the workflow merges them: ``config/config.yaml``
first (every run reads it), then the files given, left to right, later keys winning."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

BASE = Path("config/config.yaml")


def add_config_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("configs", nargs="*", type=Path, help="config files, as for --configfile")
    parser.add_argument(
        "--no-base", action="store_true", help=f"do not read {BASE} first (a file of your own)"
    )


def read_configs(args: argparse.Namespace) -> tuple[list[Path], dict[str, Any]]:
    """The files read, and their merged config, validated against the schema and registry."""
    from marlinflow.config import load_config

    paths = ([] if args.no_base or not BASE.is_file() else [BASE]) + list(args.configs)
    return paths, load_config(*paths)
