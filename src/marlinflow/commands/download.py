"""Fetch one manifest video into data/raw and write its stage record.

``marlinflow download --source S [--sha256 H] [--start T --end T] [--base DIR] OUT_STATUS``
writes ``<id>.<container>`` (mp4, webm, mkv ... as fetched) beside ``OUT_STATUS``; a source that cannot be fetched gets a record saying
why and the command still exits 0, so one bad video never stops a run. The network settings are
the config's ``download`` section.
"""

from __future__ import annotations

import argparse

from marlinflow.commands import _flags
from marlinflow.download.http import RetryPolicy
from marlinflow.download.step import download_video


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("out_status", metavar="OUT_STATUS", help="<dir>/<id>.status.json")
    parser.add_argument("--source", required=True, help="path, frame folder, URL or YouTube id")
    parser.add_argument("--sha256", help="expected sha256 of the downloaded file")
    parser.add_argument("--start", type=float, help="keep from this second on")
    parser.add_argument("--end", type=float, help="keep up to this second")
    parser.add_argument("--base", help="folder that relative source paths are inside")
    _flags.add_setting(parser, "dataset.fps")
    _flags.add_arguments(parser, RetryPolicy, exclude=("chunk_size",))


def run(args: argparse.Namespace) -> int:
    options = {key: getattr(args, key) for key in ("sha256", "start", "end", "base", "fps")}
    download_video(args.out_status, args.source, RetryPolicy.from_args(args), **options)
    return 0
