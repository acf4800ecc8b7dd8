"""YouTube Faces: folders of frame images, one per video, for pretraining.

Splits are by identity: a person's videos share a split (80% train, 20% val by a seeded hash of
the person's folder name), and the person is each video's ``group``, so that pretraining's own
validation split (``pretrain.val_fraction``) holds out whole identities too, as the official
train/val lists do.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pandas as pd

from marlinflow.datasets.common import require_root, safe_id
from marlinflow.datasets.registry import Dataset, Gate, Published
from marlinflow.downstream.splits import split_of, split_shares

VAL = 0.2  # share of the people (and so of the videos) in val


def manifest(cfg: dict[str, Any]) -> pd.DataFrame:
    """One row per ``frame_images_DB/<person>/<video>`` folder; splits are identity-disjoint."""
    frames = require_root(DATASET, cfg["root"]) / "frame_images_DB"
    rows = [
        {
            "id": safe_id(person.name, video.name),
            "source": str(video.relative_to(frames.parent)),
            "split": split_of(person.name, VAL, 0.0, cfg["seed"]),
            "identity": person.name,
            "group": person.name,
        }
        for person in sorted(p for p in frames.iterdir() if p.is_dir())
        for video in sorted((v for v in person.iterdir() if v.is_dir()), key=_natural)
    ]
    return pd.DataFrame(rows)


def _natural(path: Path) -> list:
    """Sort key reading the digits of a name as numbers (video 2 before video 10)."""
    return [int(t) if t.isdigit() else t for t in re.split(r"(\d+)", path.name)]


# 3,425 videos of 1,595 people (Wolf, Hassner and Maoz, CVPR 2011), every one of which the
# manifest lists. MARLIN's shipped split keeps 3,226 of them, 587,035 frames in all (marlin.md
# §2.3): about 182 frames a video, the length taken here for all 3,425.
FRAMES_PER_VIDEO = 587_035 / 3_226
FPS = 25  # the rate the download step gives frame folders (dataset.fps)
PUBLISHED = Published(
    "Wolf, Hassner and Maoz, CVPR 2011 (videos); MARLIN's split, marlin.md §2.3 (frames)",
    videos=3_425,
    seconds=FRAMES_PER_VIDEO / FPS,
    fps=FPS,
    width=320,
    height=240,
    splits=split_shares(VAL, 0.0),
    fetch="frames",
    assumed={"size": "the frames' size is not in the references here: assumed 320x240"},
)

DATASET = Dataset(
    "youtube_faces",
    "YouTube Faces",
    manifest,
    gate=Gate(
        "https://www.cs.tau.ac.il/~wolf/ytfaces/",
        "frame_images_DB",
        "request access, download YouTubeFaces.tar.gz and unpack it so that "
        "<root>/frame_images_DB/<person>/<video>/<frame>.jpg exist",
    ),
    published=PUBLISHED,
)
