"""Extract MARLIN features of face videos: one .npy file (windows × D) per video.

``marlinflow extract VIDEOS --weights W --out DIR`` (or ``--model marlin_vit_base_ytf`` for the
released weights) is a tracked run, ``extract_features``, recorded in DIR: videos, windows,
seconds and clips/s. A video that cannot be read is reported and skipped, and the exit status is
1 if any was.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from marlinflow.atomic import atomic_path
from marlinflow.devices import resolve_device
from marlinflow.errors import InputError
from marlinflow.features import REDUCTIONS, Marlin, reduce_windows

if TYPE_CHECKING:
    from marlinflow.tracking import TrackedRun


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("videos", nargs="+", type=Path, help="face videos (pre-cropped faces)")
    source = parser.add_mutually_exclusive_group(required=True)
    source.add_argument("--weights", type=Path, help="a .pt or .ckpt weights file")
    source.add_argument("--model", help="released weights, e.g. marlin_vit_base_ytf (downloaded)")
    parser.add_argument("--out", type=Path, required=True, help="folder for <video stem>.npy")
    parser.add_argument("--sample-rate", type=int, default=2, help="take every n-th frame")
    parser.add_argument(
        "--hop", type=int, help="frames between window starts (default: clip frames × sample rate)"
    )
    parser.add_argument("--official-compat", action="store_true", help="official windowing")
    parser.add_argument("--keep-seq", action="store_true", help="per-token features")
    parser.add_argument("--reduction", choices=REDUCTIONS, default="none")
    parser.add_argument("--batch-size", type=int, default=4, help="windows per forward pass")
    parser.add_argument(
        "--device",
        default="auto",
        help="torch device: auto (the GPU if there is one), cpu, cuda, cuda:1",
    )


def run(args: argparse.Namespace) -> int:
    """Write each video's features to ``<out>/<stem>.npy``; a video that cannot be read is
    reported and skipped, and the exit status is 1 if any was. The extraction is a tracked run
    (``extract_features``, recorded in ``<out>``): videos, windows, seconds, clips/s."""
    from marlinflow.tracking import track_run

    try:
        args.device = resolve_device(args.device)
        if args.weights:
            model = Marlin.from_file(args.weights, full=False)
        else:
            model = Marlin.from_online(args.model)
    except InputError as err:
        print(f"error: {err}", file=sys.stderr)
        return 1
    model = model.to(args.device).eval()
    config = {k: v for k, v in vars(args).items() if k not in ("videos", "verb", "verbose")}
    with track_run("extract_features", config | {"videos": len(args.videos)},
                   [model.size.name], args.out) as tracked:  # fmt: skip
        failed = extract_all(model, args, tracked)
    return 1 if failed else 0


def extract_all(model: Marlin, args: argparse.Namespace, tracked: TrackedRun) -> int:
    """Features of ``args.videos`` into ``args.out``, each video's windows and seconds logged
    (a step per video) and the totals summarised; returns how many videos failed."""
    failed = windows = 0
    started = time.perf_counter()
    for step, video in enumerate(args.videos):
        begun = time.perf_counter()
        try:
            per_window = model.extract_video(
                video, args.sample_rate, args.hop, "none", args.keep_seq, args.batch_size,
                args.official_compat,
            )  # fmt: skip
        except InputError as err:
            print(f"skipped: {err}", file=sys.stderr)
            failed += 1
            continue
        features = reduce_windows(per_window, args.reduction)
        with atomic_path(args.out / f"{video.stem}.npy") as tmp:
            np.save(tmp, features.cpu().numpy().astype(np.float32))
        n_windows = len(per_window)
        windows += n_windows
        tracked.log({"video/windows": n_windows, "video/seconds": time.perf_counter() - begun},
                    step=step)  # fmt: skip
    seconds = time.perf_counter() - started
    tracked.summarize({"videos": len(args.videos) - failed, "videos_failed": failed,
                       "windows": windows, "seconds": seconds,
                       "clips_per_s": windows / seconds if seconds > 0 else 0.0})  # fmt: skip
    return failed
