"""From all tracks of a video to one per-frame timeline of its main face.

1. Link tracks of the same face split by a short detector dropout: the later one starts within
   ``max_gap`` frames of the earlier one's end, near where it ended, with no scene cut between.
2. Choose the main face over the whole video: the linked track with the largest sum over frames
   of face size times steadiness. Then add other linked tracks, best first, only where they do
   not overlap in time what is already chosen (e.g. the next shot after a cut) and show the same
   person. A second person beside the main face overlaps it in time, so the crop never jumps
   between two people; after a cut, a different person's face is left out.
3. Bridge the short gaps inside a linked track by linear interpolation; longer gaps and cuts
   start a new segment (its own track id).
4. Smooth each segment with a Savitzky-Golay filter (local quadratic fit, zero phase). The whole
   video is known, so the filter may look ahead: unlike a causal one-euro or EMA filter it does
   not make the crop trail a moving head, and it follows a quick turn without flattening it.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from marlinflow.face.track import Track, iou


@dataclass
class Timeline:
    """Per-frame arrays of the main face: present (N,), boxes (N, 4), landmarks (N, 68, 2) in
    source pixels, scores (N,), segment ids (N,) (-1 where absent)."""

    present: np.ndarray
    boxes: np.ndarray
    landmarks: np.ndarray
    scores: np.ndarray
    segments: np.ndarray

    @property
    def face_fraction(self) -> float:
        return float(self.present.mean()) if len(self.present) else 0.0

    def take(self, frames: np.ndarray) -> Timeline:
        """The timeline of these frames, in this order (repeats allowed: a resampled clip)."""
        return Timeline(
            self.present[frames],
            self.boxes[frames],
            self.landmarks[frames],
            self.scores[frames],
            self.segments[frames],
        )


def _near(a: Track, b: Track) -> bool:
    """b starts where a ended: boxes overlap, or centres within one face size."""
    box_a, box_b = a.boxes[-1], b.boxes[0]
    size = max(box_a[2] - box_a[0], box_a[3] - box_a[1])
    centre_step = np.abs((box_a[:2] + box_a[2:]) - (box_b[:2] + box_b[2:])).max() / 2
    return iou(box_a, box_b) > 0.2 or centre_step < size


def link_tracks(tracks: list[Track], cuts: list[int], max_gap: int) -> list[list[Track]]:
    """Chains of tracks, each chain one face followed across short dropouts."""
    chains: list[list[Track]] = []
    for track in sorted(tracks, key=lambda t: t.start):
        candidates = [
            chain
            for chain in chains
            if 0 < track.start - chain[-1].end <= max_gap + 1
            and not any(chain[-1].end < cut <= track.start for cut in cuts)
            and _near(chain[-1], track)
        ]
        if candidates:
            min(candidates, key=lambda c: track.start - c[-1].end).append(track)
        else:
            chains.append([track])
    return chains


def _chain_score(chain: list[Track]) -> float:
    """Sum of face sizes over frames, discounted by how much the face jumps around."""
    boxes = np.concatenate([np.stack(t.boxes) for t in chain])
    sizes = np.maximum(boxes[:, 2] - boxes[:, 0], boxes[:, 3] - boxes[:, 1])
    centres = (boxes[:, :2] + boxes[:, 2:]) / 2
    steps = np.linalg.norm(np.diff(centres, axis=0), axis=1) / sizes[1:] if len(boxes) > 1 else [0]
    return float(sizes.sum() / (1 + 10 * np.mean(steps)))


def _span(chain: list[Track]) -> tuple[int, int]:
    return chain[0].start, chain[-1].end


def choose_main(
    chains: list[list[Track]],
    min_frames: int = 1,
    same_person: Callable[[list[Track], list[Track]], bool] | None = None,
) -> list[list[Track]]:
    """The main face's chains in time order: the best, then the best that fit around it in time
    (at least ``min_frames`` long, and the same person as the best when ``same_person`` is given)."""
    chosen: list[list[Track]] = []
    for chain in sorted(chains, key=_chain_score, reverse=True):
        start, end = _span(chain)
        if chosen and end - start + 1 < min_frames:
            continue
        if any(start <= e and end >= s for s, e in map(_span, chosen)):
            continue
        if not chosen or same_person is None or same_person(chosen[0], chain):
            chosen.append(chain)
    return sorted(chosen, key=lambda c: c[0].start)


def build_timeline(chains: list[list[Track]], n_frames: int) -> Timeline:
    """Fill per-frame arrays from the chosen chains, interpolating inside each chain's gaps."""
    present = np.zeros(n_frames, bool)
    boxes = np.zeros((n_frames, 4), np.float32)
    landmarks = np.zeros((n_frames, 68, 2), np.float32)
    scores = np.zeros(n_frames, np.float32)
    segments = np.full(n_frames, -1, np.int32)
    for segment, chain in enumerate(chains):
        for track in chain:
            frames = slice(track.start, track.end + 1)
            present[frames] = True
            boxes[frames], landmarks[frames] = np.stack(track.boxes), np.stack(track.landmarks)
            scores[frames] = track.scores
        start, end = _span(chain)
        segments[start : end + 1] = segment
        _interpolate_gaps(present, boxes, landmarks, start, end)
    return Timeline(present, boxes, landmarks, scores, segments)


def _interpolate_gaps(present, boxes, landmarks, start: int, end: int) -> None:
    """Linear interpolation over the frames of [start, end] that no track of the chain covers."""
    frames = np.arange(start, end + 1)
    known = frames[present[start : end + 1]]
    missing = frames[~present[start : end + 1]]
    if not len(missing):
        return
    for values in (boxes, landmarks):
        flat = values.reshape(len(values), -1)
        for column in range(flat.shape[1]):
            flat[missing, column] = np.interp(missing, known, flat[known, column])
    present[missing] = True


def segment_runs(segments: np.ndarray) -> list[tuple[int, int]]:
    """[start, end) of each run of one segment id (absent frames excluded)."""
    change = np.flatnonzero(np.diff(segments)) + 1
    bounds = np.concatenate([[0], change, [len(segments)]])
    return [(a, b) for a, b in zip(bounds[:-1], bounds[1:], strict=True) if segments[a] >= 0]


def smooth(values: np.ndarray, segments: np.ndarray, window: int) -> np.ndarray:
    """Savitzky-Golay (order 2) along axis 0, separately in each segment; short runs are kept."""
    out = values.astype(np.float64).copy()
    for start, end in segment_runs(segments):
        length = min(window, end - start)
        length -= 1 - length % 2  # odd
        if length >= 5:
            out[start:end] = savgol(out[start:end], length, 2)
    return out


def savgol(values: np.ndarray, length: int, order: int) -> np.ndarray:
    """Savitzky-Golay filter along axis 0 (odd ``length`` ≤ len(values)), the edges taken from a
    polynomial fitted to the first and last ``length`` samples: scipy's savgol_filter with
    mode="interp", without importing scipy.signal (half a second for every tracking job)."""
    n, half = len(values), length // 2
    flat = values.reshape(n, -1)  # (N, C)
    fit = np.linalg.pinv(np.vander(np.arange(length), order + 1, increasing=True))  # (order+1, L)
    centre = np.vander([half], order + 1, increasing=True) @ fit  # (1, L): the centre's weights
    out = np.empty_like(flat)
    windows = np.lib.stride_tricks.sliding_window_view(flat, length, axis=0)  # (N-L+1, C, L)
    out[half : n - half] = windows @ centre[0]
    edges = np.vander(np.arange(length), order + 1, increasing=True)  # (L, order+1)
    out[:half] = (edges @ (fit @ flat[:length]))[:half]
    out[n - half :] = (edges @ (fit @ flat[n - length :]))[length - half :]
    return out.reshape(values.shape)


def hold_windows(windows: np.ndarray, present: np.ndarray) -> np.ndarray:
    """Absent frames keep the last present frame's crop window (the first one before any)."""
    index = np.where(present, np.arange(len(present)), -1)
    index = np.maximum.accumulate(index)
    first = int(np.argmax(present))
    index[index < 0] = first
    return windows[index]
