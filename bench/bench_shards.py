"""Shard jobs against one job per video: the track and parse steps of the real sample videos.

Per video, as the workflow runs a small data set: one ``marlinflow track`` and one ``marlinflow
parse`` process per video, one after another (each starts Python and loads its models; the
Snakemake start-up of a job is not counted). As a shard: one ``marlinflow track`` and one
``marlinflow parse`` over the shard's list, with ``--workers`` 1 and 2 (each worker loads its
models once). The videos are the real face videos beside the project (``MARLINFLOW_SAMPLES``),
each listed ``--copies`` times under other ids.

Run: ``python bench/bench_shards.py [--copies 3] [--videos '*.mp4']`` (``--videos`` a glob of
the sample videos to list). Prints markdown rows:

    | how | videos | frames | wall s | videos/s | frames/s | machine |
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from machine import cpu_model

REPO = Path(__file__).resolve().parents[1]
SAMPLES = Path(os.environ.get("MARLINFLOW_SAMPLES", REPO.parent / "shared/data/marlin-samples"))
MARLINFLOW = [sys.executable, "-m", "marlinflow.cli"]


def run(*args: str) -> None:
    subprocess.run([*MARLINFLOW, *args], check=True, capture_output=True, text=True)


def downloaded(folder: Path, copies: int, pattern: str = "*.mp4") -> Path:
    """The sample videos fetched as a shard (local copies); returns the shard's list."""
    videos = sorted(SAMPLES.glob(pattern))
    if not videos:
        raise SystemExit(f"no sample videos {pattern} in {SAMPLES} (set MARLINFLOW_SAMPLES)")
    rows = folder / "rows.tsv"
    lines = [f"{v.stem}_{k}\t{v}\ttrain\n" for k in range(copies) for v in videos]
    rows.write_text("id\tsource\tsplit\n" + "".join(lines))
    out = folder / "raw/shards/s.txt"
    run("download", "--rows", str(rows), "--into", str(folder / "raw"), str(out))
    return out


def per_video(download_list: Path, folder: Path) -> float:
    started = time.perf_counter()
    for record in download_list.read_text().split():
        name = Path(record).name
        run("track", record, str(folder / "faces" / name))
        run("parse", str(folder / "faces" / name), str(folder / "parsing" / name))
    return time.perf_counter() - started


def as_shard(download_list: Path, folder: Path, workers: int) -> float:
    faces, parsing = folder / "faces/shards/s.txt", folder / "parsing/shards/s.txt"
    started = time.perf_counter()
    jobs = ["--workers", str(workers)]
    run("track", str(download_list), str(faces), "--into", str(folder / "faces"), *jobs)
    run("parse", str(faces), str(parsing), "--into", str(folder / "parsing"), *jobs)
    return time.perf_counter() - started


def frames(download_list: Path, folder: Path) -> int:
    records = [folder / "faces" / Path(r).name for r in download_list.read_text().split()]
    return sum(json.loads(r.read_text())["stats"].get("frames", 0) for r in records)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--copies", type=int, default=3, help="times each sample video is listed")
    parser.add_argument("--videos", default="*.mp4", help="glob of the sample videos to list")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        download_list = downloaded(Path(tmp), args.copies, args.videos)
        videos = len(download_list.read_text().split())
        for how, measure in (
            ("one job per video", lambda f: per_video(download_list, f)),
            ("shard, 1 worker", lambda f: as_shard(download_list, f, 1)),
            ("shard, 2 workers", lambda f: as_shard(download_list, f, 2)),
        ):
            folder = Path(tmp) / how.replace(" ", "_").replace(",", "")
            seconds = measure(folder)
            n = frames(download_list, folder)
            load = os.getloadavg()[0]
            machine = f"{cpu_model()}, {os.cpu_count()} cores, load {load:.1f}"
            print(
                f"| {how} | {videos} | {n:,} | {seconds:.1f} | {videos / seconds:.2f} | "
                f"{n / seconds:.0f} | {machine} |",
                flush=True,
            )


if __name__ == "__main__":
    main()
