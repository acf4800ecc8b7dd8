"""Token masks for masked-autoencoder pretraining: pure functions over face-parsing label maps.

A mask is a flat bool vector over the token grid (t, h, w), flattened t slowest and w fastest,
True where the token stays visible. Every strategy works in two stages, as MARLIN's does
(reference: marlin.md §1.7): it marks *candidate* tokens on the grid, then :func:`prune` keeps
exactly ``visible_count(n_tokens, ratio)`` of them at random (156 of 1568 at ratio 0.9).

- ``fasking``: per tubelet, candidates are the patches touching background, then skin, then the
  facial parts in a random order (one order per clip), stopping as soon as the visible fraction
  of the tubelet's grid is reached. A patch touches a label if any of its pixels has it.
- ``fasking_opp``: the same with the order reversed: facial parts first, background last.
- ``random``: every token is a candidate.
- ``tube``: ceil(h*w*v) random cells of one grid, repeated over time.
- ``frame``: ceil(t*v) whole tubelets.

``balanced=True`` prunes per tubelet (quotas differing by at most one) instead of globally, so
the visible tokens are spread evenly over time; the official pruning is global, which leaves
some tubelets with 3x the visible tokens of others.

Randomness comes only from the ``numpy.random.Generator`` passed in, so a mask is a function of
(labels, present, geometry, ratio, strategy, seed).
"""

from __future__ import annotations

import math

import numpy as np

from marlinflow.face.store import PART_LABELS

# Facial-part groups in MARLIN's group order (labels in FaRL-LaPa order).
PART_GROUPS: tuple[tuple[int, ...], ...] = (
    (PART_LABELS["right_brow"], PART_LABELS["right_eye"]),
    (PART_LABELS["left_brow"], PART_LABELS["left_eye"]),
    (PART_LABELS["nose"],),
    (PART_LABELS["upper_lip"], PART_LABELS["inner_mouth"], PART_LABELS["lower_lip"]),
    (PART_LABELS["hair"],),
)
SKIN = (PART_LABELS["skin"],)
BACKGROUND = (PART_LABELS["background"],)
N_LABELS = max(PART_LABELS.values()) + 1

STRATEGIES = ("fasking", "fasking_opp", "random", "tube", "frame")
Grid = tuple[int, int, int]


def visible_count(n_tokens: int, ratio: float) -> int:
    """floor(n_tokens * (1 - ratio)): 156 of 1568 at 0.9.

    The small epsilon keeps float noise (1 - 0.9 = 0.0999...) from losing a token when the
    product is an exact integer, e.g. 20 of 200.
    """
    if not 0.0 <= ratio < 1.0:
        raise ValueError(f"mask ratio must be in [0, 1), got {ratio}")
    return max(1, math.floor(n_tokens * (1.0 - ratio) + 1e-6))


def label_presence(labels: np.ndarray, grid_hw: tuple[int, int]) -> np.ndarray:
    """Which labels each patch touches: (S, S) label map -> (N_LABELS, h, w) bool.

    The map may have any resolution (e.g. 224 for official crops); patch (i, j) covers rows
    floor(i*S/h) .. floor((i+1)*S/h) - 1, which is exactly 16 px per patch for 224 / 14.
    """
    h, w = grid_hw
    rows = (np.arange(h) * labels.shape[0]) // h
    cols = (np.arange(w) * labels.shape[1]) // w
    onehot = labels[None, :, :] == np.arange(N_LABELS)[:, None, None]  # (L, S, S)
    per_row = np.logical_or.reduceat(onehot, rows, axis=1)  # (L, h, S)
    return np.logical_or.reduceat(per_row, cols, axis=2)  # (L, h, w)


def keep_order(rng: np.random.Generator, opposite: bool = False) -> list[tuple[int, ...]]:
    """One clip's label order: background, skin, then the part groups shuffled (or reversed)."""
    parts = [PART_GROUPS[i] for i in rng.permutation(len(PART_GROUPS))]
    return parts + [SKIN, BACKGROUND] if opposite else [BACKGROUND, SKIN, *parts]


def tubelet_candidates(
    presence: np.ndarray, order: list[tuple[int, ...]], visible_frac: float
) -> np.ndarray:
    """Candidate cells of one tubelet: walk ``order`` label by label, stop once enough are marked."""
    candidates = np.zeros(presence.shape[1:], dtype=bool)
    for group in order:
        for label in group:
            candidates |= presence[label]
            if candidates.mean() >= visible_frac:
                return candidates
    return candidates


def fasking_candidates(
    labels: np.ndarray,
    present: np.ndarray,
    grid: Grid,
    ratio: float,
    rng: np.random.Generator,
    opposite: bool = False,
) -> np.ndarray:
    """Candidates (t, h, w) from the label map of each tubelet's first frame, (t, S, S).

    A tubelet without a face (``present`` False) makes all its cells candidates, as the official
    code does for an empty parsing map.
    """
    t, h, w = grid
    if len(labels) != t or len(present) != t:
        raise ValueError(f"need one label map per tubelet ({t}), got {len(labels)}/{len(present)}")
    order = keep_order(rng, opposite)
    candidates = np.ones(grid, dtype=bool)
    for k in range(t):
        if present[k]:
            presence = label_presence(labels[k], (h, w))
            candidates[k] = tubelet_candidates(presence, order, 1.0 - ratio)
    return candidates


def tube_candidates(grid: Grid, ratio: float, rng: np.random.Generator) -> np.ndarray:
    t, h, w = grid
    cells = np.zeros(h * w, dtype=bool)
    cells[rng.choice(h * w, math.ceil(h * w * (1.0 - ratio) - 1e-6), replace=False)] = True
    return np.broadcast_to(cells.reshape(1, h, w), grid).copy()


def frame_candidates(grid: Grid, ratio: float, rng: np.random.Generator) -> np.ndarray:
    t = grid[0]
    candidates = np.zeros(grid, dtype=bool)
    candidates[rng.choice(t, math.ceil(t * (1.0 - ratio) - 1e-6), replace=False)] = True
    return candidates


def prune(
    candidates: np.ndarray, n_visible: int, rng: np.random.Generator, balanced: bool = False
) -> np.ndarray:
    """Keep exactly ``n_visible`` tokens, drawn uniformly from the candidates: (t, h, w) -> (N,).

    If there are fewer candidates than ``n_visible``, all are kept and the rest drawn from the
    other tokens, so the count per clip is always exact (the encoder needs equal counts).
    """
    flat = candidates.reshape(len(candidates), -1)  # (t, h*w)
    chosen = np.zeros(flat.shape, dtype=bool)
    if balanced:
        _take_per_tubelet(flat, chosen, n_visible, rng)
    remaining = n_visible - int(chosen.sum())
    _take(chosen.reshape(-1), (flat & ~chosen).reshape(-1), remaining, rng)
    remaining = n_visible - int(chosen.sum())
    _take(chosen.reshape(-1), ~chosen.reshape(-1), remaining, rng)
    return chosen.reshape(-1)


def _take(chosen: np.ndarray, pool: np.ndarray, count: int, rng: np.random.Generator) -> None:
    """Mark ``count`` random True positions of ``pool`` (at most all of them) in ``chosen``."""
    indices = np.flatnonzero(pool)
    if count > 0 and len(indices):
        chosen[rng.choice(indices, min(count, len(indices)), replace=False)] = True


def _take_per_tubelet(
    flat: np.ndarray, chosen: np.ndarray, n_visible: int, rng: np.random.Generator
) -> None:
    """Quotas of n_visible // t per tubelet, the remainder going to randomly chosen tubelets."""
    t = len(flat)
    quotas = np.full(t, n_visible // t)
    quotas[rng.choice(t, n_visible % t, replace=False)] += 1
    for k in range(t):
        _take(chosen[k], flat[k], int(quotas[k]), rng)


def make_mask(
    strategy: str,
    grid: Grid,
    ratio: float,
    rng: np.random.Generator,
    labels: np.ndarray | None = None,
    present: np.ndarray | None = None,
    balanced: bool = False,
) -> np.ndarray:
    """A visible-token mask (N,) bool for one clip, with exactly visible_count(N, ratio) True.

    ``labels`` (t, S, S) uint8 holds the parsing map of each tubelet's first frame and
    ``present`` (t,) whether it shows a face; only the fasking strategies read them.
    """
    if strategy in ("fasking", "fasking_opp"):
        if labels is None:
            raise ValueError(f"{strategy} masking needs parsing labels")
        present = np.ones(len(labels), bool) if present is None else np.asarray(present, bool)
        opposite = strategy == "fasking_opp"
        candidates = fasking_candidates(labels, present, grid, ratio, rng, opposite)
    elif strategy == "random":
        candidates = np.ones(grid, dtype=bool)
    elif strategy == "tube":
        candidates = tube_candidates(grid, ratio, rng)
    elif strategy == "frame":
        candidates = frame_candidates(grid, ratio, rng)
    else:
        raise ValueError(f"unknown mask strategy {strategy!r}; known: {', '.join(STRATEGIES)}")
    return prune(candidates, visible_count(int(np.prod(grid)), ratio), rng, balanced)


def fasking(labels, present, grid, ratio, rng, balanced=False) -> np.ndarray:
    """MARLIN's Fasking mask (N,) bool; see :func:`make_mask`."""
    return make_mask("fasking", grid, ratio, rng, labels, present, balanced)


def fasking_opp(labels, present, grid, ratio, rng, balanced=False) -> np.ndarray:
    """Fasking with the order reversed: facial parts stay visible first."""
    return make_mask("fasking_opp", grid, ratio, rng, labels, present, balanced)


def random(grid, ratio, rng, balanced=False) -> np.ndarray:
    """Uniform random mask (N,) bool."""
    return make_mask("random", grid, ratio, rng, balanced=balanced)


def tube(grid, ratio, rng, balanced=False) -> np.ndarray:
    """VideoMAE-style tube mask, pruned as the official code does (so not strictly a tube)."""
    return make_mask("tube", grid, ratio, rng, balanced=balanced)


def frame(grid, ratio, rng, balanced=False) -> np.ndarray:
    """Whole-tubelet mask (N,) bool."""
    return make_mask("frame", grid, ratio, rng, balanced=balanced)
