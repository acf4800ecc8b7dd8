"""VoxCeleb2: speakers' interview clips, for pretraining.

Splits are by speaker: the test part is test; a dev speaker's clips are train or val together
(5% val by a seeded hash of the speaker id). The speaker is each clip's ``group``, so that
pretraining's own validation split holds out whole speakers too.
"""

from __future__ import annotations

from typing import Any

import pandas as pd

from marlinflow.datasets.common import require_root, safe_id
from marlinflow.datasets.registry import Dataset, Gate, Published
from marlinflow.downstream.splits import split_of

VAL = 0.05  # share of the dev speakers (and their clips) in val


def manifest(cfg: dict[str, Any]) -> pd.DataFrame:
    """dev clips become train/val (speaker-disjoint), test clips test."""
    root = require_root(DATASET, cfg["root"])
    rows = []
    for part in ("dev", "test"):
        for clip in sorted((root / part / "mp4").glob("*/*/*.mp4")):
            speaker, youtube = clip.parent.parent.name, clip.parent.name
            split = "test" if part == "test" else split_of(speaker, VAL, 0.0, cfg["seed"])
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


# 1,128,246 clips of 6,112 speakers, 2,442 hours; the test part is 36,237 clips of 118 speakers
# (Chung, Nagrani and Zisserman, Interspeech 2018). The videos are 224x224 face tracks at 25 fps.
CLIPS, TEST_CLIPS = 1_128_246, 36_237
PUBLISHED = Published(
    "Chung, Nagrani and Zisserman, Interspeech 2018",
    videos=CLIPS,
    seconds=2_442 * 3600 / CLIPS,
    fps=25,
    width=224,
    height=224,
    splits={
        "train": (1 - TEST_CLIPS / CLIPS) * (1 - VAL),
        "val": (1 - TEST_CLIPS / CLIPS) * VAL,
        "test": TEST_CLIPS / CLIPS,
    },
)

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
    published=PUBLISHED,
)
