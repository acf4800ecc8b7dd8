"""DFEW: movie clips of 7 facial expressions, in five folds of the data set's own label files.

``EmoLabel_DataSplit/{train,test}(single-labeled)/set_<fold>.csv`` list ``video_name,label``
(the clip number and an expression 1..7); the task is 7-class expression recognition on one fold
(report UAR and WAR, averaged over the five folds).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pandas as pd

from marlinflow.datasets.common import require_root
from marlinflow.datasets.registry import Dataset, Gate, Option, Published, TaskBuilder
from marlinflow.downstream.splits import carve_val, split_of
from marlinflow.downstream.tasks import Task
from marlinflow.errors import InputError

CLASSES = ("happy", "sad", "neutral", "angry", "surprise", "disgust", "fear")
FOLDS = (1, 2, 3, 4, 5)
PARTS = ("train", "test")
VAL = 0.1  # share of a fold's train part that becomes val

GATE = Gate(
    "https://dfew-dataset.github.io/",
    "Clip/original",
    "request access, unpack the clips so that <root>/Clip/original/<n>.avi exist, and the "
    "label folder as <root>/EmoLabel_DataSplit/",
)


def manifest(cfg: dict[str, Any]) -> pd.DataFrame:
    """One of DFEW's five folds (``dataset.fold``); a tenth of its train part becomes val."""
    root = require_root(DATASET, cfg["root"])
    rows = []
    for part in PARTS:
        for number, emotion in _labels(_label_file(root, part, cfg["fold"])):
            video = root / "Clip/original" / f"{number:05d}.avi"
            split = "test" if part == "test" else split_of(str(number), VAL, 0.0, cfg["seed"])
            rows.append(
                {
                    "id": f"dfew{number:05d}",
                    "source": str(video.relative_to(root)),
                    "split": split,
                    "emotion": emotion,
                }
            )
    return pd.DataFrame(rows)


def expression_task(root: str | Path, fold: int, val_fraction: float = VAL, seed: int = 0) -> Task:
    """DFEW's 7-class task on one of its five folds; a seeded tenth of the fold's train part
    becomes val."""
    if fold not in FOLDS:
        raise ValueError(f"DFEW has folds 1..5, not {fold}")
    rows = [
        {"id": f"dfew{number:05d}", "split": part, "label": emotion}
        for part in PARTS
        for number, emotion in _labels(_label_file(Path(root), part, fold))
    ]
    table = carve_val(pd.DataFrame(rows, columns=["id", "split", "label"]), val_fraction, seed)
    return Task(f"dfew_fold{fold}", "multiclass", list(CLASSES), table)


def _label_file(root: Path, part: str, fold: int) -> Path:
    return root / "EmoLabel_DataSplit" / f"{part}(single-labeled)" / f"set_{fold}.csv"


def _labels(path: Path) -> list[tuple[int, str]]:
    """(clip number, expression) of each row of a label file, checked."""
    if not path.is_file():
        raise InputError(path, f"DFEW label file missing: {GATE.how}")
    table = pd.read_csv(path, dtype=str)
    if table.shape[1] < 2:
        raise InputError(path, "expected columns video_name,label")
    rows = []
    for line, (name, label) in enumerate(table.iloc[:, :2].itertuples(index=False), start=2):
        if not (str(name).isdigit() and str(label).isdigit() and 1 <= int(label) <= 7):
            raise InputError(
                path,
                f"row {line}: expected a clip number and a label 1..7, got {name!r}, {label!r}",
            )
        rows.append((int(name), CLASSES[int(label) - 1]))
    return rows


# 16,372 movie clips, of which the 12,059 with a single label make up the five folds (Jiang et
# al., ACM MM 2020): the manifest lists one fold's train and test parts, all 12,059.
TEST = 1 / len(FOLDS)  # a fold's test part
PUBLISHED = Published(
    "Jiang et al., ACM MM 2020",
    videos=12_059,
    seconds=3.0,
    fps=25,
    width=1280,
    height=720,
    splits={"train": (1 - TEST) * (1 - VAL), "val": (1 - TEST) * VAL, "test": TEST},
    assumed={
        "seconds": "clip lengths are not in the references here: assumed 3 s",
        "fps": "not published here: assumed 25",
        "size": "movie clips of several sizes: assumed 1280x720",
    },
)


def _build(root: Path, seed: int, fold: int) -> Task:
    return expression_task(root, fold, seed=seed)


DATASET = Dataset(
    "dfew",
    "DFEW",
    manifest,
    gate=GATE,
    tasks=(
        TaskBuilder(
            "dfew",
            "the data set's root",
            _build,
            "multiclass",
            options=(Option("fold", "the fold", type=int, default=1, choices=FOLDS),),
        ),
    ),
    published=PUBLISHED,
)
