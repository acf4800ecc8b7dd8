"""Feature extraction speed: clips/s of a MARLIN encoder on 16-frame clips, ours at each
precision against the official code, as table rows.

    python bench/bench_features.py [--size small] [--batch 4] [--precision 32 bf16-mixed] \
        [--compile] [--official-src DIR] [--official-batch 1] [--rounds 5] [--iters 2]

Ours runs as ``marlinflow extract`` does: ``compute.precision.autocast`` around
``Marlin.extract_features`` under ``torch.inference_mode``, ``--batch`` clips at a time
(``downstream.features.batch_size``). ``--compile`` adds a ``torch.compile``d encoder at each
precision (its compile time is printed, not timed). The official side (``--official-src``: a
checkout of ControlNet/MARLIN kept outside this repository) is its encoder's
``extract_features`` under ``torch.no_grad``, in float32, one clip at a time, which is what the
official ``Marlin.extract_video`` runs per window; it gets our encoder's weights (the state dicts
share a layout), and its features are checked against ours.

Random weights and random clips: the speed does not depend on either. Each round times
``--iters`` batches of every variant in turn, after one untimed warm-up batch per variant, so
that changing load on a shared machine hits all of them alike. Rows give the median and best
clips/s over all timed batches, the median CPU seconds per clip (all threads), and the ratios to
the official code's medians (wall and CPU) in the same run.
"""

from __future__ import annotations

import argparse
import statistics
import time
from collections.abc import Callable
from datetime import date
from pathlib import Path

import official
import torch
from machine import cpu_features, describe, load_average

from marlinflow import Marlin
from marlinflow.compute.precision import PRECISIONS, autocast
from marlinflow.models import get_size

Extract = Callable[[torch.Tensor], torch.Tensor]


def ours(model: Marlin, precision: str) -> Extract:
    def extract(clips: torch.Tensor) -> torch.Tensor:
        with autocast(precision, clips.device), torch.inference_mode():
            return model.extract_features(clips, keep_seq=False)

    return extract


def official_extract(encoder: torch.nn.Module) -> Extract:
    def extract(clips: torch.Tensor) -> torch.Tensor:
        with torch.no_grad():  # as the official Marlin.extract_features in eval mode
            return encoder.extract_features(clips, seq_mean_pool=True)

    return extract


def compiled(model: Marlin) -> Marlin:
    """A copy of ``model`` whose encoder's ``extract_features`` is ``torch.compile``d."""
    copy = Marlin(model.size, with_decoder=False).eval()
    copy.load_state_dict(model.state_dict())
    copy.encoder.extract_features = torch.compile(copy.encoder.extract_features)
    return copy


def time_batch(extract: Extract, clips: torch.Tensor) -> tuple[float, float]:
    """Wall and CPU seconds per clip of one batch."""
    wall, cpu = time.perf_counter(), time.process_time()
    extract(clips)
    return (time.perf_counter() - wall) / len(clips), (time.process_time() - cpu) / len(clips)


def run(variants: dict[str, tuple[Extract, torch.Tensor]], rounds: int, iters: int) -> dict:
    timings: dict[str, list[tuple[float, float]]] = {name: [] for name in variants}
    for name, (extract, clips) in variants.items():
        started = time.perf_counter()
        extract(clips)  # warm-up (and compilation)
        print(f"{name}: warm-up {time.perf_counter() - started:.1f} s", flush=True)
    for round_ in range(rounds):
        for name, (extract, clips) in variants.items():
            timings[name] += [time_batch(extract, clips) for _ in range(iters)]
        print(f"round {round_ + 1}/{rounds}, {load_average()}", flush=True)
    return timings


def agreement(variants: dict[str, tuple[Extract, torch.Tensor]], reference: str) -> str:
    """Each variant's pooled features against ``reference``'s on the same clips: the least
    cosine similarity over clips and the largest absolute difference."""
    ref_extract, ref_clips = variants[reference]
    parts = []
    for name, (extract, clips) in variants.items():
        if name == reference:
            continue
        n = min(len(clips), len(ref_clips))
        a, b = extract(clips[:n]).float(), ref_extract(ref_clips[:n]).float()
        cosine = torch.nn.functional.cosine_similarity(a, b, dim=-1).min()
        parts.append(f"{name}: cosine ≥ {cosine:.5f}, max |Δ| {(a - b).abs().max():.4f}")
    return f"features against {reference}: " + "; ".join(parts)


def rows(timings: dict, what: str, machine: str) -> list[str]:
    medians = {name: statistics.median(wall for wall, _ in t) for name, t in timings.items()}
    cpus = {name: statistics.median(cpu for _, cpu in t) for name, t in timings.items()}
    out = []
    for name, t in timings.items():
        walls = [wall for wall, _ in t]
        numbers = (
            f"{1 / medians[name]:.3f} clips/s median, {1 / min(walls):.3f} best; "
            f"{cpus[name]:.2f} CPU s/clip; {len(walls)} batches"
        )
        if "official" in medians and name != "official":
            numbers += (
                f"; **{medians['official'] / medians[name]:.2f}×** the official at the median, "
                f"{cpus['official'] / cpus[name]:.2f}× in CPU time"
            )
        out.append(f"| {what}, {name} | {machine} | {numbers} |")
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", default="small")
    parser.add_argument("--batch", type=int, default=4, help="our clips per forward pass")
    parser.add_argument("--precision", nargs="+", choices=PRECISIONS, default=["32"])
    parser.add_argument("--compile", action="store_true", help="add torch.compile variants")
    parser.add_argument("--official-src", type=Path, help="a ControlNet/MARLIN checkout")
    parser.add_argument("--official-batch", type=int, default=1, help="official clips per pass")
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--iters", type=int, default=2, help="timed batches per round")
    parser.add_argument("--device", default="cpu")
    args = parser.parse_args()
    torch.manual_seed(0)
    size = get_size(args.size)
    model = Marlin(size, with_decoder=False).eval().to(args.device)
    clips = torch.rand(max(args.batch, args.official_batch), *size.clip_shape, device=args.device)
    variants: dict[str, tuple[Extract, torch.Tensor]] = {}
    if args.official_src:
        encoder = official.encoder(args.official_src, size).eval().to(args.device)
        encoder.load_state_dict(model.encoder.state_dict())
        variants["official"] = (official_extract(encoder), clips[: args.official_batch])
    for precision in args.precision:
        variants[f"ours {precision}"] = (ours(model, precision), clips[: args.batch])
        if args.compile:
            variants[f"ours {precision} compiled"] = (
                ours(compiled(model), precision),
                clips[: args.batch],
            )
    started = load_average()
    timings = run(variants, args.rounds, args.iters)
    reference = "official" if args.official_src else next(iter(variants))
    print(agreement(variants, reference))
    what = f"feature extraction, {args.size} encoder, {size.n_frames}×{size.img_size}² clips"
    batches = f"ours batch {args.batch}" + (
        f", official batch {args.official_batch}" if args.official_src else ""
    )
    print(
        f"{date.today()}; {batches}; {started} at the start, {load_average()} at the end; "
        f"{cpu_features()}"
    )
    for line in rows(timings, what, describe(args.device)):
        print(line)


if __name__ == "__main__":
    main()
