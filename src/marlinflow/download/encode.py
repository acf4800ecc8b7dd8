"""Write H.264 mp4s with PyAV: from frames one by one, or as a time window cut out of a video.

No ffmpeg binary is needed: PyAV's wheels carry libx264. Cut clips are re-encoded (not
stream-copied), so they start exactly at ``start`` rather than at the previous keyframe; they keep
the video stream only, which is all the face pipeline reads.
"""

from __future__ import annotations

from collections.abc import Iterator
from fractions import Fraction
from pathlib import Path

import av
import numpy as np

from marlinflow.errors import VideoError

QUALITY = {"crf": "18", "preset": "medium"}  # visually lossless; frames are re-decoded later


class H264Writer:
    """Append RGB frames (H, W, 3) uint8 to an mp4 at a constant frame rate."""

    def __init__(self, path: str | Path, fps: float, width: int, height: int):
        self.path = Path(path)
        self.container = av.open(str(path), mode="w")
        self.stream = self.container.add_stream("libx264", rate=_rate(fps), options=QUALITY)
        # yuv420p (what every player reads) needs even sizes; odd frames get one edge row/column.
        self.stream.width, self.stream.height = width + width % 2, height + height % 2
        self.stream.pix_fmt = "yuv420p"
        self.size = (height, width)
        self.n_frames = 0

    def write(self, rgb: np.ndarray) -> None:
        if rgb.shape[:2] != self.size:
            raise ValueError(f"frame of size {rgb.shape[:2]}, expected {self.size}")
        pad = (
            (0, self.stream.height - rgb.shape[0]),
            (0, self.stream.width - rgb.shape[1]),
            (0, 0),
        )
        frame = av.VideoFrame.from_ndarray(np.pad(rgb, pad, mode="edge"), format="rgb24")
        self.container.mux(self.stream.encode(frame))
        self.n_frames += 1

    def close(self) -> None:
        self.container.mux(self.stream.encode())  # flush the encoder's delayed frames
        self.container.close()

    def __enter__(self) -> H264Writer:
        return self

    def __exit__(self, *exc) -> None:
        if exc[0] is None:
            self.close()
        else:
            self.container.close()


def _rate(fps: float) -> Fraction:
    if not fps > 0:
        raise ValueError(f"frame rate must be positive, got {fps}")
    return Fraction(fps).limit_denominator(1001)  # 29.97 -> 30000/1001


def cut(src: str | Path, dst: str | Path, start: float | None, end: float | None) -> int:
    """Re-encode the frames of ``src`` whose time t is in [start, end) into ``dst``; frame count.

    Times are seconds from the video's first frame (as CelebV-HQ gives them).
    """
    start = start or 0.0
    with av.open(str(src)) as container:
        stream = container.streams.video[0]
        fps = float(stream.average_rate or stream.guessed_rate or 25)
        ctx = stream.codec_context
        with H264Writer(dst, fps, ctx.width, ctx.height) as writer:
            for rgb in _window(container, stream, start, end, src):
                writer.write(rgb)
            n_frames = writer.n_frames
    if n_frames == 0:
        raise VideoError(src, f"no frames between {start:g} s and {end} s")
    return n_frames


def _window(container, stream, start: float, end: float | None, src) -> Iterator[np.ndarray]:
    tb = stream.time_base
    origin = float((stream.start_time or 0) * tb)
    if start > 0:  # jump to the keyframe before start instead of decoding from the beginning
        container.seek(int((start + origin) / tb), stream=stream, backward=True)
    try:
        for frame in container.decode(stream):
            if frame.pts is None:
                continue
            t = float(frame.pts * tb) - origin
            if end is not None and t >= end - 1e-6:
                return
            if t >= start - 1e-6:
                yield frame.to_ndarray(format="rgb24")
    except av.FFmpegError as err:
        raise VideoError(src, f"corrupt or truncated video ({err})") from err
