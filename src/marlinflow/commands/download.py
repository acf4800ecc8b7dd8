"""Fetch one manifest video into data/raw and write its stage record.

``marlinflow download --source S [--sha256 H] [--start T --end T] [--base DIR] OUT_STATUS``
writes ``<id>.<container>`` (mp4, webm, mkv ... as fetched) beside ``OUT_STATUS``; a source that cannot be fetched gets a record saying
why and the command still exits 0, so one bad video never stops a run. The network settings are
the config's ``download`` section. ``marlinflow download --rows SHARD.tsv --into DIR OUT.txt``
fetches a shard: every row of a manifest TSV, ``--workers`` at a time (:mod:`marlinflow.shards`).
"""

from __future__ import annotations

import argparse

from marlinflow.commands import _flags, _shard
from marlinflow.download.http import RetryPolicy
from marlinflow.download.step import download_shard, download_video
from marlinflow.errors import InputError


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "out_status", metavar="OUT_STATUS", help="<dir>/<id>.status.json, or a shard list"
    )
    what = parser.add_mutually_exclusive_group(required=True)
    what.add_argument("--source", help="path, frame folder, URL or YouTube id")
    what.add_argument("--rows", help="a shard: manifest TSV of the videos to fetch")
    parser.add_argument("--sha256", help="expected sha256 of the downloaded file")
    parser.add_argument("--start", type=float, help="keep from this second on")
    parser.add_argument("--end", type=float, help="keep up to this second")
    parser.add_argument("--base", help="folder that relative source paths are inside")
    _flags.add_setting(parser, "dataset.fps")
    _flags.add_arguments(parser, RetryPolicy, exclude=("chunk_size",))
    _shard.add_arguments(parser)


def run(args: argparse.Namespace) -> int:
    policy = RetryPolicy.from_args(args)
    if args.rows is not None:
        if not _shard.check(args, args.out_status, args.out_status):
            raise InputError(args.out_status, "--rows writes a shard list: OUT ends in .txt")
        download_shard(
            args.rows, args.out_status, args.into, policy, args.base, args.fps, args.workers
        )
        return 0
    options = {key: getattr(args, key) for key in ("sha256", "start", "end", "base", "fps")}
    download_video(args.out_status, args.source, policy, **options)
    return 0
