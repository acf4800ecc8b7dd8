"""Fine-tuning speed: training and test clips/s of the fine-tune protocol on decoded face clips.

Writes ``--videos`` synthetic H.264 face clips at the model's resolution in a temporary folder,
then times what ``marlinflow finetune`` does per epoch: one random clip per training video read
and decoded, forward, backward and an Adam step (encoder and head), and at test time
``--test-clips`` clips per video under ``no_grad``. One warm-up batch is not timed.

    python bench/bench_finetune.py [--size small] [--videos 16] [--batch-size 8] [--device cpu]

Prints one markdown table row: what, machine, numbers (with the hours one official-sized
CelebV-HQ epoch, 26k training videos, would take at this speed).
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch
from machine import describe

from marlinflow.downstream.finetune import (
    ClipClassifier,
    FaceClips,
    FinetuneConfig,
    FinetuneSettings,
    predict,
)
from marlinflow.downstream.finetune import _train_batches as train_batches
from marlinflow.downstream.kinds import BINARY
from marlinflow.downstream.usable import UsableClips
from marlinflow.models import MarlinEncoder, get_size

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # the repository: tests.synthetic
from tests.synthetic import write_clip

CELEBV_TRAIN_VIDEOS = 26_000  # about 70 % of CelebV-HQ's 35,666 clips


def synchronise(device: str) -> None:
    if device.startswith("cuda"):
        torch.cuda.synchronize()


def time_training(model, clips, ids, cfg: FinetuneConfig) -> float:
    """Training clips per second over one epoch after a warm-up batch."""
    targets = torch.tensor(np.arange(len(ids)) % 2, dtype=torch.float32)[:, None]  # (N, 1)
    optimiser = torch.optim.Adam(model.parameters(), lr=cfg.train.lr, betas=cfg.train.betas)
    loss_fn = BINARY.loss_module()
    batches, n_clips, start = train_batches(clips, ids, targets, cfg)(0), 0, None
    for index, (batch, batch_targets) in enumerate(batches):
        loss = loss_fn(model(batch), batch_targets)
        optimiser.zero_grad()
        loss.backward()
        optimiser.step()
        synchronise(cfg.device)
        if index == 0:  # warm-up done
            start = time.perf_counter()
        else:
            n_clips += len(batch)
    return n_clips / (time.perf_counter() - start)


def time_testing(model, clips, ids, cfg: FinetuneConfig) -> float:
    """Test clips per second (``test_clips`` per video, probabilities averaged per video)."""
    model.eval()
    with torch.no_grad():
        predict(model, clips, ids[:1], BINARY, cfg)  # warm-up
        start = time.perf_counter()
        predict(model, clips, ids, BINARY, cfg)
        synchronise(cfg.device)
    return len(ids) * cfg.test_clips / (time.perf_counter() - start)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", default="small")
    parser.add_argument("--videos", type=int, default=16)
    parser.add_argument("--batch-size", type=int, default=8)
    parser.add_argument("--test-clips", type=int, default=4)
    parser.add_argument("--device", default="cpu")
    args = parser.parse_args()
    size = get_size(args.size)
    settings = FinetuneSettings(batch_size=args.batch_size, test_clips=args.test_clips)
    cfg = FinetuneConfig.from_settings(settings, 0, args.device)
    encoder = MarlinEncoder(size)
    model = ClipClassifier(encoder, 1).to(args.device)
    with tempfile.TemporaryDirectory() as folder:
        ids = [f"clip{i:03d}" for i in range(args.videos)]
        n_frames = size.n_frames * cfg.sample_rate + 8
        for video_id in ids:
            write_clip(folder, video_id, n_frames=n_frames, side=size.img_size)
        clips = FaceClips(UsableClips.read(Path(folder) / "faces"), encoder, cfg.sample_rate)
        for video_id in ids:
            clips.add(video_id)
        train_speed = time_training(model.train(), clips, ids, cfg)
        test_speed = time_testing(model, clips, ids, cfg)
    shape = f"{size.n_frames}×{size.img_size}²"
    what = f"fine-tuning, {args.size} encoder + head, {shape} clips, batch {args.batch_size}, fp32"
    hours = CELEBV_TRAIN_VIDEOS / train_speed / 3600
    numbers = (
        f"train {train_speed:.2f} clips/s (CelebV-HQ epoch ≈ {hours:.1f} h); "
        f"test {test_speed:.2f} clips/s"
    )
    print(f"| {what} | {describe(args.device)} | {numbers} |")


if __name__ == "__main__":
    main()
