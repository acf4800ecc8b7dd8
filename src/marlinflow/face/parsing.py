"""Face-parsing maps drawn from 68-point landmarks, in the FaRL-LaPa label scheme MARLIN masks by.

MARLIN's Fasking needs, per frame of an aligned 224x224 face crop, a map of facial parts
(labels in :data:`marlinflow.face.store.PART_LABELS`). The official code runs a FaRL network
for that; here the default is to draw the parts as polygons from the iBUG-68 landmarks the
tracker already found, which costs well under a millisecond a frame.

iBUG-68 point groups: jaw 0-16, brows 17-21 / 22-26, nose bridge 27-30, nose base 31-35,
eyes 36-41 / 42-47, outer lips 48-59, inner lips 60-67.

Left and right: LaPa's "right brow/eye" is the SUBJECT's right, which in an unmirrored image
lies on the image's LEFT. iBUG's 17-21 and 36-41 are the image-left brow and eye, so they get
the "right" labels (2 and 4), and 22-26 / 42-47 get the "left" labels (3 and 5).

What is measured and what is estimated: eyes, brows, nose, lips and the jaw line follow the
landmarks. The landmarks stop at the brows, so the forehead (the top of the skin region) is
extrapolated from face proportions (the brow-to-hairline height is taken as 0.8 of the
brow-to-nose-base height), and hair is only a band of fixed relative width above the forehead
and beside the temples (down to jaw points 2 and 14), whatever the person's hair is really like.
Fasking uses hair as one group among five, so an estimate of its place is enough; it is not a
hair segmentation. The ``farl`` backend (:mod:`marlinflow.face.parsing_farl`) segments the
real forehead and hair where its weights are available.
"""

from __future__ import annotations

import cv2
import numpy as np

from marlinflow.face.store import PART_LABELS

JAW = np.arange(0, 17)
BROW_IMAGE_LEFT, BROW_IMAGE_RIGHT = np.arange(17, 22), np.arange(22, 27)
EYE_IMAGE_LEFT, EYE_IMAGE_RIGHT = np.arange(36, 42), np.arange(42, 48)
UPPER_LIP = np.array([48, 49, 50, 51, 52, 53, 54, 64, 63, 62, 61, 60])
LOWER_LIP = np.array([54, 55, 56, 57, 58, 59, 48, 60, 67, 66, 65, 64])
INNER_MOUTH = np.arange(60, 68)

# Face proportions used where the landmarks say nothing (fractions of the lengths named).
FOREHEAD_OF_BROW_TO_NOSE = 0.8  # brow-to-hairline height / brow-to-nose-base height
FOREHEAD_PROFILE = np.array([0.55, 0.8, 0.95, 1.0, 1.0, 1.0, 1.0, 0.95, 0.8, 0.55])
HAIR_OF_BROW_TO_NOSE = 0.45  # hair band thickness above the forehead
BROW_OF_EYE_DISTANCE = 0.11  # brow thickness / inter-ocular distance
BROW_PROFILE = np.array([0.6, 0.85, 1.0, 1.0, 0.9])  # outer tail to inner head
NOSE_HALF_WIDTHS_OF_EYE_DISTANCE = (0.09, 0.13, 0.07)  # at points 27, 29 and beside 31/35

SHIFT = 2  # cv2 fixed-point bits: vertices keep a quarter-pixel precision
# Draw order: later parts paint over earlier ones where the estimates overlap.
DRAW_ORDER = (
    "hair",
    "skin",
    "nose",
    "right_brow",
    "left_brow",
    "right_eye",
    "left_eye",
    "upper_lip",
    "lower_lip",
    "inner_mouth",
)


def _unit(v: np.ndarray) -> np.ndarray:
    return v / np.maximum(np.linalg.norm(v, axis=-1, keepdims=True), 1e-6)


def face_axes(lm: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Per-frame directions and lengths of the face: (across (N,2), up (N,2), iod (N,1), bn (N,1)).

    ``across`` points from the image-left eye to the image-right eye, ``up`` towards the
    forehead; ``iod`` is the inter-ocular distance, ``bn`` the brow-to-nose-base height.
    """
    eye_left, eye_right = lm[:, EYE_IMAGE_LEFT].mean(1), lm[:, EYE_IMAGE_RIGHT].mean(1)
    across = _unit(eye_right - eye_left)  # (N, 2)
    up = np.stack([across[:, 1], -across[:, 0]], axis=-1)  # image y grows downwards
    iod = np.linalg.norm(eye_right - eye_left, axis=-1, keepdims=True)  # (N, 1)
    brows = lm[:, 17:27].mean(1)
    bn = np.abs(((brows - lm[:, 33]) * up).sum(-1, keepdims=True))  # (N, 1)
    return across, up, iod, bn


def _forehead(lm, across, up, iod, bn) -> np.ndarray:
    """(N, 10, 2) estimated hairline above brow points 17..26, a little wider at the temples."""
    brows = lm[:, 17:27]
    lift = FOREHEAD_OF_BROW_TO_NOSE * FOREHEAD_PROFILE[None, :, None] * bn[:, None]
    side = np.linspace(-1.0, 1.0, 10)[None, :, None] ** 3  # spread only the outer points
    return brows + up[:, None] * lift + across[:, None] * side * 0.12 * iod[:, None]


def _part_polygons(lm: np.ndarray) -> dict[str, np.ndarray]:
    """Polygon vertices (N, k, 2) of every part, for N frames of landmarks (N, 68, 2)."""
    across, up, iod, bn = face_axes(lm)
    down = -up
    forehead = _forehead(lm, across, up, iod, bn)
    skin = np.concatenate([lm[:, JAW], forehead[:, ::-1]], axis=1)
    hair_top = forehead + up[:, None] * HAIR_OF_BROW_TO_NOSE * bn[:, None]
    out = across[:, None] * 0.12 * iod[:, None]
    hair = np.concatenate(
        [lm[:, [2, 0]] - out, hair_top, lm[:, [16, 14]] + out, lm[:, [14, 2]]], axis=1
    )
    return {
        "hair": hair,
        "skin": skin,
        "nose": _nose(lm, across, down, iod),
        "right_brow": _brow(lm[:, BROW_IMAGE_LEFT], BROW_PROFILE, up, iod),
        "left_brow": _brow(lm[:, BROW_IMAGE_RIGHT], BROW_PROFILE[::-1], up, iod),
        "right_eye": lm[:, EYE_IMAGE_LEFT],
        "left_eye": lm[:, EYE_IMAGE_RIGHT],
        "upper_lip": lm[:, UPPER_LIP],
        "lower_lip": lm[:, LOWER_LIP],
        "inner_mouth": lm[:, INNER_MOUTH],
    }


def _brow(points: np.ndarray, profile: np.ndarray, up: np.ndarray, iod: np.ndarray) -> np.ndarray:
    """A brow's polyline (N, 5, 2) given thickness: iBUG marks its upper edge, so grow it down."""
    thick = BROW_OF_EYE_DISTANCE * iod[:, None] * profile[None, :, None]  # (N, 5, 1)
    top = points + up[:, None] * 0.2 * thick
    bottom = points - up[:, None] * thick
    return np.concatenate([top, bottom[:, ::-1]], axis=1)


def _nose(lm: np.ndarray, across: np.ndarray, down: np.ndarray, iod: np.ndarray) -> np.ndarray:
    """Nose outline (N, 9, 2): a bridge widening from point 27 to the alae beside 31 and 35."""
    w_top, w_mid, w_ala = (w * iod for w in NOSE_HALF_WIDTHS_OF_EYE_DISTANCE)
    base = lm[:, 31:36] + down[:, None] * 0.03 * iod[:, None]
    left = [lm[:, 27] - across * w_top, lm[:, 29] - across * w_mid, lm[:, 31] - across * w_ala]
    right = [lm[:, 35] + across * w_ala, lm[:, 29] + across * w_mid, lm[:, 27] + across * w_top]
    return np.concatenate([np.stack(left, 1), base, np.stack(right, 1)], axis=1)


def rasterize_parts(
    landmarks: np.ndarray, size: int = 224, present: np.ndarray | None = None
) -> np.ndarray:
    """Part labels (N, size, size) uint8 from iBUG-68 landmarks (N, 68, 2) in crop pixels.

    Frames with ``present`` False (or non-finite landmarks) are all background, which Fasking
    treats as "no face" (random masking for that tubelet).
    """
    landmarks = np.asarray(landmarks, dtype=np.float64).reshape(-1, 68, 2)
    n = len(landmarks)
    use = np.ones(n, bool) if present is None else np.asarray(present, bool).copy()
    use &= np.isfinite(landmarks).all(axis=(1, 2))
    labels = np.zeros((n, size, size), np.uint8)
    if not use.any():
        return labels
    polygons = _part_polygons(landmarks[use])
    fixed = {k: np.round(v * (1 << SHIFT)).astype(np.int32, order="C") for k, v in polygons.items()}
    for row, frame in enumerate(np.flatnonzero(use)):
        canvas = labels[frame]  # a contiguous view: cv2 draws into ``labels`` in place
        for part in DRAW_ORDER:
            cv2.fillPoly(canvas, [fixed[part][row]], PART_LABELS[part], cv2.LINE_8, SHIFT)
    return labels


def label_coverage(labels: np.ndarray, present: np.ndarray) -> dict[str, float]:
    """Fraction of the pixels of frames with a face that each part covers."""
    with_face = labels[np.asarray(present, bool)]
    return coverage_of_counts(np.bincount(with_face.ravel(), minlength=len(PART_LABELS)))


def coverage_of_counts(counts: np.ndarray) -> dict[str, float]:
    """Each part's share of the pixel counts per label (of frames with a face)."""
    total = max(int(counts.sum()), 1)
    return {name: round(float(counts[i]) / total, 5) for name, i in PART_LABELS.items()}
