"""Lip-sync speed: expert and generator training clips/s, scoring frames/s, and the audio stage.

Builds synthetic talking faces (the mouth opens as loud as the sound; ``tests.synthetic``) at the
encoder's resolution, held in memory (no decoding: this times the networks), then times
``--steps`` training steps after one warm-up step of:

- the expert (``lipsync/train.py``): a batch of in-sync and shifted pairs, the encoder frozen;
- the generator (``lipsync/generate.py``, Wav2Lip's 96×96 face and widths unless changed),
  against that frozen expert: the generator's forward pass, the expert's on the generated
  window, and both backward to the generator;
- scoring (``lipsync/evaluate.py``): every frame of held-out videos regenerated, then SyncNet on
  the generated and the real frames over ±15 offsets and FID's Inception on both (random
  SyncNet and Inception weights: the same networks as the real files');
- the audio stage's work (``audio/step.py``: the sound decoded, resampled and turned into a mel
  on the frame clock) on the real sample videos with sound (``--samples``), per frame.

A clip is one window of the encoder's clip length. Rows give the load average beside them.
``--device cuda`` times the networks on a GPU (the audio stage is CPU work).

    python bench/bench_lipsync.py [--sizes tiny small] [--steps 3] [--batch-size 4] \
        [--device cpu] [--samples DIR]
"""

from __future__ import annotations

import argparse
import datetime
import functools
import os
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch
from machine import describe

from marlinflow.audio.clock import Audio, align_mel, read_audio
from marlinflow.compute.devices import resolve_device
from marlinflow.lipsync.evaluate import EvalSettings, HeldOut, evaluate_generator
from marlinflow.lipsync.expert import SyncExpert
from marlinflow.lipsync.fid import FIDInception
from marlinflow.lipsync.generate import GeneratorSettings, build_generator, train_generator
from marlinflow.lipsync.pairs import SyncVideo
from marlinflow.lipsync.syncnet import SyncNet
from marlinflow.lipsync.train import ExpertTraining, train_expert
from marlinflow.models import MarlinEncoder, get_size
from marlinflow.video.io import probe

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # the repository: tests.synthetic
from tests.synthetic import speech_audio, speech_envelope, talking_frames

FPS, SR = 25.0, 16000
SAMPLES = Path(os.environ.get("MARLINFLOW_SAMPLES", "../shared/data/marlin-samples"))


def talking_held_out(seed: int, n: int, side: int) -> HeldOut:
    """A synthetic talking face of ``n`` frames and its sound, as a held-out video."""
    env = speech_envelope(n, seed)
    samples = speech_audio(env, FPS, SR, seed)
    mel = align_mel(Audio(samples, SR, 0.0, 0.0), np.arange(n) / FPS, FPS, "v")
    return HeldOut(SyncVideo.from_arrays(f"v{seed}", talking_frames(env, side), mel), samples, SR)


def talking_video(seed: int, n: int, side: int) -> SyncVideo:
    return talking_held_out(seed, n, side).video


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
    parser.add_argument("--device", default="cpu", help="cpu, cuda or auto")
    parser.add_argument("--score-frames", type=int, default=100, help="frames of each scored video")
    parser.add_argument("--samples", type=Path, default=SAMPLES, help="real videos with sound")
    args = parser.parse_args()
    device = resolve_device(args.device)
    today = datetime.date.today().isoformat()
    print("| what | clips/s | s/step | load (1 min) | machine | date |")
    print("|---|---|---|---|---|---|")
    for name in args.sizes:
        size = get_size(name)
        videos = [talking_video(s, 4 * size.n_frames, size.img_size) for s in range(3)]
        torch.manual_seed(0)
        expert = SyncExpert(MarlinEncoder(size), freeze_encoder=True).to(device)
        batch = max(2, args.batch_size)
        expert_cfg = ExpertTraining(batch_size=batch)
        rate = clips_per_second(
            functools.partial(run_expert, expert, videos, expert_cfg), args.steps, batch
        )
        row(f"expert training, {name} encoder frozen, batch {batch}", rate, batch, today)
        cfg = GeneratorSettings(
            face_size=args.face_size, width=args.width, batch_size=args.batch_size
        )
        generator = build_generator(cfg, size.n_frames).to(device)
        rate = clips_per_second(
            functools.partial(run_generator, generator, expert, videos, cfg),
            args.steps,
            args.batch_size,
        )
        what = f"generator training {args.face_size}² w{args.width}, {name} expert, batch {args.batch_size}"
        row(what, rate, args.batch_size, today)
        held_out = [talking_held_out(s, args.score_frames, size.img_size) for s in range(2)]
        frames, took = score(generator, held_out, device)
        what = f"scoring {args.face_size}² w{args.width}, {name} window: frames/s (s/frame)"
        row(what, frames / took, 1, today)
    audio_row(args.samples, today)


def score(generator, held_out: list[HeldOut], device: str) -> tuple[int, float]:
    """(frames scored, seconds) of the generator's scoring: generation, SyncNet, FID."""
    torch.manual_seed(0)
    syncnet, inception = SyncNet().eval().to(device), FIDInception().eval()
    evaluate_generator(generator, held_out[:1], syncnet, EvalSettings(), inception)  # warm-up
    start = time.perf_counter()
    metrics = evaluate_generator(generator, held_out, syncnet, EvalSettings(), inception)
    return sum(video["frames"] for video in metrics["per_video"]), time.perf_counter() - start


def audio_row(samples: Path, today: str) -> None:
    """The audio stage's work on the sample videos with sound: CPU ms and mel file bytes a frame."""
    frames, cpu, stored = 0, 0.0, 0
    with tempfile.TemporaryDirectory() as tmp:
        for path in sorted(samples.glob("video*.mp4")):
            info = probe(path)
            times = np.arange(info.n_frames) / info.fps
            start = time.process_time()
            aligned = align_mel(read_audio(path), times, info.fps, path)
            aligned.save(Path(tmp) / f"{path.stem}.npz")
            cpu += time.process_time() - start
            stored += (Path(tmp) / f"{path.stem}.npz").stat().st_size
            frames += info.n_frames
    if frames:
        load = os.getloadavg()[0]
        what = (
            f"audio stage, {samples.name}/video*.mp4 ({frames} frames): CPU ms, mel bytes a frame"
        )
        print(
            f"| {what} | {1000 * cpu / frames:.3f} ms, {stored / frames:.0f} B | | {load:.1f} "
            f"| {describe()} | {today} |"
        )


def run_expert(expert, videos, cfg, steps: int) -> None:
    train_expert(expert, videos, cfg.replace(steps=steps))


def run_generator(generator, expert, videos, cfg, steps: int) -> None:
    train_generator(generator, expert, videos, cfg.replace(steps=steps))


def row(what: str, rate: float, batch: int, today: str) -> None:
    load = os.getloadavg()[0]
    print(f"| {what} | {rate:.2f} | {batch / rate:.2f} | {load:.1f} | {describe()} | {today} |")


if __name__ == "__main__":
    main()
