"""Folders of frame images read as videos (the YouTube Faces layout: ``<vid>/0.1.jpg, 0.2.jpg ...``).

Frames are ordered by the numbers in their names, not by text: ``0.999.jpg`` comes before
``0.1000.jpg`` (the official loader's ``sorted(listdir)`` gets this wrong). A gap in the numbering
is a missing frame and is reported, naming the folder and the first missing number.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Sequence
from pathlib import Path

import cv2
import numpy as np

from marlinflow.errors import VideoError
from marlinflow.video.info import VideoInfo

IMAGE_SUFFIXES = {".jpg", ".jpeg", ".png", ".bmp", ".webp", ".tif", ".tiff"}
# Frame folders carry no timing; YouTube Faces was extracted at the source videos' 25-30 fps.
FOLDER_FPS = 25.0
_NUMBER = re.compile(r"\d+")


def _natural_key(path: Path) -> tuple:
    parts = _NUMBER.split(path.stem)
    numbers = [int(n) for n in _NUMBER.findall(path.stem)]
    return tuple(numbers), tuple(parts), path.suffix


def list_frame_files(folder: str | Path) -> list[Path]:
    """Image files of a frame folder in numeric order; raises if a frame number is missing."""
    folder = Path(folder)
    files = sorted(
        (p for p in folder.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES and p.is_file()),
        key=_natural_key,
    )
    if not files:
        raise VideoError(folder, "frame folder holds no images")
    _check_numbering(folder, files)
    return files


def _check_numbering(folder: Path, files: list[Path]) -> None:
    """The last number in each name must count up by one from the first frame to the last."""
    numbers = [_NUMBER.findall(p.stem) for p in files]
    if not all(numbers):
        return  # names without numbers: no numbering to check
    last = np.array([int(n[-1]) for n in numbers])
    steps = np.diff(last)
    bad = np.flatnonzero(steps != 1)
    if bad.size:
        i = int(bad[0])
        what = "repeated" if steps[i] <= 0 else f"missing frame number {last[i] + 1}"
        raise VideoError(folder, f"{what} after {files[i].name} (frames {last[0]}..{last[-1]})")


def _read_image(path: Path) -> np.ndarray:
    image = cv2.imread(str(path), cv2.IMREAD_COLOR)  # gray and palette images become 3-channel
    if image is None:
        raise VideoError(path, "unreadable or corrupt image")
    return cv2.cvtColor(image, cv2.COLOR_BGR2RGB)


def probe_folder(folder: str | Path) -> VideoInfo:
    files = list_frame_files(folder)
    height, width = _read_image(files[0]).shape[:2]
    return VideoInfo(str(folder), len(files), FOLDER_FPS, width, height)


def iter_folder(folder: str | Path) -> Iterator[np.ndarray]:
    """Stream the frames of a folder; frames of another size than the first are reported."""
    files = list_frame_files(folder)
    size = None
    for path in files:
        frame = _read_image(path)
        size = size or frame.shape
        if frame.shape != size:
            raise VideoError(path, f"frame size {frame.shape[:2]} differs from {size[:2]}")
        yield frame


def read_folder_frames(folder: str | Path, indices: Sequence[int]) -> np.ndarray:
    files = list_frame_files(folder)
    indices = list(indices)
    if indices and (min(indices) < 0 or max(indices) >= len(files)):
        raise VideoError(folder, f"frame index out of range 0..{len(files) - 1}")
    return np.stack([_read_image(files[i]) for i in indices])
