"""What probing a video tells: its frame count, frame rate and (upright) size.

Its own module so that both kinds of video, files (:mod:`marlinflow.video.io`) and folders of
frame images (:mod:`marlinflow.video.folder`), describe themselves alike without importing each
other.
"""

from __future__ import annotations

from dataclasses import dataclass


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
