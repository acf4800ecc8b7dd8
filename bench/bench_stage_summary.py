"""What a stage summary costs on a real data set's scale: read N stage records, write the summary
TSV, and record the stage's run (its per-video table and aggregates), W&B offline and disabled.

Writes N track-stage records (as ``marlinflow track`` does; 5% unusable) in a temporary folder.
Prints one markdown table row:

    | what | machine | offline s | disabled s | offline records/s |

Run: ``.venv/bin/python bench/bench_stage_summary.py [--records 5000]``
"""

from __future__ import annotations

import argparse
import os
import platform
import tempfile
import time
from pathlib import Path

import numpy as np

from marlinflow.report.stage_summary import summarize_stage
from marlinflow.stages import StageRecord
from marlinflow.tracking import ENV_PREFIX


def write_records(folder: Path, n: int, seed: int = 0) -> list[Path]:
    rng = np.random.default_rng(seed)
    folder.mkdir(parents=True)
    for i in range(n):
        if rng.random() < 0.05:
            record = StageRecord(f"v{i:06d}", "track", False, f"v{i:06d}.mp4: no face found")
        else:
            stats = {
                "frames": int(rng.integers(50, 500)),
                "face_fraction": float(rng.random()),
                "tracks_found": 1,
                "tracks_kept": 1,
                "cuts": int(rng.integers(0, 3)),
                "crop_jitter_px": float(rng.gamma(2, 0.5)),
                "face_jitter_px": float(rng.gamma(2, 1.0)),
                "face_size_px": float(rng.gamma(9, 12.0)),
                "frames_per_s_processed": 150.0,
            }
            record = StageRecord(f"v{i:06d}", "track", True, stats=stats, seconds=1.0)
        record.save(folder / f"{record.id}.status.json")
    return sorted(folder.glob("*.status.json"))


def timed_summary(paths: list[Path], root: Path, mode: str) -> float:
    os.environ[ENV_PREFIX + "MODE"] = mode
    started = time.perf_counter()
    summarize_stage(paths, root / mode / "track_summary.tsv")
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--records", type=int, default=5000)
    args = parser.parse_args()
    os.environ.pop("WANDB_MODE", None)  # the modes below are the ones measured
    with tempfile.TemporaryDirectory() as tmp:
        os.environ[ENV_PREFIX + "DIR"] = str(Path(tmp) / "wandb")
        paths = write_records(Path(tmp) / "faces", args.records)
        offline = timed_summary(paths, Path(tmp), "offline")
        disabled = timed_summary(paths, Path(tmp), "disabled")
    machine = f"{platform.machine()}, {os.cpu_count()} cores, {platform.python_version()}"
    print(
        f"| stage summary run ({args.records} track records) | {machine} "
        f"| {offline:.2f} | {disabled:.2f} | {args.records / offline:.0f} |"
    )


if __name__ == "__main__":
    main()
