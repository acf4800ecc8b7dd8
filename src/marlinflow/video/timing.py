"""Frame times: telling a variable frame rate, and resampling such a video to a constant rate.

A variable-frame-rate (VFR) video (phone recordings, screen captures, streams with dropped frames)
shows its frames for unequal times. Written one frame per source frame at its average rate, it
would play too fast where frames were held and too slow where they came densely, and a 16-frame
clip would cover a different span of time in each place. Resampled on its timestamps, frame k of
the result is the source frame nearest in time to ``t0 + k / fps``: held frames repeat, dense
ones are dropped, and the result lasts as long as the source (ffmpeg's ``fps`` filter, with its
default rounding to the nearest, picks the same frames).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

# A frame step further than this share of a frame from the median makes the rate variable:
# containers round times to their time base, which moves a step by far less.
VARIABLE_STEP = 0.5


def is_variable_rate(times: Sequence[float], fps: float) -> bool:
    """Whether frames at ``times`` (seconds) are unevenly spaced, at the nominal rate ``fps``."""
    steps = np.diff(np.asarray(times, dtype=np.float64))
    if len(steps) < 2:
        return False
    return bool(np.abs(steps - np.median(steps)).max() > VARIABLE_STEP / (fps or 25.0))


def resample_indices(times: Sequence[float], fps: float) -> np.ndarray:
    """(K,) index of the source frame nearest in time to each ``times[0] + k / fps``.

    The source lasts from its first frame's time to the end of its last frame (the last time
    plus the median step), so K = round(duration × fps). Ties go to the earlier frame.
    """
    times = np.asarray(times, dtype=np.float64)
    if len(times) < 2:
        return np.zeros(len(times), dtype=np.int64)
    duration = times[-1] - times[0] + float(np.median(np.diff(times)))
    targets = times[0] + np.arange(max(1, int(round(duration * fps)))) / fps
    after = np.searchsorted(times, targets).clip(1, len(times) - 1)
    before = after - 1
    earlier = targets - times[before] <= times[after] - targets
    return np.where(earlier, before, after).astype(np.int64)
