"""Errors that name the input at fault and the reason, so one bad file never hides in a traceback."""

from __future__ import annotations

from pathlib import Path


class InputError(Exception):
    """An input (video, manifest, config, weights) that cannot be used, and why."""

    def __init__(self, path: str | Path, reason: str):
        self.path = str(path)
        self.reason = reason
        super().__init__(f"{self.path}: {reason}")


class VideoError(InputError):
    """A video that cannot be decoded: missing, empty, corrupt, truncated, or without frames."""
