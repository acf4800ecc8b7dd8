"""Extract MARLIN features of face videos: one .npy file (windows × D) per video.

``marlinflow extract VIDEOS --weights W --out DIR`` (or ``--model marlin_vit_base_ytf`` for the
released weights) is a tracked run, ``extract_features``, recorded in DIR: videos, windows,
seconds and clips/s. Settings: the config's ``downstream.features`` section. A video that cannot
be read is reported and skipped, and the exit status is 1 if any was.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from marlinflow.commands import _flags
from marlinflow.compute.devices import resolve_device
from marlinflow.extract import FeatureSettings, Windows, extract_videos
from marlinflow.features import REDUCTIONS, Marlin


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("videos", nargs="+", type=Path, help="face videos (pre-cropped faces)")
    source = parser.add_mutually_exclusive_group(required=True)
    source.add_argument("--weights", type=Path, help="a .pt or .ckpt weights file")
    source.add_argument("--model", help="released weights, e.g. marlin_vit_base_ytf (downloaded)")
    parser.add_argument("--out", type=Path, required=True, help="folder for <video stem>.npy")
    _flags.add_arguments(parser, FeatureSettings)
    parser.add_argument(
        "--stride",
        type=int,
        help="window starts every stride × sample rate frames (default: the clip length, 16 for "
        "the released models, as the official package)",
    )
    parser.add_argument("--official-compat", action="store_true", help="official windowing")
    parser.add_argument("--keep-seq", action="store_true", help="per-token features")
    parser.add_argument("--reduction", choices=REDUCTIONS, default="none")


def run(args: argparse.Namespace) -> int:
    from marlinflow.tracking import track_run

    args.device = resolve_device(args.device)
    if args.weights:
        model = Marlin.from_file(args.weights, full=False)
    else:
        model = Marlin.from_online(args.model)
    model = model.to(args.device).eval()
    windows = Windows(
        args.sample_rate,
        args.batch_size,
        args.stride,
        args.official_compat,
        args.keep_seq,
        args.reduction,
        args.precision,
    )
    config = {k: v for k, v in vars(args).items() if k not in ("videos", "verb", "verbose")}
    config |= {"videos": len(args.videos)}
    with track_run("extract_features", config, [model.size.name], args.out) as tracked:
        failed = extract_videos(model, args.videos, args.out, windows, tracked)
    return 1 if failed else 0
