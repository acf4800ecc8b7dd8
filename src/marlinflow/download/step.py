"""Fetch one manifest video into data/raw and write its stage record.

``marlinflow download --source S [--sha256 H] [--start T --end T] [--base DIR] OUT_STATUS``
writes ``<id>.mp4`` beside ``OUT_STATUS`` (``data/raw/<id>.status.json``). A source that cannot
be fetched (404, removed, not a video, checksum) makes the record not ok with the reason and the
command still exits 0, so one bad video never stops a run.
"""

from __future__ import annotations

import argparse

from marlinflow.download.fetch import fetch
from marlinflow.download.frames import YTF_FPS
from marlinflow.download.http import RetryPolicy
from marlinflow.stages import StageRecord, run_stage, sibling

STAGE = "download"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("out_status", metavar="OUT_STATUS", help="<dir>/<id>.status.json")
    parser.add_argument("--source", required=True, help="path, frame folder, URL or YouTube id")
    parser.add_argument("--sha256", help="expected sha256 of the downloaded file")
    parser.add_argument("--start", type=float, help="keep from this second on")
    parser.add_argument("--end", type=float, help="keep up to this second")
    parser.add_argument("--base", help="folder that relative source paths are inside")
    parser.add_argument("--fps", type=float, default=YTF_FPS, help="frame rate of frame folders")
    parser.add_argument("--retries", type=int, default=4, help="network retries after the first")
    parser.add_argument("--backoff", type=float, default=1.0, help="first retry delay, seconds")
    parser.add_argument("--timeout", type=float, default=30.0, help="network stall limit, s")


def download_one(args: argparse.Namespace) -> StageRecord:
    """Fetch the video ``args`` name and write its record; the record."""
    video = sibling(args.out_status, ".mp4")
    policy = RetryPolicy(retries=args.retries, backoff=args.backoff, timeout=args.timeout)

    def work(_inputs: dict[str, str]):
        result = fetch(
            args.source,
            video,
            sha256=args.sha256,
            start=args.start,
            end=args.end,
            base=args.base,
            fps=args.fps,
            policy=policy,
        )
        return {"video": str(video)}, result.stats()

    return run_stage(STAGE, None, args.out_status, work)


def run(args: argparse.Namespace) -> int:
    download_one(args)
    return 0
