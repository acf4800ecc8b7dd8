"""How big each data set of an experiment is: its videos, their splits and their length.

A data set's manifest says, when its files are there. A gated data set whose ``dataset.root``
is unset is counted at the size its paper publishes (its module's
:class:`~marlinflow.datasets.Published`); a manifest without lengths takes them from there, or
from an assumption it names (:data:`UNKNOWN`).
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from functools import partial
from typing import Any

import pandas as pd

from marlinflow import datasets
from marlinflow.datasets import Published
from marlinflow.download.sources import Kind, resolve
from marlinflow.experiment.spec import Dataset

# What the download step does with a video, by the rate it is costed at (download.<work>).
FETCH_WORK = {
    "frames": "frame folders encoded",
    "cut": "windows cut and re-encoded",
    "fetch": "videos downloaded",
    "link": "files linked",
}
# A data set whose size nothing publishes (your own manifest, the sample).
UNKNOWN = {"seconds": 10.0, "fps": 30.0, "width": 1280, "height": 720}


@dataclass(frozen=True)
class DatasetSize:
    name: str
    videos: int
    splits: dict[str, int]  # videos per split
    seconds: float  # mean length of a video
    fps: float
    width: int
    height: int
    fetch: dict[str, int]  # videos per download work (a key of FETCH_WORK)
    source: str  # where the numbers come from
    assumed: dict[str, str] = field(default_factory=dict)
    published: Published | None = None

    @property
    def frames(self) -> float:
        return self.seconds * self.fps

    @property
    def tier(self) -> str:
        """Which measured rates apply: sd (up to 640x480) or hd."""
        return "hd" if self.width * self.height > 640 * 480 else "sd"

    def task_splits(self, task: dict[str, Any]) -> dict[str, float]:
        """A task's rows per split, in the videos' shares: the videos, or the rows its data set
        publishes for it (CMU-MOSEI's segments) in proportion to the videos counted."""
        rows: float = self.videos
        if self.published is not None and self.published.task_rows is not None:
            rows = self.published.task_rows(task["options"]) * self.videos / self.published.videos
        total = sum(self.splits.values()) or 1
        return {
            split: rows * self.splits.get(split, 0) / total for split in ("train", "val", "test")
        }


def dataset_size(dataset: Dataset) -> DatasetSize:
    """A data set's size: its manifest, or, when it is gated and ``dataset.root`` is unset, the
    size its paper publishes."""
    builder = datasets.get(dataset.config["builder"])
    facts = builder.published
    if builder.gate is not None and dataset.config["root"] is None and facts is not None:
        return published_size(dataset, facts)
    return manifest_size(dataset, datasets.build_manifest(dataset.config), facts)


def published_size(dataset: Dataset, facts: Published) -> DatasetSize:
    limit = dataset.config["limit"]
    videos = min(facts.videos, limit) if limit else facts.videos
    return DatasetSize(
        dataset.name,
        videos,
        {split: round(videos * share) for split, share in facts.splits.items()},
        facts.seconds,
        facts.fps,
        facts.width,
        facts.height,
        {facts.fetch: videos},
        f"published: {facts.source}",
        dict(facts.assumed),
        facts,
    )


def manifest_size(dataset: Dataset, table, facts: Published | None) -> DatasetSize:
    """The manifest's videos and splits; lengths from its start/end where it has them."""
    root = datasets.source_root(dataset.config)
    start = table["start"] if "start" in table else pd.Series(float("nan"), table.index)
    end = table["end"] if "end" in table else pd.Series(float("nan"), table.index)
    windowed = (start.notna() | end.notna()).tolist()
    fetch = Counter(map(partial(fetch_work, root=root), table["source"], windowed))
    known = {key: getattr(facts, key) for key in UNKNOWN} if facts else UNKNOWN
    assumed = dict(facts.assumed) if facts else {"all": f"not known: assumed {describe(UNKNOWN)}"}
    seconds = known["seconds"]
    if end.notna().any():
        seconds = float((end - start.fillna(0.0))[end.notna()].mean())
        assumed.pop("seconds", None)
    return DatasetSize(
        dataset.name,
        len(table),
        {str(k): int(v) for k, v in table["split"].value_counts().items()},
        seconds,
        known["fps"],
        known["width"],
        known["height"],
        dict(fetch),
        f"manifest: {len(table)} rows",
        assumed,
        facts,
    )


def fetch_work(source: str, windowed: bool, root: str) -> str:
    """What the download step does with one manifest row (a key of FETCH_WORK)."""
    kind = resolve(str(source), root).kind
    if kind is Kind.FRAMES:
        return "frames"
    if windowed:
        return "cut"
    return "link" if kind is Kind.LOCAL else "fetch"


def describe(facts: dict[str, Any]) -> str:
    return f"{facts['seconds']:g} s at {facts['fps']:g} fps, {facts['width']}x{facts['height']}"
