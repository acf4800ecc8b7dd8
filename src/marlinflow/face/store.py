"""On-disk formats of the track and parse stages, shared by the stages that write and read them.

Track: ``{id}.mp4`` (the aligned face clip, one frame per source frame) beside ``{id}.json``
(per-frame boxes, landmarks, scores and track ids; see :class:`FaceTrack`).
Parse: ``{id}.npz`` holding part labels in FaRL-LaPa order as uint8 chunks ``labels_00000``,
``labels_00001``, ... of (n, S, S) (256 frames each) and ``present`` (N,) bool, compressed.
"""

from __future__ import annotations

import json
import zipfile
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
            indent=None,  # compact: the C encoder, a fraction of the memory on long videos
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


CHUNK_FRAMES = 256  # frames per stored array: writing and reading never hold a whole long video


class ParsingWriter:
    """Write part-label maps chunk by chunk into one compressed npz, atomically.

    The file holds ``labels_00000``, ``labels_00001``, ... (uint8 (n, S, S) each, in frame order)
    and ``present`` (N,) bool, so memory is bounded by a chunk, not by the video's length.
    """

    def __init__(self, path: str | Path):
        self.path = Path(path)
        self._present: list[np.ndarray] = []
        self._pending: list[np.ndarray] = []  # frames waiting to fill a chunk
        self._chunks = 0

    def __enter__(self) -> ParsingWriter:
        self._atomic = atomic_path(self.path)
        self._zip = zipfile.ZipFile(self._atomic.__enter__(), "w", zipfile.ZIP_DEFLATED)
        return self

    def add(self, labels: np.ndarray, present: np.ndarray) -> None:
        labels = np.asarray(labels)
        if labels.ndim != 3 or labels.max(initial=0) > max(PART_LABELS.values()):
            raise ValueError(f"labels must be (n, S, S) with values 0..10, got {labels.shape}")
        self._pending.append(labels.astype(np.uint8, copy=False))
        self._present.append(np.asarray(present, bool))
        while sum(map(len, self._pending)) >= CHUNK_FRAMES:
            frames = np.concatenate(self._pending)
            self._write_chunk(frames[:CHUNK_FRAMES])
            self._pending = [frames[CHUNK_FRAMES:]]

    def _write_chunk(self, frames: np.ndarray) -> None:
        self._member(f"labels_{self._chunks:05d}", frames)
        self._chunks += 1

    def _member(self, name: str, array: np.ndarray) -> None:
        with self._zip.open(f"{name}.npy", "w", force_zip64=True) as member:
            np.lib.format.write_array(member, np.ascontiguousarray(array))

    def __exit__(self, *exc_info) -> None:
        if exc_info[0] is None:
            rest = [p for p in self._pending if len(p)]
            if rest or not self._chunks:
                self._write_chunk(np.concatenate(rest) if rest else np.zeros((0, 0, 0), np.uint8))
            self._member("present", np.concatenate(self._present or [np.zeros(0, bool)]))
        self._zip.close()
        self._atomic.__exit__(*exc_info)


def save_parsing(path: str | Path, labels: np.ndarray, present: np.ndarray) -> None:
    """Store part-label maps (N, S, S) as compressed uint8, atomically."""
    with ParsingWriter(path) as writer:
        writer.add(labels, present)


def load_parsing(path: str | Path, frames=None) -> tuple[np.ndarray, np.ndarray]:
    """Part labels (N, S, S) uint8 and per-frame face presence (N,) bool.

    With ``frames`` (indices), only those frames' labels are returned (and only the chunks that
    hold them are decompressed); ``present`` is always whole.
    """
    try:
        with np.load(path) as data:
            present = data["present"]
            chunks = sorted(k for k in data.files if k.startswith("labels_"))
            if frames is None:
                return np.concatenate([data[k] for k in chunks]), present
            frames = np.asarray(frames)
            if len(frames) and (frames.min() < 0 or frames.max() >= len(present)):
                raise ValueError(f"frame index out of range 0..{len(present) - 1}")
            needed = {int(f) // CHUNK_FRAMES for f in frames}
            loaded = {c: data[chunks[c]] for c in sorted(needed)}
            rows = [loaded[int(f) // CHUNK_FRAMES][int(f) % CHUNK_FRAMES] for f in frames]
            return np.stack(rows) if rows else np.zeros((0, 0, 0), np.uint8), present
    except (OSError, ValueError, KeyError, IndexError, zipfile.BadZipFile) as err:
        raise InputError(path, f"not a readable parsing file ({err})") from err
