"""On-disk formats of the track and parse stages, shared by the stages that write and read them.

Track: ``{id}.mp4`` (the aligned face clip, one frame per source frame) beside ``{id}.json``
(per-frame boxes, landmarks, scores and track ids; see :class:`FaceTrack`).
Parse: ``{id}.npz`` holding part labels in FaRL-LaPa order as uint8 chunks ``labels_00000``,
``labels_00001``, ... of (n, S, S) (256 frames each) and ``present`` (N,) bool, compressed; since
the loader reads them, also which labels each patch of the model's token grid touches, as uint16
bit sets in chunks ``patches_00000``, ... of (n, h, w) (older files lack them).
"""

from __future__ import annotations

import contextlib
import json
import zipfile
from collections.abc import Iterator
from concurrent.futures import Future, ThreadPoolExecutor
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
LABELS, PATCHES = "labels", "patches"  # prefixes of the chunked members


class ParsingWriter:
    """Write part-label maps chunk by chunk into one compressed npz, atomically.

    The file holds ``labels_00000``, ``labels_00001``, ... (uint8 (n, S, S) each, in frame order)
    and ``present`` (N,) bool, so memory is bounded by a chunk, not by the video's length. When
    :meth:`add` is given ``patches`` (n, h, w) uint16, which labels each patch of a token grid
    touches (:func:`marlinflow.masking.pack_presence`), they are stored alike as ``patches_00000``,
    ...: what a pretraining loader needs for Fasking at that grid, a few hundred bytes a frame
    to read instead of the whole map. Files without them stay readable (:class:`ParsingReader`).
    """

    def __init__(self, path: str | Path):
        self.path = Path(path)
        self._present: list[np.ndarray] = []
        self._pending: dict[str, list[np.ndarray]] = {}  # frames waiting to fill a chunk
        self._chunks = 0

    def __enter__(self) -> ParsingWriter:
        self._atomic = atomic_path(self.path)
        self._zip = zipfile.ZipFile(self._atomic.__enter__(), "w", zipfile.ZIP_DEFLATED)
        # chunks are compressed in a thread (zlib releases the GIL), beside the next chunk's work
        self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="parsing-writer")
        self._writing: Future | None = None
        return self

    def add(self, labels: np.ndarray, present: np.ndarray, patches: np.ndarray | None = None):
        labels = np.asarray(labels)
        if labels.ndim != 3 or labels.max(initial=0) > max(PART_LABELS.values()):
            raise ValueError(f"labels must be (n, S, S) with values 0..10, got {labels.shape}")
        arrays = {LABELS: labels.astype(np.uint8, copy=False)}
        if patches is not None:
            if patches.ndim != 3 or len(patches) != len(labels):
                raise ValueError(f"patches must be (n, h, w) for {len(labels)} maps")
            arrays[PATCHES] = np.asarray(patches, np.uint16)
        if self._present and set(arrays) != set(self._pending):
            raise ValueError("patches must be given with every add or with none")
        for name, array in arrays.items():
            self._pending.setdefault(name, []).append(array)
        self._present.append(np.asarray(present, bool))
        while sum(map(len, self._pending[LABELS])) >= CHUNK_FRAMES:
            self._write_chunk(CHUNK_FRAMES)

    def _write_chunk(self, count: int) -> None:
        """Hand the first ``count`` pending frames of each member to the writing thread as its
        next chunk, once the previous chunk is written (memory: two chunks at most)."""
        members = {}
        for name, pending in self._pending.items():
            frames = np.concatenate(pending) if pending else np.zeros((0, 0, 0), np.uint8)
            members[f"{name}_{self._chunks:05d}"] = frames[:count]
            self._pending[name] = [frames[count:]]
        self._chunks += 1
        self._wait()
        self._writing = self._pool.submit(self._members, members)

    def _wait(self) -> None:
        """Wait for the chunk being written; its error, if any, is raised here."""
        writing, self._writing = self._writing, None
        if writing is not None:
            writing.result()

    def _members(self, members: dict[str, np.ndarray]) -> None:
        for name, array in members.items():
            self._member(name, array)

    def _member(self, name: str, array: np.ndarray) -> None:
        with self._zip.open(f"{name}.npy", "w", force_zip64=True) as member:
            np.lib.format.write_array(member, np.ascontiguousarray(array))

    def __exit__(self, *exc_info) -> None:
        try:
            if exc_info[0] is None:
                rest = sum(map(len, self._pending.get(LABELS, [])))
                if rest or not self._chunks:
                    self._pending.setdefault(LABELS, [])
                    self._write_chunk(rest)
                self._wait()
                self._member("present", np.concatenate(self._present or [np.zeros(0, bool)]))
        except BaseException as err:
            exc_info = (type(err), err, err.__traceback__)
            raise
        finally:
            self._pool.shutdown(wait=True)  # the file closes after its last chunk is written
            self._zip.close()
            self._atomic.__exit__(*exc_info)


def save_parsing(
    path: str | Path, labels: np.ndarray, present: np.ndarray, patches: np.ndarray | None = None
) -> None:
    """Store part-label maps (N, S, S) as compressed uint8 (and their per-patch label presence
    (N, h, w), if given), atomically."""
    with ParsingWriter(path) as writer:
        writer.add(labels, present, patches)


class ParsingReader:
    """A parsing file opened once: ``present`` (N,) bool, and the labels or patches of chosen
    frames, decompressing only the chunks that hold them. Errors are :class:`InputError`."""

    def __init__(self, path: str | Path):
        self.path = path
        with self._reading():
            self._data = np.load(path)
            self.present = self._data["present"]
            self._names = {
                prefix: sorted(k for k in self._data.files if k.startswith(f"{prefix}_"))
                for prefix in (LABELS, PATCHES)
            }

    def __enter__(self) -> ParsingReader:
        return self

    def __exit__(self, *exc_info) -> None:
        self._data.close()

    @contextlib.contextmanager
    def _reading(self) -> Iterator[None]:
        try:
            yield
        except (OSError, ValueError, KeyError, IndexError, zipfile.BadZipFile) as err:
            raise InputError(self.path, f"not a readable parsing file ({err})") from err

    def labels(self, frames=None) -> np.ndarray:
        """Part labels (n, S, S) uint8 of ``frames`` (indices; None: all frames)."""
        return self._rows(LABELS, frames)

    def patches(self, frames, grid_hw: tuple[int, int]) -> np.ndarray | None:
        """Per-patch label presence (n, h, w) uint16 of ``frames``, or None when the file holds
        none at ``grid_hw`` (written before they were stored, or for another grid)."""
        names = self._names[PATCHES]
        if not names or len(names) != len(self._names[LABELS]):
            return None
        with self._reading():
            if self._data[names[0]].shape[1:] != tuple(grid_hw):
                return None
        return self._rows(PATCHES, frames)

    def _rows(self, prefix: str, frames) -> np.ndarray:
        with self._reading():
            chunks = self._names[prefix]
            if frames is None:
                return np.concatenate([self._data[k] for k in chunks])
            frames = np.asarray(frames, dtype=int)
            if len(frames) and (frames.min() < 0 or frames.max() >= len(self.present)):
                raise ValueError(f"frame index out of range 0..{len(self.present) - 1}")
            if not len(frames):
                return np.zeros((0, 0, 0), np.uint8)
            which, rows = np.divmod(frames, CHUNK_FRAMES)
            loaded = {c: self._data[chunks[c]] for c in np.unique(which).tolist()}
            return np.stack(
                [loaded[c][r] for c, r in zip(which.tolist(), rows.tolist(), strict=True)]
            )


def load_parsing(path: str | Path, frames=None) -> tuple[np.ndarray, np.ndarray]:
    """Part labels (N, S, S) uint8 and per-frame face presence (N,) bool.

    With ``frames`` (indices), only those frames' labels are returned (and only the chunks that
    hold them are decompressed); ``present`` is always whole.
    """
    with ParsingReader(path) as reader:
        return reader.labels(frames), reader.present
