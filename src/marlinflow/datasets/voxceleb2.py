"""VoxCeleb2: speakers' interview clips, for pretraining.

Splits are by speaker: the test part is test; a dev speaker's clips are train or val together
(5% val by a seeded hash of the speaker id). The speaker is each clip's ``group``, so that
pretraining's own validation split holds out whole speakers too.
"""

from __future__ import annotations

from typing import Any

import pandas as pd

from marlinflow.datasets.common import require_root, safe_id
from marlinflow.datasets.registry import Dataset, Gate
from marlinflow.downstream.splits import split_of


def manifest(cfg: dict[str, Any]) -> pd.DataFrame:
    """dev clips become train/val (speaker-disjoint), test clips test."""
    root = require_root(DATASET, cfg["root"])
    rows = []
    for part in ("dev", "test"):
        for clip in sorted((root / part / "mp4").glob("*/*/*.mp4")):
            speaker, youtube = clip.parent.parent.name, clip.parent.name
            split = "test" if part == "test" else split_of(speaker, 0.05, 0.0, cfg["seed"])
            rows.append(
                {
                    "id": safe_id(speaker, youtube, clip.stem),
                    "source": str(clip.relative_to(root)),
                    "split": split,
                    "identity": speaker,
                    "group": speaker,
                }
            )
    return pd.DataFrame(rows)


DATASET = Dataset(
    "voxceleb2",
    "VoxCeleb2",
    manifest,
    gate=Gate(
        "https://www.robots.ox.ac.uk/~vgg/data/voxceleb/vox2.html",
        "dev/mp4",
        "request access, download the dev (and test) video parts and unpack them so that "
        "<root>/dev/mp4/<speaker>/<youtube id>/<clip>.mp4 exist",
    ),
)
