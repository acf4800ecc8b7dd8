"""Contact sheets: a grid of evenly spaced face crops with their part labels drawn over them.

The report shows one sheet per video so that a person can check at a glance that the parsing
maps sit on the faces (eyes on eyes, the image-left eye labelled "right" as LaPa wants, lips on
lips); a video without one gets a notice saying why (:func:`record_sheet`). Everything is RGB
in memory; only the PNG writer sees BGR.
"""

from __future__ import annotations

import textwrap
from pathlib import Path

import cv2
import numpy as np

from marlinflow.atomic import atomic_path
from marlinflow.errors import InputError
from marlinflow.face.store import PART_LABELS, load_parsing
from marlinflow.stages import StageRecord
from marlinflow.video.io import probe, read_frames

# One RGB colour per label (index = label); background is never painted.
PALETTE = np.array(
    [
        (0, 0, 0),  # background
        (255, 204, 153),  # skin
        (0, 102, 255),  # right brow (subject's right, image left)
        (0, 204, 255),  # left brow
        (255, 0, 0),  # right eye
        (255, 0, 255),  # left eye
        (0, 200, 0),  # nose
        (255, 255, 0),  # upper lip
        (64, 0, 128),  # inner mouth
        (255, 128, 0),  # lower lip
        (139, 69, 19),  # hair
    ],
    dtype=np.uint8,
)
LABEL_NAMES = sorted(PART_LABELS, key=PART_LABELS.get)


def overlay_labels(crop: np.ndarray, labels: np.ndarray, alpha: float = 0.45) -> np.ndarray:
    """The crop (H, W, 3) uint8 RGB with each labelled pixel (labels (H, W)) tinted by its part."""
    tinted = crop.astype(np.float32)
    painted = labels > 0
    colours = PALETTE[labels].astype(np.float32)  # (H, W, 3)
    tinted[painted] = (1 - alpha) * tinted[painted] + alpha * colours[painted]
    return tinted.round().astype(np.uint8)


def _caption(tile: np.ndarray, text: str) -> np.ndarray:
    """Write ``text`` on the tile's top-left corner, dark on a light box so it reads on any face."""
    tile = np.ascontiguousarray(tile)
    (w, h), _ = cv2.getTextSize(text, cv2.FONT_HERSHEY_SIMPLEX, 0.4, 1)
    cv2.rectangle(tile, (0, 0), (w + 4, h + 6), (255, 255, 255), -1)
    cv2.putText(tile, text, (2, h + 2), cv2.FONT_HERSHEY_SIMPLEX, 0.4, (0, 0, 0), 1, cv2.LINE_AA)
    return tile


def legend(width: int, swatch: int = 14) -> np.ndarray:
    """A strip (rows, width, 3) naming the colour of every part, in label order."""
    cell = 112
    per_row = max(width // cell, 1)
    rows = -(-(len(LABEL_NAMES) - 1) // per_row)
    strip = np.full((rows * (swatch + 8) + 4, width, 3), 255, np.uint8)
    for i, name in enumerate(LABEL_NAMES[1:]):
        x, y = (i % per_row) * cell + 4, (i // per_row) * (swatch + 8) + 4
        colour = tuple(int(c) for c in PALETTE[i + 1])
        cv2.rectangle(strip, (x, y), (x + swatch, y + swatch), colour, -1)
        cv2.putText(
            strip,
            name,
            (x + swatch + 4, y + swatch - 3),
            cv2.FONT_HERSHEY_SIMPLEX,
            0.38,
            (0, 0, 0),
            1,
            cv2.LINE_AA,
        )
    return strip


def sheet_image(
    crops: np.ndarray, labels: np.ndarray, present: np.ndarray, indices: np.ndarray, cols: int
) -> np.ndarray:
    """Tile (n, S, S, 3) crops with their labels (n, S, S) into a grid above a colour legend."""
    n, size = len(crops), crops.shape[1]
    rows = -(-n // cols)
    grid = np.full((rows * size, cols * size, 3), 255, np.uint8)
    for k in range(n):
        tile = overlay_labels(crops[k], labels[k]) if present[k] else crops[k] // 2
        text = f"#{indices[k]}" if present[k] else f"#{indices[k]} no face"
        r, c = divmod(k, cols)
        grid[r * size : (r + 1) * size, c * size : (c + 1) * size] = _caption(tile, text)
    return np.concatenate([grid, legend(grid.shape[1])], axis=0)


def contact_sheet(
    video: str | Path, parsing: str | Path, out_png: str | Path, n: int = 12, cols: int = 6
) -> Path:
    """Write a PNG of ``n`` evenly spaced frames of a face clip with their parsing labels.

    Returns the PNG's path. The clip and the parsing file must have the same number of frames.
    """
    labels, present = load_parsing(parsing)
    n_frames = min(probe(video).n_frames, len(labels))
    indices = np.unique(np.linspace(0, n_frames - 1, min(n, n_frames)).round().astype(int))
    crops = read_frames(video, indices)
    if crops.shape[1:3] != labels.shape[1:]:
        raise InputError(video, f"frames are {crops.shape[1:3]}, its labels {labels.shape[1:]}")
    image = sheet_image(crops, labels[indices], present[indices], indices, cols)
    return _write_png(image, out_png)


def _write_png(image: np.ndarray, out_png: str | Path) -> Path:
    with atomic_path(out_png) as tmp:
        if not cv2.imwrite(str(tmp), cv2.cvtColor(image, cv2.COLOR_RGB2BGR)):
            raise OSError(f"{out_png}: could not write PNG")
    return Path(out_png)


def notice_image(video_id: str, reason: str, width: int = 672) -> np.ndarray:
    """A sheet for a video that has none: its id and why it was dropped, wrapped to the width."""
    lines = [video_id, *textwrap.wrap(reason, width // 9)]
    image = np.full((40 + 24 * len(lines), width, 3), 245, np.uint8)
    for row, line in enumerate(lines):
        colour = (0, 0, 0) if row == 0 else (160, 0, 0)
        cv2.putText(image, line, (12, 30 + 24 * row), cv2.FONT_HERSHEY_SIMPLEX, 0.55, colour, 1)
    return image


def record_sheet(record_path: str | Path, out_png: str | Path, n: int = 12, cols: int = 6) -> Path:
    """The contact sheet of the video a parse stage record names, or a notice saying why the
    video has none (the record is not ok); returns the PNG's path."""
    record = StageRecord.load(record_path)
    if not record.ok:
        return _write_png(notice_image(record.id, record.reason), out_png)
    if "labels" not in record.outputs:
        raise InputError(
            record_path, f"a {record.stage} record; a contact sheet needs a parse record"
        )
    return contact_sheet(record.outputs["video"], record.outputs["labels"], out_png, n, cols)
