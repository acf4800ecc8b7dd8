"""Training speed: pretraining clips/s of one model size, ours against the official procedure.

Both run through ``pytorch_lightning.Trainer.fit`` on the same in-memory batches (random clips,
Fasking masks from a synthetic face map), with the same optimiser settings; the time of each
iteration is taken between the batch-start and batch-end hooks, after warm-up iterations, in
rounds that alternate the implementations so that other load on the machine hits all alike.
Ours runs at each ``--precision`` (``pretrain.precision``, Lightning's precision plugin) and,
with ``--compile``, also with ``pretrain.compile`` (its autoencoder ``torch.compile``d); the official procedure runs at
float32, as its training script does.

    python bench/bench_train.py --size small --batch 2 [--precision 32 bf16-mixed] [--compile] \
        [--official-src DIR]   # a checkout of ControlNet/MARLIN (kept outside this repository)

Prints one markdown table row per variant: what, machine, numbers (with the ratio of the
official median iteration to each of ours), and a line with the date, load and CPU features.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from datetime import date
from pathlib import Path

import numpy as np
import pytorch_lightning as pl
import torch
from machine import cpu_features, describe, load_average
from official import add_to_path
from torch.utils.data import DataLoader

from marlinflow.compute.precision import PRECISIONS
from marlinflow.masking import fasking
from marlinflow.models import ModelSize, get_size
from marlinflow.pretrain.config import PretrainConfig
from marlinflow.pretrain.module import MarlinPretrain

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # the repository: tests.synthetic
from tests.synthetic import face_label_map


class IterationTimer(pl.Callback):
    """Wall and CPU seconds (all the process's threads) of each training iteration."""

    def __init__(self):
        self.seconds: list[tuple[float, float]] = []

    def on_train_batch_start(self, trainer, pl_module, batch, batch_idx):
        self.started = time.perf_counter(), time.process_time()

    def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx):
        wall, cpu = self.started
        self.seconds.append((time.perf_counter() - wall, time.process_time() - cpu))


def make_batches(
    size: ModelSize, batch: int, n_batches: int
) -> list[tuple[torch.Tensor, torch.Tensor]]:
    """Random clips with Fasking masks of a face map that drifts over the clip."""
    rng = np.random.default_rng(0)
    labels = np.stack([face_label_map(224, 0.01 * k) for k in range(size.grid[0])])
    present = np.ones(size.grid[0], dtype=bool)
    out = []
    for _ in range(n_batches):
        masks = [fasking(labels, present, size.grid, 0.9, rng) for _ in range(batch)]
        out.append((torch.rand(batch, *size.clip_shape), torch.from_numpy(np.stack(masks))))
    return out


def time_fit(
    module: pl.LightningModule, batches: list, warmup: int, precision: str = "32"
) -> list[tuple[float, float]]:
    timer = IterationTimer()
    fit_batches(module, batches, precision, timer)
    return timer.seconds[warmup:]


def fit_batches(module: pl.LightningModule, batches: list, precision: str, callback) -> None:
    """One epoch of ``module`` over in-memory ``batches`` on the CPU, with nothing but
    ``callback`` watching (no logger, checkpoint, progress bar or sanity check)."""
    trainer = pl.Trainer(
        max_epochs=1,
        accelerator="cpu",
        precision=precision,
        logger=False,
        enable_checkpointing=False,
        enable_progress_bar=False,
        enable_model_summary=False,
        callbacks=[callback],
        num_sanity_val_steps=0,
    )
    trainer.fit(module, DataLoader(batches, batch_size=None))


def ours(
    size: ModelSize, batches: list, warmup: int, precision: str, compile_model: bool
) -> list[tuple[float, float]]:
    as_dicts = [{"video": video, "visible": visible} for video, visible in batches]
    config = PretrainConfig(model=size.name, precision=precision, compile=compile_model)
    module = MarlinPretrain(config)
    return time_fit(module, as_dicts, warmup, precision)


def official(size: ModelSize, batches: list, warmup: int, src: Path) -> list[tuple[float, float]]:
    """The official LightningModule at the YAML's settings (d_steps 1, adv 0.01, gp 0)."""
    add_to_path(src)
    from model.marlin import Marlin

    module = Marlin(
        img_size=size.img_size,
        patch_size=size.patch_size,
        n_frames=size.n_frames,
        encoder_embed_dim=size.enc_dim,
        encoder_depth=size.enc_depth,
        encoder_num_heads=size.enc_heads,
        decoder_embed_dim=size.dec_dim,
        decoder_depth=size.dec_depth,
        decoder_num_heads=size.dec_heads,
        qkv_bias=True,
        tubelet_size=size.tubelet,
        optimizer_betas=(0.9, 0.95),
        iter_per_epoch=len(batches),
        max_epochs=1,
        warmup_epochs=0,
        d_steps=1,
        g_steps=1,
        adv_weight=0.01,
        gp_weight=0.0,
    )
    return time_fit(module, batches, warmup)


def row(what: str, size: ModelSize, batch: int, seconds: list, official: tuple | None) -> str:
    """clips/s at the fastest iteration (the least disturbed by other load) and the median, the
    median CPU seconds per iteration, and the official medians over this one's (wall, CPU)."""
    walls, cpus = [wall for wall, _ in seconds], [cpu for _, cpu in seconds]
    best, median, cpu = min(walls), statistics.median(walls), statistics.median(cpus)
    ratio = (
        f"; **{official[0] / median:.2f}×** the official at the median, "
        f"{official[1] / cpu:.2f}× in CPU time"
        if official
        else ""
    )
    return (
        f"| pretrain step, {what}: {size.name} {size.n_frames}×{size.img_size}², batch {batch} "
        f"| {describe()} | {batch / best:.3f} clips/s at the fastest iteration ({best:.2f} s), "
        f"{batch / median:.3f} at the median ({median:.2f} s); {cpu:.2f} CPU s per iteration; "
        f"{len(seconds)} iterations after warm-up{ratio} |"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", default="small")
    parser.add_argument("--batch", type=int, default=2)
    parser.add_argument("--warmup", type=int, default=1, help="untimed iterations per round")
    parser.add_argument("--iters", type=int, default=3, help="timed iterations per round")
    parser.add_argument("--rounds", type=int, default=3, help="rounds, alternating implementations")
    parser.add_argument("--precision", nargs="+", choices=PRECISIONS, default=["32"])
    parser.add_argument("--compile", action="store_true", help="add torch.compile variants")
    parser.add_argument("--official-src", type=Path, help="a ControlNet/MARLIN checkout")
    args = parser.parse_args()
    size = get_size(args.size)
    batches = make_batches(size, args.batch, args.warmup + args.iters)
    variants = [(p, c) for p in args.precision for c in (False, True)[: 1 + args.compile]]
    timings: dict[str, list[tuple[float, float]]] = {}
    started = load_average()
    for round_ in range(args.rounds):  # alternate, so that changing machine load hits all alike
        for precision, compile_model in variants:
            pl.seed_everything(0, verbose=False)
            name = f"marlinflow {precision}" + (" compiled" if compile_model else "")
            seconds = ours(size, batches, args.warmup, precision, compile_model)
            timings.setdefault(name, []).extend(seconds)
        if args.official_src:
            pl.seed_everything(0, verbose=False)
            seconds = official(size, batches, args.warmup, args.official_src)
            timings.setdefault(OFFICIAL, []).extend(seconds)
        print(f"round {round_ + 1}/{args.rounds}, {load_average()}", flush=True)
    print(f"{date.today()}; {started} at the start, {load_average()} at the end; {cpu_features()}")
    reference = None
    if args.official_src:
        reference = tuple(statistics.median(part) for part in zip(*timings[OFFICIAL], strict=True))
    for name, seconds in timings.items():
        print(row(name, size, args.batch, seconds, None if name == OFFICIAL else reference))


OFFICIAL = "official MARLIN procedure (2 forwards, float32)"

if __name__ == "__main__":
    main()
