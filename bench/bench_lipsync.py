"""Lip-sync training speed on the CPU: expert and generator training clips/s.

Builds synthetic talking faces (the mouth opens as loud as the sound; ``tests.synthetic``) at the
encoder's resolution, held in memory (no decoding: this times the networks), then times
``--steps`` training steps after one warm-up step of:

- the expert (``lipsync/train.py``): a batch of in-sync and shifted pairs, the encoder frozen;
- the generator (``lipsync/generate.py``, Wav2Lip's 96×96 face and widths unless changed),
  against that frozen expert: the generator's forward pass, the expert's on the generated
  window, and both backward to the generator.

A clip is one window of the encoder's clip length. The machine is shared: the load average is
printed beside each row.

    python bench/bench_lipsync.py [--sizes tiny small] [--steps 3] [--batch-size 4]
"""

from __future__ import annotations

import argparse
import datetime
import functools
import os
import sys
import time
from pathlib import Path

import numpy as np
import torch
from machine import describe

from marlinflow.audio.clock import Audio, align_mel
from marlinflow.lipsync.expert import SyncExpert
from marlinflow.lipsync.generate import GeneratorSettings, build_generator, train_generator
from marlinflow.lipsync.pairs import SyncVideo
from marlinflow.lipsync.train import ExpertTraining, train_expert
from marlinflow.models import MarlinEncoder, get_size

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # the repository: tests.synthetic
from tests.synthetic import speech_audio, speech_envelope, talking_frames

FPS, SR = 25.0, 16000


def talking_video(seed: int, n: int, side: int) -> SyncVideo:
    env = speech_envelope(n, seed)
    mel = align_mel(
        Audio(speech_audio(env, FPS, SR, seed), SR, 0.0, 0.0), np.arange(n) / FPS, FPS, "v"
    )
    return SyncVideo.from_arrays(f"v{seed}", talking_frames(env, side), mel)


def seconds(run, steps: int) -> float:
    start = time.perf_counter()
    run(steps)
    return time.perf_counter() - start


def clips_per_second(run, steps: int, batch: int) -> float:
    """Clips/s of ``steps`` steps: a run of 1 + steps less a run of 1 (which also holds what a
    run does once, as the expert's batch-norm recalibration), after a warm-up step."""
    run(1)
    return steps * batch / (seconds(run, 1 + steps) - seconds(run, 1))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", nargs="+", default=["tiny", "small"])
    parser.add_argument("--steps", type=int, default=3)
    parser.add_argument("--batch-size", type=int, default=4)
    parser.add_argument("--face-size", type=int, default=96)
    parser.add_argument("--width", type=int, default=16)
    args = parser.parse_args()
    today = datetime.date.today().isoformat()
    print("| what | clips/s | s/step | load (1 min) | machine | date |")
    print("|---|---|---|---|---|---|")
    for name in args.sizes:
        size = get_size(name)
        videos = [talking_video(s, 4 * size.n_frames, size.img_size) for s in range(3)]
        torch.manual_seed(0)
        expert = SyncExpert(MarlinEncoder(size), freeze_encoder=True)
        batch = max(2, args.batch_size)
        expert_cfg = ExpertTraining(batch_size=batch)
        rate = clips_per_second(
            functools.partial(run_expert, expert, videos, expert_cfg), args.steps, batch
        )
        row(f"expert training, {name} encoder frozen, batch {batch}", rate, batch, today)
        cfg = GeneratorSettings(
            face_size=args.face_size, width=args.width, batch_size=args.batch_size
        )
        generator = build_generator(cfg, size.n_frames)
        rate = clips_per_second(
            functools.partial(run_generator, generator, expert, videos, cfg),
            args.steps,
            args.batch_size,
        )
        what = f"generator training {args.face_size}² w{args.width}, {name} expert, batch {args.batch_size}"
        row(what, rate, args.batch_size, today)


def run_expert(expert, videos, cfg, steps: int) -> None:
    train_expert(expert, videos, cfg.replace(steps=steps))


def run_generator(generator, expert, videos, cfg, steps: int) -> None:
    train_generator(generator, expert, videos, cfg.replace(steps=steps))


def row(what: str, rate: float, batch: int, today: str) -> None:
    load = os.getloadavg()[0]
    print(f"| {what} | {rate:.2f} | {batch / rate:.2f} | {load:.1f} | {describe()} | {today} |")


if __name__ == "__main__":
    main()
