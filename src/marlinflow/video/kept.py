"""Decoded frames kept from one pass over a video for the next, when the video is short.

The track step reads a video twice (find the face, then crop it). Short videos, which most face
data sets hold (clips of a few seconds), are decoded once: the first pass keeps its decoded
frames, in the decoder's own pixel format (YUV 4:2:0 is half the bytes of RGB), and the second
pass crops them instead of decoding again. Whether a video's frames are kept is decided at
its first frame, from the frame count and that frame's size, so a long video never holds more
than one frame for this; a video that turns out longer than its header says stops keeping and
is decoded again.
"""

from __future__ import annotations

from collections.abc import Iterator

from marlinflow.video.io import Decoded, decoded_bytes

# Frames kept per video at most: 13 s of 720p, 50 s of 480x360, 4 min of 224x224 (4:2:0). A
# track job with them stays well under 1 GB.
KEEP_BUDGET_BYTES = 384 * 2**20


class KeptFrames:
    """The decoded frames of one pass, offered one by one, kept while they fit ``budget``."""

    def __init__(self, n_frames: int, budget: int | None = None):
        self.n_frames = n_frames
        self.budget = KEEP_BUDGET_BYTES if budget is None else budget
        self.frames: list[Decoded] | None = []  # None: not kept
        self._bytes = 0

    def offer(self, frame: Decoded) -> None:
        if self.frames is None:
            return
        size = decoded_bytes(frame)
        if not self.frames and size * self.n_frames > self.budget:
            self.frames = None
            return
        self._bytes += size
        if self._bytes > self.budget:
            self.frames = None  # longer than its header said: let the memory go
        else:
            self.frames.append(frame)

    @property
    def complete(self) -> bool:
        """Whether every frame offered was kept (and there were some)."""
        return bool(self.frames)

    def take(self) -> Iterator[Decoded]:
        """The kept frames, in order, each let go once the consumer moves on."""
        frames, self.frames = self.frames or [], None
        frames.reverse()
        while frames:
            yield frames.pop()
