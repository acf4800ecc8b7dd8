"""Face tracking (+ landmark parsing) end to end: frames/s and peak memory on real videos.

Each case runs ``marlinflow track`` (default dlib backend, similarity crops; and, when the parsing
step exists, ``marlinflow parse`` on its output) in a fresh process, so the peak resident memory
(RSS) is that case's own. Start-up is not timed: the steps' modules are imported and the
detector's models loaded (~2 s, once per process) before the clock starts
(``bench/bench_startup.py`` measures the import of each step's command). Cases: video01
(480x360, 300 frames), video02 (1280x720, 195 frames), and video02 looped ``--loops`` times to
show whether memory grows with the video's length. Each case runs ``--repeat`` times, one after
the other; a row gives the medians of frames/s and CPU time per frame and the largest peak RSS,
with the machine's load (1-minute average) before the first and after the last run:

    | what | machine | frames | frames/s | peak RSS (MB) |

and a last row extrapolating the memory of a 10-minute 720p video at 30 fps from the loop run.

Run: ``.venv/bin/python bench/bench_track.py [--samples DIR] [--loops 4] [--repeat 3]
[--track-only]`` (``--loops 92`` makes the long case 10 minutes of 720p at 30 fps: 17,940
frames; ``--loops 0`` leaves the long case out).
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import platform
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from itertools import islice
from pathlib import Path

DEFAULT_SAMPLES = Path(__file__).resolve().parents[1].parent / "shared/data/marlin-samples"
HAS_PARSE = importlib.util.find_spec("marlinflow.face.parsing_step") is not None


def _peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _cpu_seconds() -> float:
    """CPU time of this process, all threads: the cost of the work, even on a busy machine."""
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def _numbers(frames: int, started: float, cpu_started: float) -> dict:
    seconds, cpu = time.perf_counter() - started, _cpu_seconds() - cpu_started
    return {
        "frames": frames,
        "fps": frames / seconds,
        "cpu_ms": 1000 * cpu / frames,
        "peak_mb": _peak_mb(),
    }


def measure(video: Path, out_dir: Path, parse: bool = HAS_PARSE) -> dict:
    """Run in this process: track, then parse, one video; frames/s and peak RSS after each."""
    from marlinflow.face.detect import make_detector
    from marlinflow.face.pipeline import TrackConfig
    from marlinflow.face.track_step import track_step

    if parse:
        from marlinflow.face.parsing_step import parse_video
    config = TrackConfig()
    make_detector(config.backend, config.detect_size)  # load the models before the clock starts
    status = out_dir / f"{video.stem}.status.json"
    started, cpu_started = time.perf_counter(), _cpu_seconds()
    record = track_step(video, status)
    assert record.ok, record.reason
    frames = record.stats["frames"]
    result = {"track": _numbers(frames, started, cpu_started)}
    if parse:
        parsed = parse_video(status, out_dir / "parsing" / status.name)
        assert parsed.ok, parsed.reason
        result["track+parse"] = _numbers(frames, started, cpu_started)
    return result


def run_once(video: Path, parse: bool) -> dict:
    """Measure one video in a fresh Python process (its own peak RSS)."""
    with tempfile.TemporaryDirectory() as out:
        command = [sys.executable, __file__, "--measure", str(video), out]
        command += [] if parse else ["--track-only"]
        result = subprocess.run(command, capture_output=True, text=True, check=True)
    return json.loads(result.stdout.strip().splitlines()[-1])


def run_case(video: Path, parse: bool, repeat: int) -> dict:
    """``repeat`` runs of one video: per step, the medians of frames/s and CPU ms per frame and
    the largest peak RSS, with the load before the first run and after the last."""
    load_before = os.getloadavg()[0]
    runs = [run_once(video, parse) for _ in range(repeat)]
    load = (load_before, os.getloadavg()[0])
    return {
        steps: {
            "frames": runs[0][steps]["frames"],
            "fps": statistics.median(run[steps]["fps"] for run in runs),
            "cpu_ms": statistics.median(run[steps]["cpu_ms"] for run in runs),
            "peak_mb": max(run[steps]["peak_mb"] for run in runs),
            "load": load,
        }
        for steps in runs[0]
    }


def looped(video: Path, loops: int, path: Path) -> Path:
    """``video`` played ``loops`` times in a row (fast encoding: only its length matters)."""
    from marlinflow.video.io import iter_frames, probe
    from marlinflow.video.writer import write_video

    info = probe(video)
    frames = (frame for _ in range(loops) for frame in iter_frames(video))
    write_video(path, islice(frames, loops * info.n_frames), info.fps, crf=23, preset="ultrafast")
    return path


def row(what: str, result: dict) -> str:
    load = result.get("load", (os.getloadavg()[0],) * 2)  # other work slows the numbers down
    machine = f"{platform.machine()}, {os.cpu_count()} cores, load {load[0]:.1f}-{load[1]:.1f}"
    return f"| {what} | {machine} | {result['frames']} | {result['fps']:.0f} | {result['peak_mb']:.0f} |"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--samples", type=Path, default=DEFAULT_SAMPLES)
    parser.add_argument("--loops", type=int, default=4, help="0: no long case")
    parser.add_argument("--repeat", type=int, default=3, help="runs of each case (medians)")
    parser.add_argument("--track-only", action="store_true", help="leave out the parse step")
    parser.add_argument("--measure", nargs=2, metavar=("VIDEO", "OUT_DIR"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    parse = HAS_PARSE and not args.track_only
    if args.measure:  # the child process of run_case
        print(json.dumps(measure(Path(args.measure[0]), Path(args.measure[1]), parse)))
        return
    cases = {
        "video01 480x360": args.samples / "video01.mp4",
        "video02 1280x720": args.samples / "video02.mp4",
    }
    long_name = f"video02 looped x{args.loops} 1280x720"
    with tempfile.TemporaryDirectory() as tmp:
        if args.loops:
            long = looped(args.samples / "video02.mp4", args.loops, Path(tmp) / "video02_long.mp4")
            cases[long_name] = long
        results = {name: run_case(video, parse, args.repeat) for name, video in cases.items()}
    for name, result in results.items():
        for steps, numbers in result.items():
            what = f"{steps} {name} (dlib, similarity; CPU {numbers['cpu_ms']:.1f} ms/frame)"
            print(row(what, numbers))
    if args.loops:
        short, long = results["video02 1280x720"], results[long_name]
        for steps in short:
            print(extrapolated_row(steps, short[steps], long[steps]))


def extrapolated_row(steps: str, short: dict, long: dict) -> str:
    """Peak RSS of a 10-minute 720p30 video, from the growth between the short and long runs."""
    per_frame = max(0.0, (long["peak_mb"] - short["peak_mb"]) / (long["frames"] - short["frames"]))
    ten_minutes = short["peak_mb"] + per_frame * (10 * 60 * 30 - short["frames"])
    what = f"{steps} 10 min 720p30, extrapolated ({per_frame * 1024:.1f} KB/frame)"
    numbers = {"frames": 18000, "fps": float("nan"), "peak_mb": ten_minutes, "load": long["load"]}
    return row(what, numbers)


if __name__ == "__main__":
    main()
