"""Agreement of bf16-mixed with float32 on the CPU: pooled features of real face clips, and
pretraining loss curves on the same seeded batches, as table rows.

    python bench/bench_precision.py [--samples DIR] [--feature-size small] \
        [--train-size tiny] [--iters 40] [--batch 4]

Features: every window of every video in ``--samples`` (the real face samples the tests use,
``MARLINFLOW_SAMPLES``), through ``Marlin.extract_video`` at float32 and under bf16 autocast
(``compute.precision.autocast``, as ``marlinflow extract`` runs it); the cosine similarity of
each window's pooled feature between the two. Random encoder weights (seed 0), as no released
weights are on the machine.

Training: ``MarlinPretrain`` under ``pytorch_lightning.Trainer`` at precision "32" and
"bf16-mixed" from the same initial weights (seed 0) on the same batches (clips of the sample
videos, resized to the model's input, with Fasking masks of a synthetic face map), and a second
float32 run from other initial weights (seed 1) for scale. Reports the largest relative
difference of the reconstruction loss at any iteration between bf16 and fp32 (seed 0), and the
same between fp32 at seed 0 and at seed 1.
"""

from __future__ import annotations

import argparse
import os
import sys
from datetime import date
from pathlib import Path

import numpy as np
import pytorch_lightning as pl
import torch
from bench_train import fit_batches
from machine import cpu_features, describe, load_average

from marlinflow import Marlin
from marlinflow.compute.precision import autocast
from marlinflow.features import plan_windows, read_clips
from marlinflow.masking import fasking
from marlinflow.models import ModelSize, get_size
from marlinflow.pretrain.config import PretrainConfig
from marlinflow.pretrain.module import MarlinPretrain
from marlinflow.video.io import probe, read_frames

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # the repository: tests.synthetic
from tests.synthetic import face_label_map

SAMPLES = Path(os.environ.get("MARLINFLOW_SAMPLES", "../shared/data/marlin-samples"))


def feature_cosines(videos: list[Path], size: ModelSize) -> np.ndarray:
    """Per window of every video: cosine of the bf16-mixed pooled feature with the fp32 one."""
    torch.manual_seed(0)
    model = Marlin(size, with_decoder=False).eval()
    cosines = []
    for video in videos:
        full = model.extract_video(video)
        with autocast("bf16-mixed", "cpu"):
            half = model.extract_video(video)
        cosines.append(torch.nn.functional.cosine_similarity(half.float(), full, dim=-1))
    return torch.cat(cosines).numpy()


def sample_batches(videos: list[Path], size: ModelSize, batch: int, n_batches: int) -> list[dict]:
    """``n_batches`` batches of clips cut from ``videos`` in turn (every 2nd frame, windows
    back to back), each with a Fasking mask at 0.9 of a face map that drifts over the clip."""
    rng = np.random.default_rng(0)
    clips = []
    for video in videos:
        path = Path(video)
        windows = plan_windows(probe(path).n_frames, size.n_frames, 2)
        clips += list(
            read_clips(lambda i, p=path: read_frames(p, i.tolist()), windows, size.img_size)
        )
    labels = np.stack([face_label_map(size.img_size, 0.01 * k) for k in range(size.grid[0])])
    present = np.ones(size.grid[0], dtype=bool)
    out = []
    for n in range(n_batches):
        picked = [clips[(n * batch + k) % len(clips)] for k in range(batch)]
        masks = [fasking(labels, present, size.grid, 0.9, rng) for _ in picked]
        out.append({"video": torch.stack(picked), "visible": torch.from_numpy(np.stack(masks))})
    return out


class LossCurve(pl.Callback):
    def __init__(self):
        self.losses: list[float] = []

    def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx):
        self.losses.append(pl_module.step_metrics["train/loss_rec"])


def loss_curve(
    size: ModelSize, batches: list[dict], precision: str, seed: int, base_lr: float
) -> np.ndarray:
    pl.seed_everything(seed, verbose=False)
    config = PretrainConfig(model=size.name, warmup_epochs=0, base_lr=base_lr, epochs=1)
    module = MarlinPretrain(config, reconstructions=False)
    curve = LossCurve()
    fit_batches(module, batches, precision, curve)
    return np.array(curve.losses)


def max_relative(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.max(np.abs(a - b) / np.abs(b)))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--samples", type=Path, default=SAMPLES)
    parser.add_argument("--feature-size", default="small")
    parser.add_argument("--train-size", default="tiny")
    parser.add_argument("--iters", type=int, default=40)
    parser.add_argument("--batch", type=int, default=4)
    parser.add_argument(
        "--base-lr", type=float, default=0.1, help="per 256 clips; high, so that the loss moves"
    )
    args = parser.parse_args()
    videos = sorted(args.samples.glob("*.mp4"))
    if not videos:
        sys.exit(f"no sample videos in {args.samples} (set --samples or MARLINFLOW_SAMPLES)")
    print(f"{date.today()}; {load_average()}; {describe()}; {cpu_features()}")

    cosines = feature_cosines(videos, get_size(args.feature_size))
    print(
        f"| pooled features, bf16-mixed against fp32, {args.feature_size} encoder, "
        f"{len(cosines)} windows of {len(videos)} sample videos | cosine min "
        f"{cosines.min():.5f}, median {np.median(cosines):.5f} |"
    )

    size = get_size(args.train_size)
    batches = sample_batches(videos, size, args.batch, args.iters)
    fp32 = loss_curve(size, batches, "32", 0, args.base_lr)
    bf16 = loss_curve(size, batches, "bf16-mixed", 0, args.base_lr)
    other_seed = loss_curve(size, batches, "32", 1, args.base_lr)
    print(
        f"| pretraining loss_rec, {args.train_size}, {args.iters} iterations of batch "
        f"{args.batch}, lr {args.base_lr * args.batch / 256:.2g} | bf16 vs fp32 (same init): max relative difference "
        f"{max_relative(bf16, fp32):.4f}; fp32 seed 1 vs seed 0: {max_relative(other_seed, fp32):.4f};"
        f" fp32 loss {fp32[0]:.4f} → {fp32[-1]:.4f}, bf16 {bf16[0]:.4f} → {bf16[-1]:.4f} |"
    )
    print("fp32:", np.round(fp32, 4).tolist())
    print("bf16:", np.round(bf16, 4).tolist())
    print("fp32 seed 1:", np.round(other_seed, 4).tolist())


if __name__ == "__main__":
    main()
