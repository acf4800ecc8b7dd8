"""CelebV-HQ: YouTube clips cut by ``celebvhq_info.json``, which also holds their labels.

Tasks: ``appearance`` (40) and ``action`` (35) multi-label attributes, and ``emotion``
(multi-class). Every task reads the labels from the data set's file, checks each clip, and raises
:class:`InputError` naming the file and the clip when one is malformed.

Splits are by source video: every clip cut from one YouTube video (its ``ytb_id``, the clip's
``group``) is in the same split, 80/10/10 train/val/test by a seeded hash of the YouTube id, so
no test clip shows a scene and a person a training clip showed. The manifest and every task
split the same way. (The official split takes 80/10/10 of a folder listing of the clips: it is
neither reproducible nor grouped.)
"""

from __future__ import annotations

import json
from functools import partial
from pathlib import Path
from typing import Any

import pandas as pd

from marlinflow.datasets.common import read_json, require_root
from marlinflow.datasets.registry import Dataset, Gate, Option, Published, TaskBuilder
from marlinflow.downstream.splits import split_of, split_shares
from marlinflow.downstream.tasks import Task
from marlinflow.errors import InputError

GROUPS = {"appearance": 40, "action": 35}
MULTI = ("dominant", "drop")  # what the emotion task does with a clip of several emotions
INFO = "celebvhq_info.json"


def manifest(cfg: dict[str, Any]) -> pd.DataFrame:
    """YouTube clips with their start/end times; the tasks read the labels from the same file."""
    info_path = require_root(DATASET, cfg["root"]) / INFO
    try:
        clips = json.loads(info_path.read_text())["clips"]
        return pd.DataFrame(
            {
                "id": clip_id,
                "source": clips[clip_id]["ytb_id"],
                "split": split_of(clips[clip_id]["ytb_id"], seed=cfg["seed"]),
                "start": clips[clip_id]["duration"]["start_sec"],
                "end": clips[clip_id]["duration"]["end_sec"],
                "group": clips[clip_id]["ytb_id"],
            }
            for clip_id in sorted(clips)
        )
    except (ValueError, KeyError, TypeError) as err:
        raise InputError(info_path, f"not CelebV-HQ metadata ({err})") from err


def clip_splits(clips: dict, ids: list[str], path: Path, seed: int) -> list[str]:
    """The split of each clip: that of the YouTube video it was cut from (as in the manifest)."""
    splits = []
    for clip_id in ids:
        source = clips[clip_id].get("ytb_id") if isinstance(clips[clip_id], dict) else None
        if not isinstance(source, str) or not source:
            raise InputError(
                path, f"clip {clip_id!r}: no ytb_id (the YouTube video it was cut from)"
            )
        splits.append(split_of(source, seed=seed))
    return splits


def attributes_task(info_path: str | Path, group: str, seed: int = 0) -> Task:
    """CelebV-HQ ``appearance`` (40) or ``action`` (35) multi-label task, split 80/10/10 by
    source YouTube video (:func:`clip_splits`)."""
    path = Path(info_path)
    if group not in GROUPS:
        raise ValueError(f"group must be one of {list(GROUPS)}, not {group!r}")
    info = read_json(path)
    names = _attribute_names(info, group, path)
    clips = _clips(info, path)
    rows = []
    for clip_id, clip in sorted(clips.items()):
        values = clip.get("attributes", {}).get(group) if isinstance(clip, dict) else None
        if not isinstance(values, list) or len(values) != len(names):
            raise InputError(path, f"clip {clip_id!r}: {group} is not a list of {len(names)} 0/1")
        if any(v not in (0, 1) for v in values):
            raise InputError(path, f"clip {clip_id!r}: {group} has values other than 0/1")
        rows.append({"id": clip_id, **dict(zip(names, values, strict=True))})
    table = pd.DataFrame(rows, columns=["id", *names])
    table.insert(1, "split", clip_splits(clips, table["id"].tolist(), path, seed))
    return Task(f"celebv_hq_{group}", "multilabel", names, table)


def _clips(info: Any, path: Path) -> dict:
    if not isinstance(info, dict) or not isinstance(info.get("clips"), dict):
        raise InputError(path, "no 'clips' mapping: not CelebV-HQ's celebvhq_info.json")
    return info["clips"]


def _attribute_names(info: dict, group: str, path: Path) -> list[str]:
    """Attribute names from ``mete_info`` (the file's own spelling), else numbered names."""
    names = info.get("mete_info", {}).get(f"{group}_mapping") if isinstance(info, dict) else None
    if names is None:
        return [f"{group}_{i:02d}" for i in range(GROUPS[group])]
    if len(names) != GROUPS[group] or len(set(names)) != len(names):
        raise InputError(path, f"mete_info.{group}_mapping should hold {GROUPS[group]} names")
    return [str(n) for n in names]


def emotion_task(info_path: str | Path, multi: str = "dominant", seed: int = 0) -> Task:
    """CelebV-HQ emotion as a multi-class task (classes: the names found in the file, sorted).

    ``attributes.emotion`` is ``{"sep_flag": false, "labels": "<name>"}`` for one emotion, or
    ``{"sep_flag": true, "labels": [{"emotion", "start_sec", "end_sec"}, ...]}`` when it changes
    within the clip. ``multi="dominant"`` labels such a clip with the emotion that lasts longest
    in total (the earliest on a tie); ``multi="drop"`` excludes it with a reason.
    """
    if multi not in MULTI:
        raise ValueError(f"multi must be 'dominant' or 'drop', not {multi!r}")
    path = Path(info_path)
    clips = _clips(read_json(path), path)
    rows, excluded = [], []
    for clip_id, clip in sorted(clips.items()):
        emotion = clip.get("attributes", {}).get("emotion") if isinstance(clip, dict) else None
        spans = _emotion_spans(emotion, path, clip_id)
        if len(spans) > 1 and multi == "drop":
            excluded.append({"id": clip_id, "reason": f"{len(spans)} emotions in the clip"})
            continue
        rows.append({"id": clip_id, "label": _dominant(spans)})
    table = pd.DataFrame(rows, columns=["id", "label"])
    table.insert(1, "split", clip_splits(clips, table["id"].tolist(), path, seed))
    return Task("celebv_hq_emotion", "multiclass", sorted(set(table["label"])), table, excluded)


def _emotion_spans(emotion: Any, path: Path, clip_id: str) -> list[tuple[str, float]]:
    """[(name, seconds)] of one clip's emotion record; a single label lasts 'the whole clip'."""
    bad = InputError(path, f"clip {clip_id!r}: emotion is not {{'sep_flag', 'labels'}}")
    if not isinstance(emotion, dict) or "labels" not in emotion:
        raise bad
    labels = emotion["labels"]
    if isinstance(labels, str) and labels.strip():
        return [(labels.strip().lower(), 1.0)]
    if not isinstance(labels, list) or not labels:
        raise bad
    try:
        spans = [
            (str(s["emotion"]).lower(), float(s["end_sec"]) - float(s["start_sec"])) for s in labels
        ]
    except (KeyError, TypeError, ValueError) as err:
        raise InputError(path, f"clip {clip_id!r}: bad emotion segment ({err})") from err
    return spans


def _dominant(spans: list[tuple[str, float]]) -> str:
    totals: dict[str, float] = {}
    for name, seconds in spans:
        totals[name] = totals.get(name, 0.0) + seconds
    return max(totals, key=lambda name: totals[name])  # dicts keep order: earliest wins ties


# 35,666 clips of 15,653 people, at least 512x512 (Zhu et al., ECCV 2022); about 68 hours in
# all, as DH-FaceVid-1K (Di et al., ICCV 2025) counts them.
CLIPS = 35_666
PUBLISHED = Published(
    "Zhu et al., ECCV 2022 (clips); Di et al., ICCV 2025 (68 h in all)",
    videos=CLIPS,
    seconds=68 * 3600 / CLIPS,
    fps=30,
    width=1280,
    height=720,
    splits=split_shares(),
    fetch="cut",
    assumed={
        "fps": "not published: assumed 30 (YouTube)",
        "size": "the download takes at most 720p of the source (download/ytdl.py): "
        "assumed 1280x720",
    },
)

DATASET = Dataset(
    "celebv_hq",
    "CelebV-HQ",
    manifest,
    gate=Gate(
        "https://github.com/CelebV-HQ/CelebV-HQ",
        INFO,
        "download celebvhq_info.json from the data set's repository into <root>/ (the videos "
        "themselves are fetched from YouTube)",
    ),
    tasks=(
        *(
            TaskBuilder(
                f"celebv_hq_{group}", INFO, partial(attributes_task, group=group), "multilabel"
            )
            for group in GROUPS
        ),
        TaskBuilder(
            "celebv_hq_emotion",
            INFO,
            emotion_task,
            "multiclass",
            options=(
                Option(
                    "multi",
                    "clips with several emotions: the longest one, or drop the clip",
                    default="dominant",
                    choices=MULTI,
                ),
            ),
        ),
    ),
    published=PUBLISHED,
)
