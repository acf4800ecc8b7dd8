"""Write the embedded sample data set: real faces from what packages ship, with synthetic labels.

The videos and their ``manifest.tsv`` (:func:`marlinflow.sample.build_sample`): a smoke test of
the pipeline, shaped like the real tasks.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from marlinflow.sample import build_sample


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("out_dir", type=Path, help="folder for the videos and manifest.tsv")
    parser.add_argument("--videos", type=int, default=32, help="how many videos (default 32)")
    parser.add_argument("--seed", type=int, default=0, help="label and clip draw seed")
    parser.add_argument(
        "--sound",
        action="store_true",
        help="give the talking heads a voice that follows their tracked mouth (lip sync)",
    )


def run(args: argparse.Namespace) -> int:
    manifest = build_sample(args.out_dir, args.videos, args.seed, args.sound)
    print(f"wrote {len(manifest)} sample videos and manifest.tsv to {args.out_dir}")
    return 0
