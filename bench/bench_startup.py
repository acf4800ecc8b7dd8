"""Start-up cost of the per-video commands: a real data set runs each of them once per video.

Each command's module is imported in a fresh interpreter, ``--repeat`` times, and the median
wall time is reported (the command's own work is not included). With 100,000 videos and three
per-video steps, every 0.1 s here is about 8 CPU hours.

    python bench/bench_startup.py [--repeat 5]

Prints one markdown table row: what, machine, numbers.
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import subprocess
import sys
import time

from marlinflow.cli import VERBS

# each per-video verb, with the modules its run imports beyond its command module
PER_VIDEO = {
    "download": (),
    "track": (),
    "parse": (),
    "audio": ("marlinflow.audio.step",),
    "contact-sheet": (),
}


def start_seconds(module: str, repeat: int) -> float:
    """Median wall seconds of ``python -c "import MODULE"`` (modules: comma-separated) in a new
    process."""
    times = []
    for _ in range(repeat):
        started = time.perf_counter()
        subprocess.run([sys.executable, "-c", f"import {module}"], check=True)
        times.append(time.perf_counter() - started)
    return statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    bare = start_seconds("marlinflow", args.repeat)
    cells = [
        f"{verb} {start_seconds(', '.join((VERBS[verb], *extra)), args.repeat):.2f} s"
        for verb, extra in PER_VIDEO.items()
    ]
    machine = f"{platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}"
    what = "per-video command start-up (module import, median of fresh processes)"
    print(f"| {what} | {machine} | {'; '.join(cells)} (bare package {bare:.2f} s) |")


if __name__ == "__main__":
    main()
