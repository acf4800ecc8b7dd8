"""Check workflow config files as Snakemake will read them, naming the file and line of a mistake.

``marlinflow check-config my.yaml [more.yaml ...]`` merges ``config/config.yaml`` (which the
workflow reads first) and the files given, left to right, validates the result against the
schema and the data set registry, and checks the experiment it describes. Snakemake's own message
for a YAML syntax error in a ``--configfile`` does not say which file; this one does.
"""

from __future__ import annotations

import argparse

import yaml

from marlinflow.commands._configs import add_config_arguments, read_configs


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_config_arguments(parser)
    parser.add_argument("--show", action="store_true", help="print the merged config")


def run(args: argparse.Namespace) -> int:
    from marlinflow.experiment.spec import experiment_from_config

    paths, config = read_configs(args)
    experiment = experiment_from_config(config)
    if args.show:
        print(yaml.safe_dump(config, sort_keys=False), end="")
    shown = " + ".join(map(str, paths)) or "the defaults"
    print(
        f"{shown}: valid; experiment {experiment.name}, data sets {', '.join(experiment.datasets)}"
    )
    return 0
