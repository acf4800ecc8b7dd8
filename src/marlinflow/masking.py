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

What the encoder sees: :func:`visible_composition` measures, from a video's parsing maps, the
share of background, skin and facial parts (:data:`TOKEN_CLASSES`) among the visible tokens that
:func:`make_mask` draws, which depends on how much of the crop the face fills.
"""

from __future__ import annotations

import functools
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

# The kinds of token Fasking tells apart, in its keep order: background, skin, the facial parts.
TOKEN_CLASSES: dict[str, tuple[int, ...]] = {
    "background": BACKGROUND,
    "skin": SKIN,
    "parts": tuple(label for group in PART_GROUPS for label in group),
}
# label -> index of its class in TOKEN_CLASSES, for any uint8 label (unknown ones: none)
_CLASS_OF = np.full(256, len(TOKEN_CLASSES), dtype=np.intp)
for _index, _members in enumerate(TOKEN_CLASSES.values()):
    _CLASS_OF[list(_members)] = _index
COMPOSITION_CLIPS = 16  # clips per video whose masks measure the visible composition

STRATEGIES = ("fasking", "fasking_opp", "random", "tube", "frame")
LABEL_STRATEGIES = ("fasking", "fasking_opp")  # the ones that read the parsing maps
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
    return (patch_counts(labels, N_LABELS, grid_hw) > 0).transpose(2, 0, 1)


def class_shares(labels: np.ndarray, grid_hw: tuple[int, int]) -> np.ndarray:
    """Share of each patch's pixels in each of :data:`TOKEN_CLASSES`: (S, S) label map ->
    (len(TOKEN_CLASSES), h, w), summing to 1 over the classes, on :func:`label_presence`'s patches."""
    counts = patch_counts(_CLASS_OF[labels], len(TOKEN_CLASSES), grid_hw)  # (h, w, C)
    return (counts / np.maximum(counts.sum(axis=2, keepdims=True), 1)).transpose(2, 0, 1)


def patch_counts(values: np.ndarray, n_values: int, grid_hw: tuple[int, int]) -> np.ndarray:
    """How many pixels of each value 0..n_values-1 each patch holds: (S, S) -> (h, w, n_values).
    Other values count for nothing."""
    h, w = grid_hw
    patch = _patch_of_pixel(values.shape[:2], tuple(grid_hw))
    if values.size and values.max() >= n_values:
        valid = values < n_values
        patch, values = patch[valid], values[valid]
    key = (patch * n_values + values).ravel()
    return np.bincount(key, minlength=h * w * n_values).reshape(h, w, n_values)


@functools.cache
def _patch_of_pixel(shape: tuple[int, int], grid_hw: tuple[int, int]) -> np.ndarray:
    """(S, S) row-major index of the patch holding each pixel: patch row i starts at pixel row
    floor(i*S/h), and likewise for columns. Cached (one per map size and grid), read-only."""
    (h, w), (rows, cols) = grid_hw, shape
    row = np.searchsorted((np.arange(h) * rows) // h, np.arange(rows), "right") - 1
    col = np.searchsorted((np.arange(w) * cols) // w, np.arange(cols), "right") - 1
    patch = row[:, None] * w + col[None, :]
    patch.flags.writeable = False
    return patch


def keep_order(rng: np.random.Generator, opposite: bool = False) -> list[tuple[int, ...]]:
    """One clip's label order: background, skin, then the part groups shuffled (or reversed)."""
    parts = [PART_GROUPS[i] for i in rng.permutation(len(PART_GROUPS))]
    return parts + [SKIN, BACKGROUND] if opposite else [BACKGROUND, SKIN, *parts]


def presence_of_maps(labels: np.ndarray, grid_hw: tuple[int, int]) -> np.ndarray:
    """:func:`label_presence` of each map: (t, S, S) -> (t, N_LABELS, h, w) bool."""
    return np.stack([label_presence(frame, grid_hw) for frame in labels]).reshape(
        len(labels), N_LABELS, *grid_hw
    )


def pack_presence(presence: np.ndarray) -> np.ndarray:
    """(..., N_LABELS, h, w) bool -> (..., h, w) uint16 with bit ``label`` set where the patch
    touches ``label``: the per-patch form the parse step stores for the loader."""
    bits = (1 << np.arange(N_LABELS)).astype(np.uint16)
    return np.tensordot(np.moveaxis(presence, -3, -1), bits, axes=1).astype(np.uint16)


def unpack_presence(packed: np.ndarray) -> np.ndarray:
    """Inverse of :func:`pack_presence`: (..., h, w) uint16 -> (..., N_LABELS, h, w) bool."""
    bits = (packed[..., None] >> np.arange(N_LABELS, dtype=np.uint16)) & 1
    return np.moveaxis(bits.astype(bool), -1, -3)


def fasking_candidates(
    labels: np.ndarray | None,
    present: np.ndarray,
    grid: Grid,
    ratio: float,
    rng: np.random.Generator,
    opposite: bool = False,
    presence: np.ndarray | None = None,
) -> np.ndarray:
    """Candidates (t, h, w) from the label map of each tubelet's first frame, (t, S, S), or
    from which labels each of their patches touches, ``presence`` (t, N_LABELS, h, w).

    Per tubelet, the labels of the clip's order are added one by one (a patch is a candidate
    once it touches any label added so far), stopping at the first label after which at least
    ``1 - ratio`` of the tubelet's patches are candidates; all tubelets at once.
    A tubelet without a face (``present`` False) makes all its cells candidates, as the official
    code does for an empty parsing map.
    """
    t, h, w = grid
    if presence is None:
        if labels is None or len(labels) != t:
            got = 0 if labels is None else len(labels)
            raise ValueError(f"need one label map per tubelet ({t}), got {got}")
        presence = presence_of_maps(labels, (h, w))
    if presence.shape != (t, N_LABELS, h, w) or len(present) != t:
        raise ValueError(
            f"need label presence (t, labels, h, w) = {(t, N_LABELS, h, w)} and one flag per "
            f"tubelet, got {presence.shape}/{len(present)}"
        )
    order = [label for group in keep_order(rng, opposite) for label in group]
    marked = np.logical_or.accumulate(presence[:, order], axis=1)  # (t, labels, h, w)
    reached = marked.mean(axis=(2, 3)) >= 1.0 - ratio  # (t, labels)
    stop = np.where(reached.any(axis=1), reached.argmax(axis=1), len(order) - 1)
    candidates = marked[np.arange(t), stop]
    candidates[~np.asarray(present, bool)] = True
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
    presence: np.ndarray | None = None,
) -> np.ndarray:
    """A visible-token mask (N,) bool for one clip, with exactly visible_count(N, ratio) True.

    ``labels`` (t, S, S) uint8 holds the parsing map of each tubelet's first frame and
    ``present`` (t,) whether it shows a face; only the fasking strategies read them. Instead
    of the maps, ``presence`` (t, N_LABELS, h, w) may give which labels each patch touches
    (:func:`presence_of_maps` of the maps, as the parse step stores it): the same mask.
    """
    if strategy in LABEL_STRATEGIES:
        if labels is None and presence is None:
            raise ValueError(f"{strategy} masking needs parsing labels")
        t = grid[0]
        present = np.ones(t, bool) if present is None else np.asarray(present, bool)
        opposite = strategy == "fasking_opp"
        candidates = fasking_candidates(labels, present, grid, ratio, rng, opposite, presence)
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


def composition_frames(
    n_frames: int, grid: Grid, tubelet: int, stride: int, clips: int = COMPOSITION_CLIPS
) -> np.ndarray:
    """(clips, t) frame indices: the first frame of each tubelet of ``clips`` clips whose starts
    are spread evenly over a video of ``n_frames`` (a short video repeats its last frame, as the
    pretraining clips do)."""
    t = grid[0]
    span = (t * tubelet - 1) * stride + 1  # frames one clip covers
    starts = np.linspace(0, max(n_frames - span, 0), clips).round().astype(int)
    return np.minimum(starts[:, None] + stride * tubelet * np.arange(t), n_frames - 1)


def visible_composition(
    labels: np.ndarray,
    present: np.ndarray,
    grid: Grid,
    ratio: float,
    strategy: str,
    balanced: bool = False,
    seed: int = 0,
) -> dict[str, float]:
    """Share of background, skin and facial parts among the visible tokens of a video's clips.

    ``labels`` (clips, t, S, S) and ``present`` (clips, t) are the maps of each tubelet's first
    frame (:func:`composition_frames`). Each clip gets one mask from :func:`make_mask` (clip i
    seeded with (seed, i), so the result is a function of the maps and settings), and each visible
    token counts by the share of its patch's pixels in each class (:func:`class_shares`): a
    token that is half background and half skin adds half to each. The result, normalised over
    all clips' visible tokens, estimates the expected composition of what the encoder sees.
    Frames without a face are drawn all background by the parse step, and count as such.
    """
    totals = np.zeros(len(TOKEN_CLASSES))
    for i, (clip, faces) in enumerate(zip(labels, present, strict=True)):
        rng = np.random.default_rng([seed, i])
        mask = make_mask(strategy, grid, ratio, rng, clip, faces, balanced)  # (N,)
        shares = np.stack([class_shares(frame, grid[1:]) for frame in clip], axis=1)
        totals += shares.reshape(len(TOKEN_CLASSES), -1)[:, mask].sum(axis=1)
    return dict(zip(TOKEN_CLASSES, (totals / totals.sum()).tolist(), strict=True))
