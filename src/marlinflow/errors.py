"""Errors that name the input at fault and the reason, so one bad file never hides in a traceback.

An error may also say which :class:`Category` of failure it is: the one-word class that the
video's stage record keeps and that the stage summaries and the report count.
"""

from __future__ import annotations

import enum
from pathlib import Path


class Category(str, enum.Enum):
    """Why a video cannot be used, as the stage records, summaries and report name it."""

    SKIPPED = "skipped"  # an earlier stage dropped the video
    NOT_DOWNLOADED = "not_downloaded"  # a gated data set's files are not where the config says
    CHECKSUM_MISMATCH = "checksum_mismatch"
    NOT_FOUND = "not_found"
    REFUSED = "refused"  # the server said no (HTTP 4xx)
    NOT_A_VIDEO = "not_a_video"
    NETWORK = "network"
    UNAVAILABLE = "unavailable"  # removed, private, blocked
    CORRUPT = "corrupt"  # a video file, but damaged or truncated
    TOO_SHORT = "too_short"
    NO_FACE = "no_face"
    FACE_TOO_SMALL = "face_too_small"
    NO_AUDIO = "no_audio"
    OTHER = "other"

    def __str__(self) -> str:
        return self.value


CATEGORIES = tuple(category.value for category in Category)


class InputError(Exception):
    """An input (video, manifest, config, weights) that cannot be used, and why."""

    def __init__(self, path: str | Path, reason: str, category: Category | None = None):
        self.path = str(path)
        self.reason = reason
        self.category = category
        super().__init__(f"{self.path}: {reason}")

    def __reduce__(self):
        """Rebuilt whole from its parts (a shard's worker process raises it to the job)."""
        return (type(self), (self.path, self.reason, self.category))


class VideoError(InputError):
    """A video that cannot be decoded: missing, empty, corrupt, truncated, or without frames."""
