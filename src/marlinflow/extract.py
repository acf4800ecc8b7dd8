"""Extract MARLIN features of face videos into a folder: one .npy file (windows × D) per video.

:func:`extract_videos` (the ``extract`` verb) is a tracked run, ``extract_features``, recorded in
the output folder: videos, windows, seconds and clips/s. A video that cannot be read is reported
and skipped; the others are still written.
"""

from __future__ import annotations

import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from marlinflow.atomic import atomic_path
from marlinflow.compute.precision import autocast, effective
from marlinflow.config.settings import settings_class
from marlinflow.errors import InputError
from marlinflow.features import Marlin, reduce_windows
from marlinflow.progress import progress

if TYPE_CHECKING:
    from marlinflow.tracking import TrackedRun


FeatureSettings = settings_class("downstream.features", "FeatureSettings")


@dataclass(frozen=True)
class Windows:
    """How a video becomes windows and features (see :meth:`Marlin.extract_video`), and the
    precision of the encoder's forward pass (``compute.precision``)."""

    sample_rate: int
    batch_size: int
    stride: int | None
    official_compat: bool
    keep_seq: bool
    reduction: str
    precision: str


def extract_videos(
    model: Marlin, videos: list[Path], out: Path, windows: Windows, tracked: TrackedRun
) -> int:
    """Features of ``videos`` into ``out/<stem>.npy``, each video's windows and seconds logged
    (a step per video) and the totals summarised (with the precision it ran at); returns how
    many videos failed."""
    failed = n_windows = 0
    started = time.perf_counter()
    precision = effective(windows.precision, model.device)
    for step, video in enumerate(progress(videos, "extract", unit="video")):
        begun = time.perf_counter()
        try:
            with autocast(precision, model.device):
                per_window = model.extract_video(
                    video,
                    sample_rate=windows.sample_rate,
                    stride=windows.stride,
                    keep_seq=windows.keep_seq,
                    batch_size=windows.batch_size,
                    official_compat=windows.official_compat,
                )
        except InputError as err:
            print(f"skipped: {err}", file=sys.stderr)
            failed += 1
            continue
        features = reduce_windows(per_window, windows.reduction)
        with atomic_path(out / f"{video.stem}.npy") as tmp:
            np.save(tmp, features.cpu().numpy().astype(np.float32))
        n_windows += len(per_window)
        seconds = time.perf_counter() - begun
        tracked.log({"video/windows": len(per_window), "video/seconds": seconds}, step=step)
    seconds = time.perf_counter() - started
    tracked.summarize(
        {
            "videos": len(videos) - failed,
            "videos_failed": failed,
            "windows": n_windows,
            "seconds": seconds,
            "clips_per_s": n_windows / seconds if seconds > 0 else 0.0,
            "precision": precision,
        }
    )
    return failed
