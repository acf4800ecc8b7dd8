"""Cut a time window out of a video into an H.264 mp4 (``marlinflow.video.writer``).

No ffmpeg binary is needed: PyAV's wheels carry libx264. Cut clips are re-encoded (not
stream-copied), so they start exactly at ``start`` rather than at the previous keyframe. A source
with sound keeps the sound of the window (mono AAC at the source's rate, up to 48 kHz), aligned
with the clip's first frame: lip synchronisation reads it.
"""

from __future__ import annotations

import itertools
import logging
from collections.abc import Iterator
from pathlib import Path

import av
import numpy as np

from marlinflow.audio.clock import read_audio
from marlinflow.errors import InputError, VideoError
from marlinflow.video.writer import add_audio, write_video

log = logging.getLogger(__name__)
CRF = 18  # visually lossless; the downloaded video is decoded again by the track step
MAX_SAMPLE_RATE = 48_000


def cut(src: str | Path, dst: str | Path, start: float | None, end: float | None) -> int:
    """Re-encode the frames of ``src`` whose time t is in [start, end) into ``dst``; frame count.

    Times are seconds from the video's first frame (as CelebV-HQ gives them).
    """
    start = start or 0.0
    with av.open(str(src)) as container:
        stream = container.streams.video[0]
        fps = float(stream.average_rate or stream.guessed_rate or 25)
        rate = container.streams.audio[0].rate if container.streams.audio else None
        frames = _window(container, stream, start, end, src)
        first = next(frames, None)
        if first is None:
            raise VideoError(src, f"no frames between {start:g} s and {end} s")
        began = first[0]
        count = write_video(dst, (f for _, f in itertools.chain([first], frames)), fps, crf=CRF)
    if rate:
        _keep_sound(src, dst, began, began + count / fps, min(rate, MAX_SAMPLE_RATE))
    return count


def _keep_sound(src, dst, start: float, end: float, rate: int) -> None:
    """Put the sound of ``src`` from ``start`` to ``end`` (seconds after its first frame) beside
    the cut clip ``dst``'s frames. Sound that cannot be read leaves the clip silent, with a
    warning: the face steps need only the frames; the audio step says no_audio."""
    try:
        audio = read_audio(src, rate)
    except InputError as err:
        log.warning("%s: cut without sound: %s", dst, err.reason)
        return
    first = (audio.video_start + start - audio.start) * rate  # sample at the clip's first frame
    last = (audio.video_start + end - audio.start) * rate
    begin = max(0, int(round(first)))
    samples = audio.samples[begin : max(begin, int(round(last)))]
    if len(samples) == 0:
        log.warning("%s: cut without sound: none between %.2f s and %.2f s", dst, start, end)
        return
    add_audio(dst, samples, rate, dst, delay=max(0.0, -first / rate))


def _window(
    container, stream, start: float, end: float | None, src
) -> Iterator[tuple[float, np.ndarray]]:
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
                yield t, frame.to_ndarray(format="rgb24")
    except av.FFmpegError as err:
        raise VideoError(src, f"corrupt or truncated video ({err})") from err
