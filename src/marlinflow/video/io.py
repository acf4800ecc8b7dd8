"""Read videos: probe their geometry, stream their frames, or fetch chosen frames by index.

Frames are RGB ``uint8`` arrays of shape (H, W, 3). decord gives exact random access; PyAV
streams anything ffmpeg can read.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import av
import numpy as np

from marlinflow.errors import VideoError


@dataclass(frozen=True)
class VideoInfo:
    path: str
    n_frames: int
    fps: float
    width: int
    height: int

    @property
    def duration(self) -> float:
        return self.n_frames / self.fps if self.fps else 0.0


def _open(path: str | Path) -> av.container.InputContainer:
    path = Path(path)
    if not path.is_file():
        raise VideoError(path, "no such file")
    if path.stat().st_size == 0:
        raise VideoError(path, "empty file")
    try:
        container = av.open(str(path))
    except av.FFmpegError as err:
        raise VideoError(path, f"not a readable video ({err.__class__.__name__}: {err})") from err
    if not container.streams.video:
        container.close()
        raise VideoError(path, "no video stream")
    return container


def probe(path: str | Path) -> VideoInfo:
    """Geometry and frame count of a video, counting decoded frames when the header lacks them."""
    with _open(path) as container:
        stream = container.streams.video[0]
        fps = float(stream.average_rate or stream.guessed_rate or 0)
        n_frames = stream.frames
        if not n_frames:  # webm/mkv and some streams do not record it
            n_frames = sum(1 for _ in _decode(container, path))
        width, height = stream.codec_context.width, stream.codec_context.height
    if n_frames == 0:
        raise VideoError(path, "video has no frames")
    return VideoInfo(str(path), int(n_frames), fps, int(width), int(height))


def _decode(container: av.container.InputContainer, path: str | Path) -> Iterator[av.VideoFrame]:
    try:
        yield from container.decode(video=0)
    except av.FFmpegError as err:
        raise VideoError(path, f"corrupt or truncated video ({err})") from err


def iter_frames(path: str | Path) -> Iterator[np.ndarray]:
    """Stream all frames of a video; memory stays at one frame whatever the video's length."""
    with _open(path) as container:
        container.streams.video[0].thread_type = "AUTO"
        for frame in _decode(container, path):
            yield frame.to_ndarray(format="rgb24")


def read_frames(path: str | Path, indices: Sequence[int]) -> np.ndarray:
    """Frames at ``indices`` as (n, H, W, 3) uint8, with exact seeking (decord)."""
    import decord

    try:
        reader = decord.VideoReader(str(path), num_threads=1)
    except (RuntimeError, decord.DECORDError) as err:
        raise VideoError(path, f"cannot open for random access ({err})") from err
    indices = list(indices)
    if indices and (min(indices) < 0 or max(indices) >= len(reader)):
        raise VideoError(path, f"frame index out of range 0..{len(reader) - 1}")
    return reader.get_batch(indices).asnumpy()
