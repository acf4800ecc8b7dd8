"""Data-loader speed: pretraining clips/s delivered (decode + parsing map + Fasking mask + resize).

Writes synthetic 224² face clips with parsing maps in a temporary folder (the track and parse
steps' layout), then times the training loader of a model size for each worker count.

    python bench/bench_dataloader.py --size small --batch 2 --workers 0 2

Prints one markdown table row per worker count: what, machine, numbers.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

from machine import describe

from marlinflow.models import get_size
from marlinflow.pretrain.config import PretrainConfig
from marlinflow.pretrain.data import PretrainData

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # the repository: tests.synthetic
from tests.synthetic import write_clip


def time_loader(data: PretrainData, n_batches: int) -> float:
    """Seconds per batch after the first (which pays the workers' start-up)."""
    batches = iter(data.train_dataloader())
    next(batches)
    started = time.perf_counter()
    for _ in range(n_batches):
        next(batches)
    return (time.perf_counter() - started) / n_batches


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", default="small")
    parser.add_argument("--batch", type=int, default=2)
    parser.add_argument("--batches", type=int, default=10)
    parser.add_argument("--videos", type=int, default=4)
    parser.add_argument("--frames", type=int, default=120, help="frames per synthetic video")
    parser.add_argument("--workers", type=int, nargs="+", default=[0, 2])
    args = parser.parse_args()
    size = get_size(args.size)
    with tempfile.TemporaryDirectory() as root:
        for i in range(args.videos):
            write_clip(root, f"v{i}", n_frames=args.frames, side=224)
        for workers in args.workers:
            config = PretrainConfig(
                model=size.name,
                index=[str(Path(root) / "parsing")],
                batch_size=args.batch,
                workers=workers,
                clips_per_epoch=args.batch * (args.batches + 1),
                val_fraction=0,
            )
            data = PretrainData(config)
            data.setup()
            seconds = time_loader(data, args.batches)
            print(
                f"| pretrain data loader: {size.name} {size.n_frames}×{size.img_size}², "
                f"batch {args.batch}, {workers} workers, {args.frames}-frame 224² clips "
                f"| {describe()} | {args.batch / seconds:.1f} clips/s "
                f"({1000 * seconds:.0f} ms/batch over {args.batches} batches) |"
            )


if __name__ == "__main__":
    main()
