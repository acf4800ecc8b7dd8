"""Check workflow config files as Snakemake will read them, naming the file and line of a mistake.

``marlinflow check-config my.yaml [more.yaml ...]`` merges ``config/config.yaml`` (which the
workflow reads first) and the files given, left to right, validates the result against the
schema and the data set registry, and checks the experiment it describes. Snakemake's own message
for a YAML syntax error in a ``--configfile`` does not say which file; this one does.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import yaml

BASE = Path("config/config.yaml")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("configs", nargs="*", type=Path, help="config files, as for --configfile")
    parser.add_argument(
        "--no-base", action="store_true", help=f"do not read {BASE} first (a file of your own)"
    )
    parser.add_argument("--show", action="store_true", help="print the merged config")


def run(args: argparse.Namespace) -> int:
    from marlinflow.config import load_config
    from marlinflow.experiment.spec import experiment_from_config

    paths = ([] if args.no_base or not BASE.is_file() else [BASE]) + list(args.configs)
    config = load_config(*paths)
    experiment = experiment_from_config(config)
    if args.show:
        print(yaml.safe_dump(config, sort_keys=False), end="")
    shown = " + ".join(map(str, paths)) or "the defaults"
    print(
        f"{shown}: valid; experiment {experiment.name}, data sets {', '.join(experiment.datasets)}"
    )
    return 0
