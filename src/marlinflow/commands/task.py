"""Build a downstream task table from a data set's own label files (or a CSV of your own).

``marlinflow task NAME SOURCE --out tasks/NAME.tsv`` writes the table and its ``.json`` spec.
NAME is a task of a data set (:mod:`marlinflow.datasets`); ``marlinflow task NAME --help`` says
what its SOURCE is and lists its options, as the data set declares them.
"""

from __future__ import annotations

import argparse
import os
from pathlib import Path
from typing import Any

from marlinflow import datasets
from marlinflow.config import cli_options, flag

# Keys of a config's task that a builder may take as options (as the csv task does).
SPEC_OPTIONS = {"task_name": "name", "kind": "kind", "label_columns": "label_columns"}


def add_arguments(parser: argparse.ArgumentParser) -> None:
    names = parser.add_subparsers(dest="name", metavar="NAME", required=True)
    for dataset in datasets.registered().values():
        for builder in dataset.tasks:
            sub = names.add_parser(builder.name, help=f"{dataset.title}: {builder.source}")
            sub.add_argument("source", type=Path, help=builder.source)
            sub.add_argument("--out", type=Path, required=True, help="task table TSV to write")
            sub.add_argument("--seed", type=int, default=0, help="seed of hashed splits")
            for option in builder.options:
                _add_option(sub, option)


def _add_option(parser: argparse.ArgumentParser, option: datasets.Option) -> None:
    settings: dict[str, Any] = {"type": option.type, "default": option.default}
    if option.choices:
        settings |= {"choices": option.choices, "metavar": option.name.upper()}
    if option.many:
        settings["nargs"] = "+"
    parser.add_argument(flag(option.name), help=_help(option), **settings)


def _help(option: datasets.Option) -> str:
    """The option's help, with its choices and its default."""
    notes = [", ".join(map(str, option.choices))] if option.choices else []
    if option.default is not None and not option.many:
        notes.append(f"default {option.default}")
    return f"{option.help} ({'; '.join(notes)})" if notes else option.help


def run(args: argparse.Namespace) -> int:
    builder = datasets.task(args.name)
    options = {option.name: getattr(args, option.name) for option in builder.options}
    task = builder.make(args.source, args.seed, **options)
    task.save(args.out)
    print(f"{args.out}: {task.name} ({task.kind}), {task.counts()}, {len(task.excluded)} excluded")
    return 0


def workflow_arguments(spec: dict[str, Any], source: str, seed: int, root: str) -> list[str]:
    """The arguments (but ``--out``) that build a config's task (``downstream.tasks`` item)
    from ``source``: the spec's keys its builder takes, then its options, files of the data set
    read under ``root``."""
    declared = {option.name: option for option in datasets.task(spec["adapter"]).options}
    options = {key: spec[own] for key, own in SPEC_OPTIONS.items() if key in declared}
    options |= spec["options"]
    options = {
        key: os.path.join(root, value) if value and declared[key].in_root else value
        for key, value in options.items()
    }
    return [spec["adapter"], source, "--seed", str(seed), *cli_options(options)]
