"""Cut a time window out of a video into an H.264 mp4 (``marlinflow.video.writer``).

No ffmpeg binary is needed: PyAV's wheels carry libx264. Cut clips are re-encoded (not
stream-copied), so they start exactly at ``start`` rather than at the previous keyframe; they keep
the video stream only, which is all the face pipeline reads.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from pathlib import Path

import av
import numpy as np

from marlinflow.errors import VideoError
from marlinflow.video.writer import write_video

CRF = 18  # visually lossless; the downloaded video is decoded again by the track step


def cut(src: str | Path, dst: str | Path, start: float | None, end: float | None) -> int:
    """Re-encode the frames of ``src`` whose time t is in [start, end) into ``dst``; frame count.

    Times are seconds from the video's first frame (as CelebV-HQ gives them).
    """
    start = start or 0.0
    with av.open(str(src)) as container:
        stream = container.streams.video[0]
        fps = float(stream.average_rate or stream.guessed_rate or 25)
        frames = _window(container, stream, start, end, src)
        first = next(frames, None)
        if first is None:
            raise VideoError(src, f"no frames between {start:g} s and {end} s")
        return write_video(dst, itertools.chain([first], frames), fps, crf=CRF)


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
