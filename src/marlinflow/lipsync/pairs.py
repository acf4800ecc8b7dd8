"""Videos with their aligned mel spectrograms, and the in-sync and shifted pairs cut from them."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from marlinflow.audio.clock import AlignedMel
from marlinflow.errors import Category, InputError
from marlinflow.features import frames_to_clips, resize_frames
from marlinflow.video.io import probe, read_frames

FrameReader = Callable[[np.ndarray], np.ndarray]  # frame indices -> (n, H, W, 3) uint8


@dataclass
class SyncVideo:
    """One video's face frames (read on demand) and its mel on their clock."""

    name: str
    read: FrameReader
    n_frames: int
    mel: AlignedMel

    @classmethod
    def from_arrays(cls, name: str, frames: np.ndarray, mel: AlignedMel) -> SyncVideo:
        return cls(name, lambda idx: frames[idx], len(frames), mel)

    @classmethod
    def from_files(cls, clip: str | Path, mel: str | Path) -> SyncVideo:
        """A face clip (the track stage's) and its mel file (the audio stage's)."""
        n_frames = probe(clip).n_frames
        return cls(
            Path(clip).stem,
            lambda idx: read_frames(clip, idx.tolist()),
            n_frames,
            AlignedMel.load(mel),
        )

    def starts(self, window: int) -> int:
        """How many window starts have both their frames and a full mel window."""
        return min(self.n_frames - window + 1, self.mel.n_windows(window))

    def faces(self, start: int, window: int) -> np.ndarray:
        return self.read(np.arange(start, start + window))  # (T, H, W, 3)


def to_clips(faces: Sequence[np.ndarray], img_size: int) -> torch.Tensor:
    """(B, T, H, W, 3) uint8 windows -> (B, 3, T, S, S) float in [0, 1] for the encoder."""
    window = len(faces[0])
    return frames_to_clips(resize_frames(np.concatenate(list(faces)), img_size), window)


def sample_pairs(
    videos: Sequence[SyncVideo], n: int, window: int, rng: np.random.Generator, min_shift: int = 1
) -> tuple[list[np.ndarray], np.ndarray, np.ndarray]:
    """``n`` (faces, mel, label) pairs, half in sync (label 1: the mel of the faces' own span)
    and half shifted (label 0: the mel of another start of the same video, at least
    ``min_shift`` frames away, as Wav2Lip's expert draws its negatives)."""
    usable = [v for v in videos if v.starts(window) > min_shift]
    if not usable:
        names = ", ".join(v.name for v in videos[:3])
        reason = f"no video has more than {min_shift} windows of {window} frames with sound"
        raise InputError(names or "(no videos)", reason, Category.TOO_SHORT)
    faces, mels, labels = [], [], []
    for i in range(n):
        video = usable[rng.integers(len(usable))]
        count = video.starts(window)
        start, in_sync = int(rng.integers(count)), i % 2 == 0
        audio_start = start if in_sync else _shifted(start, count, min_shift, rng)
        faces.append(video.faces(start, window))
        mels.append(video.mel.window(audio_start, window))
        labels.append(int(in_sync))
    return faces, np.stack(mels), np.asarray(labels)


def _shifted(start: int, count: int, min_shift: int, rng: np.random.Generator) -> int:
    """A start at least ``min_shift`` from ``start`` among ``count`` (the far end if none)."""
    away = np.flatnonzero(np.abs(np.arange(count) - start) >= min_shift)
    if len(away) == 0:  # a start in the middle of a short video: take the farther end
        return 0 if start >= count - 1 - start else count - 1
    return int(away[rng.integers(len(away))])
