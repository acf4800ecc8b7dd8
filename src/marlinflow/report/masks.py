"""What the encoder sees: a face frame with the visible tokens of a Fasking mask (the cells
visible in any tubelet of the clip), beside those of a random mask of the same ratio, made from the video's parsing maps with the
same :mod:`marlinflow.masking` functions the pretraining data uses."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from marlinflow.errors import InputError
from marlinflow.face.contact import overlay_labels
from marlinflow.face.store import load_parsing
from marlinflow.masking import make_mask
from marlinflow.models import ModelSize
from marlinflow.stages import StageRecord
from marlinflow.video.io import read_frames

MASKED_GREY = 128


@dataclass
class MaskExample:
    video_id: str
    face: np.ndarray  # (S, S, 3) uint8, the first frame of the clip at the model's size
    parts: np.ndarray  # (S, S, 3) uint8, the same frame with its part labels drawn
    views: dict[str, np.ndarray]  # strategy -> (S, S, 3) uint8, cells masked in every tubelet grey
    visible: dict[str, int]  # strategy -> visible tokens in the whole clip


def resolve(path: str | Path, root: Path) -> Path:
    """A path from a stage record: as written (relative to where the workflow ran), else under
    ``root`` (the workflow's folder, when the report runs elsewhere)."""
    path = Path(path)
    return path if path.exists() or path.is_absolute() else root / path


def clip_frames(n_available: int, size: ModelSize, stride: int) -> np.ndarray:
    """The frame indices of the clip in the middle of the video (the last frame repeats when
    the video is short)."""
    span = (size.n_frames - 1) * stride + 1
    start = max(0, (n_available - span) // 2)
    return np.minimum(start + stride * np.arange(size.n_frames), n_available - 1)


def resize_square(image: np.ndarray, side: int, nearest: bool = False) -> np.ndarray:
    mode = cv2.INTER_NEAREST if nearest else cv2.INTER_AREA
    return image if image.shape[0] == side else cv2.resize(image, (side, side), interpolation=mode)


def masked_frame(frame: np.ndarray, visible_cells: np.ndarray) -> np.ndarray:
    """The frame (S, S, 3) with the patches that are not visible ((h, w) bool False) greyed."""
    side = frame.shape[0]
    keep = resize_square(visible_cells.astype(np.uint8), side, nearest=True).astype(bool)
    out = np.full_like(frame, MASKED_GREY)
    out[keep] = frame[keep]
    return out


def mask_example(
    record_path: str | Path,
    size: ModelSize,
    ratio: float,
    root: Path,
    stride: int = 2,
    seed: int = 0,
    strategies: tuple[str, ...] = ("fasking", "random"),
) -> MaskExample:
    """Masks of one video's middle clip; InputError when the record is not ok or unreadable."""
    record = StageRecord.load(record_path)
    if not record.ok:
        raise InputError(record_path, f"not usable: {record.reason}")
    video, labels_path = (resolve(record.outputs[k], root) for k in ("video", "labels"))
    labels, present = load_parsing(labels_path)  # (N, S, S), (N,)
    indices = clip_frames(len(labels), size, stride)
    firsts = indices[:: size.tubelet]  # the frame whose map decides each tubelet's mask
    face = resize_square(read_frames(video, indices[:1])[0], size.img_size)
    parts = overlay_labels(face, resize_square(labels[indices[0]], size.img_size, nearest=True))
    t, h, w = size.grid
    views, visible = {}, {}
    for strategy in strategies:
        rng = np.random.default_rng(seed)
        mask = make_mask(strategy, size.grid, ratio, rng, labels[firsts], present[firsts])
        # A 90% mask leaves a few tokens per tubelet; their union over the clip shows which
        # parts of the face a strategy lets the encoder see at all.
        views[strategy] = masked_frame(face, mask.reshape(t, h, w).any(axis=0))
        visible[strategy] = int(mask.sum())
    return MaskExample(record.id, face, parts, views, visible)
