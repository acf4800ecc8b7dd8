"""The arguments of a per-video verb given a whole shard: a list of upstream records in, a
shard list out (:mod:`marlinflow.shards`)."""

from __future__ import annotations

import argparse
from pathlib import Path

from marlinflow.errors import InputError
from marlinflow.shards import SHARD_LIST_SUFFIX


def add_arguments(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group(
        "a shard of videos",
        f"IN and OUT may be shard lists ({SHARD_LIST_SUFFIX}: one record path a line): every "
        "video of IN is run, each record written to --into, and OUT lists them",
    )
    group.add_argument("--into", type=Path, help="folder of the videos' records (with a list)")
    group.add_argument(
        "--workers", type=int, default=1, help="videos run at a time, each in its own process"
    )


def is_list(path: str | Path) -> bool:
    return Path(path).suffix == SHARD_LIST_SUFFIX


def check(args: argparse.Namespace, source: str | Path, out: str | Path) -> bool:
    """Whether the verb runs a shard (``source`` and ``out`` lists, with ``--into``)."""
    if not (is_list(source) or is_list(out)):
        return False
    if not (is_list(source) and is_list(out)):
        raise InputError(out, f"a shard's IN and OUT are both lists ({SHARD_LIST_SUFFIX})")
    if args.into is None:
        raise InputError(out, "a shard needs --into: the folder of its videos' records")
    if args.workers < 1:
        raise InputError("--workers", f"must be at least 1, not {args.workers}")
    return True
