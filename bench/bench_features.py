"""Feature extraction speed: clips/s of a MARLIN encoder on 16-frame clips, as one table row.

    python bench/bench_features.py [--size small] [--batch 4] [--iters 3] [--device cpu]

Random weights and random clips: the speed does not depend on either. Timed under
``torch.inference_mode`` after one warm-up batch, as ``Marlin.extract_video`` runs. Prints
clips per second and CPU seconds per clip (the latter holds on a busy machine).
"""

from __future__ import annotations

import argparse
import time

import torch
from machine import describe

from marlinflow import Marlin
from marlinflow.models import get_size


def measure(model: Marlin, clips: torch.Tensor, iters: int) -> tuple[float, float]:
    """Clips per wall-clock second, and CPU seconds (all threads) per clip: the second is what
    a busy shared machine does not distort."""
    with torch.inference_mode():
        model.extract_features(clips, keep_seq=False)  # warm-up
        if clips.is_cuda:
            torch.cuda.synchronize()
        wall, cpu = time.perf_counter(), time.process_time()
        for _ in range(iters):
            model.extract_features(clips, keep_seq=False)
        if clips.is_cuda:
            torch.cuda.synchronize()
        wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
    n_clips = iters * len(clips)
    return n_clips / wall, cpu / n_clips


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", default="small")
    parser.add_argument("--batch", type=int, default=4)
    parser.add_argument("--iters", type=int, default=3)
    parser.add_argument("--device", default="cpu")
    args = parser.parse_args()
    size = get_size(args.size)
    model = Marlin(size, with_decoder=False).eval().to(args.device)
    clips = torch.rand(args.batch, *size.clip_shape, device=args.device)
    speed, cpu_per_clip = measure(model, clips, args.iters)
    shape = f"{size.n_frames}×{size.img_size}²"
    what = f"feature extraction, {args.size} encoder, {shape} clips, batch {args.batch}, fp32"
    numbers = f"{speed:.2f} clips/s; {cpu_per_clip:.2f} CPU s/clip"
    print(f"| {what} | {describe(args.device)} | {numbers} |")


if __name__ == "__main__":
    main()
