"""Linear-probe speed: seconds per epoch and per full run on CelebV-HQ-sized cached features.

Writes synthetic (n_windows, D) features for ``--videos`` videos with ``--attributes`` labels in
a temporary folder, then trains the probe with the official settings (batch 32, Adam 1e-4) for
``--epochs`` epochs and reports load time, epoch time and the bootstrap's time.

    python bench/bench_probe.py --videos 35000 --dim 768 --attributes 40 --epochs 20

Prints one markdown table row: what, machine, numbers.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd
from machine import describe

from marlinflow.downstream.kinds import MULTILABEL
from marlinflow.downstream.metrics import bootstrap
from marlinflow.downstream.probe import ProbeConfig, ProbeSettings, load_features, run_probe
from marlinflow.downstream.tasks import Task


def write_task(folder: Path, n_videos: int, dim: int, n_attributes: int) -> Task:
    rng = np.random.default_rng(0)
    names = [f"attr{i}" for i in range(n_attributes)]
    labels = rng.integers(0, 2, (n_videos, n_attributes))
    for i in range(n_videos):
        windows = rng.normal(size=(int(rng.integers(1, 8)), dim)).astype(np.float32)
        np.save(folder / f"v{i:06d}.npy", windows)
    table = pd.DataFrame(labels, columns=names)
    table.insert(0, "id", [f"v{i:06d}" for i in range(n_videos)])
    table.insert(1, "split", np.array(["train"] * 8 + ["val", "test"])[np.arange(n_videos) % 10])
    return Task("bench", "multilabel", names, table)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--videos", type=int, default=5000)
    parser.add_argument("--dim", type=int, default=768)
    parser.add_argument("--attributes", type=int, default=40)
    parser.add_argument("--epochs", type=int, default=20)
    parser.add_argument("--bootstrap", type=int, default=1000)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        task = write_task(Path(tmp), args.videos, args.dim, args.attributes)
        settings = ProbeSettings(max_epochs=args.epochs, bootstrap=args.bootstrap)
        cfg = ProbeConfig.from_settings(settings, 0, "mean", "bench", stop_lr=0.0)
        load = timed(lambda: load_features(tmp, task.table["id"].tolist()))
        total = timed(lambda: run_probe(task, tmp, cfg))
    test = task.split("test")
    scores = np.random.default_rng(1).random((len(test), args.attributes))
    boot = timed(lambda: bootstrap(MULTILABEL.metrics, scores, task.targets(test), args.bootstrap))
    per_epoch = (total - load - boot) / args.epochs
    print(
        f"| linear probe, {args.videos} videos × D {args.dim} × {args.attributes} attributes, "
        f"{args.epochs} epochs, bootstrap {args.bootstrap} | {describe()} | load {load:.1f} s, {per_epoch:.2f} s/epoch, bootstrap "
        f"{boot:.1f} s, run {total:.1f} s |"
    )


def timed(work) -> float:
    started = time.perf_counter()
    work()
    return time.perf_counter() - started


if __name__ == "__main__":
    main()
