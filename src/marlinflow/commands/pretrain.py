"""Pretrain MARLIN on parsed face videos (continues an unfinished run; writes encoder.pt).

``marlinflow pretrain CONFIG [--set key=value ...]``: CONFIG is a YAML or JSON file of
:class:`~marlinflow.pretrain.config.PretrainConfig` settings (or with a ``pretrain:`` section);
``--set`` overrides single settings, values read as YAML (``--set steps=100``).

A run folder holding a start with other settings or other parse records has it moved to
``superseded/<time>/`` first; one holding the same run finished restores its outputs
(:mod:`marlinflow.pretrain.rundir`).
"""

from __future__ import annotations

import argparse
import json

import yaml

from marlinflow.errors import InputError


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("config", help="YAML/JSON file of pretraining settings")
    parser.add_argument(
        "--set",
        dest="overrides",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="override one setting, e.g. --set batch_size=8 (repeatable)",
    )
    parser.add_argument("--run-dir", help="output folder (overrides the config's run_dir)")
    parser.add_argument("--index", nargs="+", help="parse records or folders of them (overrides)")


def parse_override(text: str) -> tuple[str, object]:
    key, sep, value = text.partition("=")
    if not sep or not key:
        raise InputError("--set", f"expected KEY=VALUE, got {text!r}")
    return key.strip(), yaml.safe_load(value)


def run(args: argparse.Namespace) -> int:
    from marlinflow.pretrain.config import PretrainConfig
    from marlinflow.pretrain.train import pretrain

    config = PretrainConfig.load(args.config)
    updates = dict(parse_override(item) for item in args.overrides)
    if args.run_dir:
        updates["run_dir"] = args.run_dir
    if args.index:
        updates["index"] = args.index
    config = PretrainConfig.from_dict({**config.to_dict(), **updates}, args.config)
    outputs = pretrain(config)
    print(json.dumps({name: str(path) for name, path in outputs.items()}))
    return 0
