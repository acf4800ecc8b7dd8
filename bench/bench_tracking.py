"""What recording a run costs a step: W&B offline start and finish, and the time per logged row.

A step pays the start and finish once per run (what decides whether per-video jobs should have
W&B runs of their own), and the per-row cost every time it logs (a training loop's overhead).
Each row logs 8 scalars. Prints one markdown table row:

    | what | machine | offline start s | offline finish s | offline µs/row | disabled µs/row |

Run: ``.venv/bin/python bench/bench_tracking.py [--rows 2000]``
"""

from __future__ import annotations

import argparse
import os
import platform
import tempfile
import time
from pathlib import Path

from marlinflow.tracking import TrackingSettings, track_run

KEYS = [f"train/metric_{i}" for i in range(8)]


def timed_run(mode: str, folder: Path, rows: int) -> tuple[float, float, float]:
    """(start s, finish s, µs per logged row) of one run in ``mode``."""
    settings = TrackingSettings(mode=mode, dir=str(folder / "wandb"), group="bench")
    started = time.perf_counter()
    with track_run("bench", {"rows": rows}, ["bench"], folder / mode, settings) as run:
        ready = time.perf_counter()
        for step in range(rows):
            run.log({key: step * 0.5 for key in KEYS}, step=step)
        logged = time.perf_counter()
    finished = time.perf_counter()
    return ready - started, finished - logged, (logged - ready) / rows * 1e6


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=2000)
    args = parser.parse_args()
    os.environ.pop("WANDB_MODE", None)  # the modes below are the ones measured
    with tempfile.TemporaryDirectory() as tmp:
        start, finish, offline_us = timed_run("offline", Path(tmp), args.rows)
        _, _, disabled_us = timed_run("disabled", Path(tmp), args.rows)
    machine = f"{platform.machine()}, {os.cpu_count()} cores, {platform.python_version()}"
    print(
        f"| tracking ({args.rows} rows of {len(KEYS)} scalars) | {machine} "
        f"| {start:.2f} | {finish:.2f} | {offline_us:.0f} | {disabled_us:.1f} |"
    )


if __name__ == "__main__":
    main()
