"""Data-loader speed: pretraining clips/s delivered (decode + parsing read + Fasking mask + scaling).

Writes synthetic 224² face clips with parsing files in a temporary folder, in the track and parse
steps' layout (a keyframe every 16 frames; the per-patch label presence of the model's token
grid beside the maps), then times the training loader of a model size for each worker count
and each ``--repeated`` setting (pretrain.repeated_sampling), ``--runs`` times, and reports the
median.

    python bench/bench_dataloader.py --size small --batch 8 --workers 0 2 --runs 5

Prints one markdown table row per setting: what, machine, clips/s (median and range), clips/s
per core (over the cores its worker processes can use: one with 0 workers) and, with 0 workers,
the CPU milliseconds per clip, the less load-dependent measure on a shared machine. torch runs one
thread here (``--threads``), as in a loader's worker processes, so 0 workers is one core's work.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

import torch
from machine import describe

from marlinflow.models import get_size
from marlinflow.pretrain.config import PretrainConfig
from marlinflow.pretrain.data import PretrainData
from marlinflow.video.writer import KEYFRAME_INTERVAL

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # the repository: tests.synthetic
from tests.synthetic import write_clip


def time_loader(data: PretrainData, n_batches: int) -> tuple[float, float]:
    """(wall, CPU of this process) seconds per batch after the first (which pays the workers'
    start-up)."""
    batches = iter(data.train_dataloader())
    next(batches)
    started, cpu = time.perf_counter(), time.process_time()
    for _ in range(n_batches):
        next(batches)
    return (
        (time.perf_counter() - started) / n_batches,
        (time.process_time() - cpu) / n_batches,
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", default="small")
    parser.add_argument("--batch", type=int, default=8)
    parser.add_argument("--batches", type=int, default=10)
    parser.add_argument("--videos", type=int, default=4)
    parser.add_argument("--frames", type=int, default=120, help="frames per synthetic video")
    parser.add_argument("--workers", type=int, nargs="+", default=[0, 2])
    parser.add_argument(
        "--repeated", type=int, nargs="+", default=[1], help="pretrain.repeated_sampling values"
    )
    parser.add_argument("--runs", type=int, default=3, help="measurements per row (median)")
    parser.add_argument(
        "--threads",
        type=int,
        default=1,
        help="torch threads of this process (1: one core's work, as in a loader worker)",
    )
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    size = get_size(args.size)
    with tempfile.TemporaryDirectory() as root:
        for i in range(args.videos):
            write_clip(
                root,
                f"v{i}",
                n_frames=args.frames,
                side=224,
                grid=size.grid[1:],
                keyframe_interval=KEYFRAME_INTERVAL,
            )
        for repeated in args.repeated:
            for workers in args.workers:
                extra = {"repeated_sampling": repeated} if repeated > 1 else {}
                config = PretrainConfig(
                    model=size.name,
                    index=[str(Path(root) / "parsing")],
                    batch_size=args.batch,
                    workers=workers,
                    clips_per_epoch=args.batch * (args.batches + 1),
                    val_fraction=0,
                    **extra,
                )
                data = PretrainData(config)
                data.setup()
                runs = [time_loader(data, args.batches) for _ in range(args.runs)]
                rates = sorted(args.batch / wall for wall, _ in runs)
                rate = statistics.median(rates)
                cores = min(max(workers, 1), os.cpu_count() or 1)  # the cores its processes can use
                cpu = (
                    f", {1000 * statistics.median(c for _, c in runs) / args.batch:.1f} CPU ms/clip"
                    if workers == 0
                    else ""
                )
                print(
                    f"| pretrain data loader: {size.name} {size.n_frames}×{size.img_size}², "
                    f"batch {args.batch}, {workers} workers, repeated_sampling {repeated}, "
                    f"{args.frames}-frame 224² clips | {describe()}, load "
                    f"{os.getloadavg()[0]:.1f} | {rate:.1f} clips/s (runs {rates[0]:.1f}–"
                    f"{rates[-1]:.1f}), {rate / cores:.1f} per core{cpu} |"
                )


if __name__ == "__main__":
    main()
