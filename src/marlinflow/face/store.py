"""On-disk formats of the track and parse stages, shared by the stages that write and read them.

Track: ``{id}.mp4`` (the aligned face clip, one frame per source frame) beside ``{id}.json``
(per-frame boxes, landmarks, scores and track ids; see :class:`FaceTrack`).
Parse: ``{id}.npz`` holding ``labels`` (N, S, S) uint8 part labels in FaRL-LaPa order and
``present`` (N,) bool, compressed.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from marlinflow.atomic import atomic_path, write_json
from marlinflow.errors import InputError

# FaRL-LaPa label order, the one MARLIN's Fasking groups refer to.
PART_LABELS = {
    "background": 0,
    "skin": 1,
    "right_brow": 2,
    "left_brow": 3,
    "right_eye": 4,
    "left_eye": 5,
    "nose": 6,
    "upper_lip": 7,
    "inner_mouth": 8,
    "lower_lip": 9,
    "hair": 10,
}


@dataclass
class FaceTrack:
    """Per-frame face geometry of one video's main face track.

    ``boxes`` (N, 4) x1, y1, x2, y2 in source pixels; ``landmarks`` (N, 68, 2) iBUG points in the
    coordinates of the aligned crop; ``present`` (N,) whether a face was found or bridged there;
    ``track_ids`` (N,) the segment of the track each frame belongs to (-1 where absent).
    ``meta`` holds the source geometry, fps, crop settings and backend.
    """

    present: np.ndarray
    boxes: np.ndarray
    landmarks: np.ndarray
    scores: np.ndarray
    track_ids: np.ndarray
    meta: dict[str, Any] = field(default_factory=dict)

    def __len__(self) -> int:
        return len(self.present)

    def save(self, path: str | Path) -> None:
        write_json(
            path,
            {
                "meta": self.meta,
                "present": self.present.astype(bool).tolist(),
                "boxes": np.round(self.boxes, 2).tolist(),
                "landmarks": np.round(self.landmarks, 2).tolist(),
                "scores": np.round(self.scores, 4).tolist(),
                "track_ids": self.track_ids.astype(int).tolist(),
            },
        )

    @classmethod
    def load(cls, path: str | Path) -> FaceTrack:
        try:
            data = json.loads(Path(path).read_text())
            return cls(
                present=np.asarray(data["present"], dtype=bool),
                boxes=np.asarray(data["boxes"], dtype=np.float32).reshape(-1, 4),
                landmarks=np.asarray(data["landmarks"], dtype=np.float32).reshape(-1, 68, 2),
                scores=np.asarray(data["scores"], dtype=np.float32),
                track_ids=np.asarray(data["track_ids"], dtype=np.int32),
                meta=data.get("meta", {}),
            )
        except (OSError, ValueError, KeyError) as err:
            raise InputError(path, f"not a readable face track ({err})") from err


def save_parsing(path: str | Path, labels: np.ndarray, present: np.ndarray) -> None:
    """Store part-label maps (N, S, S) as compressed uint8, atomically."""
    labels = np.asarray(labels)
    if labels.ndim != 3 or labels.max(initial=0) > max(PART_LABELS.values()):
        raise ValueError(f"labels must be (N, S, S) with values 0..10, got {labels.shape}")
    with atomic_path(path) as tmp, open(tmp, "wb") as f:
        np.savez_compressed(f, labels=labels.astype(np.uint8), present=np.asarray(present, bool))


def load_parsing(path: str | Path) -> tuple[np.ndarray, np.ndarray]:
    """Part labels (N, S, S) uint8 and per-frame face presence (N,) bool."""
    try:
        with np.load(path) as data:
            return data["labels"], data["present"]
    except (OSError, ValueError, KeyError) as err:
        raise InputError(path, f"not a readable parsing file ({err})") from err
