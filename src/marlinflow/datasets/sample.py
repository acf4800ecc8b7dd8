"""The embedded sample: videos of packaged faces with synthetic labels, for smoke tests.

Its videos are made by ``marlinflow sample`` (:mod:`marlinflow.sample`) along with their
manifest, in the data set's sample folder; its tasks are columns of that manifest (task ``csv``).
"""

from __future__ import annotations

from typing import Any

import pandas as pd

from marlinflow.datasets.registry import Dataset
from marlinflow.layout import DatasetLayout


def manifest(cfg: dict[str, Any]) -> pd.DataFrame:
    """The manifest of the sample that ``dataset.sample_videos`` and ``seed`` describe."""
    from marlinflow.sample import sample_manifest, sample_plan  # OpenCV: only when it is used

    return sample_manifest(sample_plan(cfg["sample_videos"], cfg["seed"]))


DATASET = Dataset(
    "sample",
    "the embedded sample",
    manifest,
    sources=lambda cfg: DatasetLayout(cfg["name"]).sample_sources,
    generated=True,
)
