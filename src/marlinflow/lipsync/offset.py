"""The audio-visual offset of a video: the shift of its sound that a sync score likes best.

Offset ``d`` pairs the faces of frames [k, k + T) with the mel of frames [k + d, k + d + T):
a video whose sound lags its picture by ``d`` frames scores best at ``d``. As in SyncNet's
evaluation (and LSE-D/LSE-C), the scores of one offset are averaged over the video's windows,
and every offset is scored on the same windows, those for which all offsets have sound.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np

from marlinflow.errors import Category, InputError
from marlinflow.lipsync.pairs import SyncVideo

MAX_OFFSET = 15  # frames either way: SyncNet's and LSE's search range
BATCH = 32  # face windows scored at once
# faces (B, T, H, W, 3) uint8 and mels (O, B, n_mels, M), O mel windows for each face window
# -> (O, B) scores, higher = more in sync (the faces are given once for all O: a network
# embeds them once)
ScoreFn = Callable[[Sequence[np.ndarray], np.ndarray], np.ndarray]


def offset_scores(
    score: ScoreFn,
    video: SyncVideo,
    window: int,
    max_offset: int = MAX_OFFSET,
    stride: int = 1,
    batch: int = BATCH,
) -> tuple[np.ndarray, np.ndarray]:
    """(offsets (2·max_offset + 1,), mean score of each offset) of one video, its windows
    scored ``batch`` at a time (a long video's windows need not fit in memory at once)."""
    offsets = np.arange(-max_offset, max_offset + 1)
    starts = np.arange(max_offset, video.starts(window) - max_offset, stride)
    if len(starts) == 0:
        reason = f"too short for offsets of ±{max_offset} frames with {window}-frame windows"
        raise InputError(video.name, reason, Category.TOO_SHORT)
    total = np.zeros(len(offsets))
    for at in range(0, len(starts), batch):
        chunk = starts[at : at + batch]
        faces = [video.faces(int(k), window) for k in chunk]
        mels = np.stack([[video.mel.window(int(k + d), window) for k in chunk] for d in offsets])
        total += np.asarray(score(faces, mels), dtype=np.float64).sum(axis=1)
    return offsets, total / len(starts)


def best_offset(offsets: np.ndarray, scores: np.ndarray) -> int:
    return int(offsets[int(np.argmax(scores))])


def sync_accuracy(scores: np.ndarray, labels: np.ndarray, threshold: float = 0.5) -> float:
    """Share of pairs called correctly: in sync when the score reaches ``threshold``."""
    return float(np.mean((np.asarray(scores) >= threshold) == np.asarray(labels).astype(bool)))


def offset_accuracy(found: Sequence[int], true: Sequence[int], tolerance: int = 0) -> float:
    """Share of videos whose found offset is within ``tolerance`` frames of the true one."""
    return float(np.mean(np.abs(np.asarray(found) - np.asarray(true)) <= tolerance))
