"""Encode a folder of frame images (YouTube Faces ships JPEGs) into one mp4.

Frames are ordered by the numbers in their names (``0.999.jpg`` before ``0.1000.jpg``): a text
sort would put frame 1000 before frame 999, the ordering bug of the official preprocessing.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from PIL import Image

from marlinflow.download.encode import CRF
from marlinflow.errors import InputError
from marlinflow.video.writer import write_video

log = logging.getLogger(__name__)
IMAGE_SUFFIXES = {".jpg", ".jpeg", ".png", ".bmp", ".webp"}
YTF_FPS = 25.0


@dataclass
class FramesReport:
    n_frames: int
    gaps: list[tuple[int, int]] = field(default_factory=list)  # (last number, next number)

    @property
    def missing(self) -> int:
        return sum(after - before - 1 for before, after in self.gaps)


def natural_key(name: str) -> tuple:
    """Sort key comparing digit runs as numbers: ``0.999.jpg`` < ``0.1000.jpg``."""
    return tuple((0, int(part), "") if part.isdigit() else (1, 0, part) for part in _split(name))


def _split(name: str) -> list[str]:
    return [part for part in re.split(r"(\d+)", name) if part]


def frame_files(folder: str | Path) -> list[Path]:
    """The image files of ``folder`` in natural order."""
    folder = Path(folder)
    files = [p for p in folder.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES and p.is_file()]
    if not files:
        raise InputError(folder, f"no frame images ({', '.join(sorted(IMAGE_SUFFIXES))})")
    return sorted(files, key=lambda p: natural_key(p.name))


def numbering_gaps(files: list[Path]) -> list[tuple[int, int]]:
    """Where the frame number (the last number in a name) jumps by more than one."""
    numbers = [int(_split(p.stem)[-1]) if p.stem[-1:].isdigit() else None for p in files]
    return [
        (a, b)
        for a, b in zip(numbers[:-1], numbers[1:], strict=True)
        if a is not None and b is not None and b > a + 1
    ]


def read_image(path: Path) -> np.ndarray:
    """An image file as RGB (H, W, 3) uint8, or an error naming the file."""
    try:
        with Image.open(path) as image:
            return np.asarray(image.convert("RGB"))
    except (OSError, ValueError, Image.DecompressionBombError) as err:
        raise InputError(path, f"unreadable image ({err})") from err


def _same_size_images(paths: list[Path]) -> Iterator[np.ndarray]:
    size = None
    for path in paths:
        rgb = read_image(path)
        if size is not None and rgb.shape[:2] != size:
            raise InputError(path, f"size {rgb.shape[1]}x{rgb.shape[0]} differs from frame 0")
        size = rgb.shape[:2]
        yield rgb


def encode_frames(
    folder: str | Path,
    out: str | Path,
    fps: float = YTF_FPS,
    start: float | None = None,
    end: float | None = None,
) -> FramesReport:
    """Write the frames of ``folder`` (those timed in [start, end) at ``fps``) as an mp4."""
    files = frame_files(folder)
    report = FramesReport(0, numbering_gaps(files))
    if report.gaps:
        log.warning("%s: %d frame(s) missing from the numbering", folder, report.missing)
    first = int(round((start or 0) * fps))
    last = len(files) if end is None else min(len(files), int(round(end * fps)))
    if first >= last:
        raise InputError(folder, f"no frames between {start} s and {end} s")
    report.n_frames = write_video(out, _same_size_images(files[first:last]), fps, crf=CRF)
    return report
