"""CMU-MOSEI: full YouTube videos of monologues; tasks on their segments: six emotions
(multi-label) and sentiment (binary, 7-class or regression).

Labels come from the CMU-MultimodalSDK's ``CMU_MOSEI_Labels.csd``: an HDF5 file whose one root
group holds ``data/<video id>/features`` (segments × 7: sentiment in [-3, 3], then happy, sad,
anger, surprise, disgust, fear intensities in [0, 3]) and ``data/<video id>/intervals``
(segments × 2, seconds). Reading it needs ``h5py``; without it, export the same numbers to a CSV
with columns ``video,start,end,sentiment,happy,sad,anger,surprise,disgust,fear`` (one row per
segment). Splits are the SDK's standard folds (``standard_train_fold`` / ``standard_valid_fold``
/ ``standard_test_fold`` in ``cmu_mosei_std_folds.py``), read without importing the SDK.

Rows are segments: id ``<video>__<k>`` (k counts the video's segments in time order) with the
``video``, ``start`` and ``end`` columns a manifest needs to cut the segment's clip. An emotion
is present when its intensity is above 0 (the SDK's binarisation). The data set's manifest lists
the same segments (:func:`manifest`), so that each is a video of the pipeline: cut from its full
video with its sound, tracked, and given features under the id its labels have.
"""

from __future__ import annotations

import ast
from functools import partial
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from marlinflow.datasets.common import require_root, safe_id
from marlinflow.datasets.registry import Dataset, Gate, Option, Published, TaskBuilder
from marlinflow.downstream.splits import split_of, split_shares
from marlinflow.downstream.tasks import Task
from marlinflow.errors import InputError

EMOTIONS = ("happy", "sad", "anger", "surprise", "disgust", "fear")
COLUMNS = ("video", "start", "end", "sentiment", *EMOTIONS)
FOLDS = {"standard_train_fold": "train", "standard_valid_fold": "val", "standard_test_fold": "test"}
SENTIMENT_7 = ("-3", "-2", "-1", "0", "1", "2", "3")
# What each target predicts: the kind of its task.
TARGETS = {
    "emotion": "multilabel",
    "sentiment2": "binary",
    "sentiment7": "multiclass",
    "sentiment": "regression",
}
VIDEOS = "Raw/Videos/Full/Combined"


LABEL_FILES = ("CMU_MOSEI_Labels.csd", "CMU_MOSEI_Labels.csv")  # under the root
FOLDS_FILE = "cmu_mosei_std_folds.py"


def manifest(cfg: dict[str, Any]) -> pd.DataFrame:
    """The labelled segments, each cut from its full video (its group), in the SDK's standard
    folds, when the label file (``CMU_MOSEI_Labels.csd`` or its CSV export
    ``CMU_MOSEI_Labels.csv``) and ``cmu_mosei_std_folds.py`` are under the root: the rows the
    tasks label. Without them, the full videos (for pretraining), split by a hash of the id."""
    root = require_root(DATASET, cfg["root"])
    labels = next((root / name for name in LABEL_FILES if (root / name).is_file()), None)
    if labels is not None and (root / FOLDS_FILE).is_file():
        task = mosei_task(read_labels(labels), read_folds(root / FOLDS_FILE), "sentiment")
        return segment_manifest(task).assign(group=task.table["video"].to_numpy())
    folder = root / VIDEOS
    return pd.DataFrame(
        {
            "id": safe_id(video.stem),
            "source": str(video.relative_to(folder.parents[3])),
            "split": split_of(video.stem, seed=cfg["seed"]),
        }
        for video in sorted(folder.glob("*.mp4"))
    )


def read_labels(path: str | Path) -> pd.DataFrame:
    """One row per segment (COLUMNS) from the SDK's ``.csd`` or from a CSV export of it."""
    path = Path(path)
    if not path.is_file():
        raise InputError(path, "CMU-MOSEI labels not found")
    table = _read_csd(path) if path.suffix == ".csd" else _read_csv(path)
    return table.sort_values(["video", "start"], kind="stable").reset_index(drop=True)


def _read_csd(path: Path) -> pd.DataFrame:
    try:
        import h5py
    except ImportError as err:
        raise InputError(
            path, f"reading .csd needs h5py (pip install h5py), or export a CSV of {COLUMNS}"
        ) from err
    try:
        with h5py.File(path, "r") as handle:
            return _csd_rows(path, handle)
    except OSError as err:  # not HDF5, or cut short
        raise InputError(path, f"not a readable .csd (HDF5) file: {err}") from err


def _csd_rows(path: Path, handle) -> pd.DataFrame:
    """The sequence's ``data`` group (the root holds one group named after the sequence)."""
    roots = [group for group in handle.values() if "data" in group]
    if len(roots) != 1:
        raise InputError(path, "expected one computational sequence with a 'data' group")
    rows = []
    for video, entry in roots[0]["data"].items():
        if not {"features", "intervals"} <= set(entry):
            raise InputError(path, f"video {video!r}: no features or intervals")
        features, intervals = entry["features"][()], entry["intervals"][()]
        if features.ndim != 2 or features.shape[1] != 7 or intervals.shape != (len(features), 2):
            raise InputError(path, f"video {video!r}: expected segments × 7 labels and × 2 times")
        rows += [[video, *span, *values] for span, values in zip(intervals, features, strict=True)]
    return pd.DataFrame(rows, columns=list(COLUMNS)).astype({c: float for c in COLUMNS[1:]})


def _read_csv(path: Path) -> pd.DataFrame:
    table = pd.read_csv(path, dtype={"video": str})
    missing = [c for c in COLUMNS if c not in table.columns]
    if missing:
        raise InputError(path, f"missing column(s) {missing}; expected {list(COLUMNS)}")
    numbers = table[list(COLUMNS[1:])].apply(pd.to_numeric, errors="coerce")
    for line in np.flatnonzero(numbers.isna().any(axis=1).to_numpy()):
        raise InputError(path, f"row {line + 2}: a label or time is not a number")
    return pd.concat([table[["video"]], numbers], axis=1)


def read_folds(path: str | Path) -> dict[str, str]:
    """Video id -> split from the SDK's ``cmu_mosei_std_folds.py`` (parsed, not imported)."""
    path = Path(path)
    if not path.is_file():
        raise InputError(path, "CMU-MOSEI folds file not found")
    try:
        module = ast.parse(path.read_text())
    except SyntaxError as err:
        raise InputError(path, f"not a Python folds file ({err})") from err
    folds = {}
    for node in module.body:
        if isinstance(node, ast.Assign) and len(node.targets) == 1:
            name = getattr(node.targets[0], "id", None)
            if name in FOLDS:
                folds |= dict.fromkeys(ast.literal_eval(node.value), FOLDS[name])
    if not folds:
        raise InputError(path, f"none of {list(FOLDS)} assigned in the file")
    return folds


def mosei_task(labels: pd.DataFrame, folds: dict[str, str], target: str) -> Task:
    """``target``: ``emotion`` (6 multi-label), ``sentiment2`` (negative < 0 vs non-negative),
    ``sentiment7`` (the SDK's rounding to -3..3) or ``sentiment`` (regression)."""
    table = labels.copy()
    table["id"] = [
        safe_id(video, str(k))
        for video, k in zip(table["video"], table.groupby("video").cumcount(), strict=True)
    ]
    excluded = [
        {"id": i, "reason": f"video {v!r} is in no standard fold"}
        for i, v in zip(table["id"], table["video"], strict=True)
        if v not in folds
    ]
    table = table[table["video"].isin(folds)].copy()
    table["split"] = table["video"].map(folds)
    keep = ["id", "split", "video", "start", "end"]
    if target == "emotion":
        for name in EMOTIONS:
            table[name] = (table[name] > 0).astype(int)
        return Task(
            "cmu_mosei_emotion",
            "multilabel",
            list(EMOTIONS),
            table[keep + list(EMOTIONS)],
            excluded,
        )
    table["label"] = _sentiment(table["sentiment"].to_numpy(), target)
    kind = TARGETS[target]
    classes = list(SENTIMENT_7) if kind == "multiclass" else []
    return Task(f"cmu_mosei_{target}", kind, classes, table[[*keep, "label"]], excluded)


def _sentiment(scores: np.ndarray, target: str) -> list:
    if target == "sentiment2":
        return (scores >= 0).astype(int).tolist()
    if target == "sentiment7":
        return [sentiment_class(s) for s in scores]
    if target == "sentiment":
        return scores.astype(float).tolist()
    raise ValueError(f"target must be emotion, sentiment2, sentiment7 or sentiment, not {target!r}")


def sentiment_class(score: float) -> str:
    """The SDK's 7-class rounding: (-inf,-2)->-3, [-2,-1)->-2, [-1,0)->-1, 0, (0,1]->1,
    (1,2]->2, (2,inf)->3."""
    magnitude = min(3, int(np.ceil(abs(score))))  # both sides: intervals closed towards 0
    return str(int(np.sign(score)) * magnitude)


def segment_manifest(task: Task, videos: str = VIDEOS) -> pd.DataFrame:
    """Manifest rows (id, source, split, start, end) that cut each segment of a CMU-MOSEI task
    from its full video; ``source`` is relative to the data set's root."""
    table = task.table
    return pd.DataFrame(
        {
            "id": table["id"],
            "source": [f"{videos}/{video}.mp4" for video in table["video"]],
            "split": table["split"],
            "start": table["start"].astype(float),
            "end": table["end"].astype(float),
        }
    )


def _build(labels: Path, seed: int, folds: Path | None, target: str) -> Task:
    """The target's task; the folds come with the labels (the splits take no seed)."""
    if folds is None:
        raise InputError(labels, "CMU-MOSEI tasks need --folds (the SDK's cmu_mosei_std_folds.py)")
    return mosei_task(read_labels(labels), read_folds(folds), target)


# 23,453 annotated segments of 3,228 videos, 65 h 53 min 36 s of segments (Zadeh et al., ACL
# 2018). The manifest lists the segments (cut from the full videos in the SDK's folder).
VIDEOS_PUBLISHED, SEGMENTS = 3_228, 23_453
SEGMENT_SECONDS = 65 * 3600 + 53 * 60 + 36
PUBLISHED = Published(
    "Zadeh et al., ACL 2018",
    videos=SEGMENTS,
    seconds=SEGMENT_SECONDS / SEGMENTS,
    fps=30,
    width=1280,
    height=720,
    splits=split_shares(),
    assumed={
        "fps": "not published: assumed 30",
        "size": "not published: assumed 1280x720",
        "splits": "the tasks' SDK folds are not in the references here: assumed 80/10/10",
    },
    task_rows=lambda options: SEGMENTS,
)

FOLDS_OPTION = Option("folds", "the SDK's cmu_mosei_std_folds.py", type=Path, in_root=True)

DATASET = Dataset(
    "cmu_mosei",
    "CMU-MOSEI",
    manifest,
    gate=Gate(
        "https://github.com/CMU-MultiComp-Lab/CMU-MultimodalSDK",
        VIDEOS,
        "download the raw full videos so that <root>/Raw/Videos/Full/Combined/<video id>.mp4 exist",
    ),
    tasks=tuple(
        TaskBuilder(
            f"cmu_mosei_{target}",
            "CMU_MOSEI_Labels.csd (needs h5py) or its CSV export",
            partial(_build, target=target),
            kind,
            options=(FOLDS_OPTION,),
        )
        for target, kind in TARGETS.items()
    ),
    published=PUBLISHED,
)
