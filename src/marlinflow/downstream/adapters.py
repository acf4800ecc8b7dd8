"""Task tables from each data set's own label files (CelebV-HQ, FaceForensics++, DFEW, a CSV).

Every adapter reads the file layout the data set ships, checks each row, and raises
:class:`InputError` naming the file and the row when one is malformed. Rows that are well formed
but unusable for the task (a multi-emotion clip under ``multi="drop"``) are excluded with a
reason that the task keeps. CMU-MOSEI is in :mod:`marlinflow.downstream.mosei`.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pandas as pd

from marlinflow.datasets import FF_METHODS, safe_id
from marlinflow.downstream.splits import carve_val, hash_splits
from marlinflow.downstream.tasks import KINDS, Task, validate_table
from marlinflow.errors import InputError

CELEBV_GROUPS = {"appearance": 40, "action": 35}


def _read_json(path: Path) -> Any:
    if not path.is_file():
        raise InputError(path, "file not found")
    try:
        return json.loads(path.read_text())
    except (ValueError, UnicodeDecodeError) as err:
        raise InputError(path, f"not valid JSON ({err})") from err


def celebv_hq_attributes(info_path: str | Path, group: str, seed: int = 0) -> Task:
    """CelebV-HQ ``appearance`` (40) or ``action`` (35) multi-label task, split 80/10/10 by a
    seeded hash of the clip id (the official split follows a folder listing: not reproducible)."""
    path = Path(info_path)
    if group not in CELEBV_GROUPS:
        raise ValueError(f"group must be one of {list(CELEBV_GROUPS)}, not {group!r}")
    info = _read_json(path)
    names = _celebv_names(info, group, path)
    rows = []
    for clip_id, clip in sorted(_celebv_clips(info, path).items()):
        values = clip.get("attributes", {}).get(group) if isinstance(clip, dict) else None
        if not isinstance(values, list) or len(values) != len(names):
            raise InputError(path, f"clip {clip_id!r}: {group} is not a list of {len(names)} 0/1")
        if any(v not in (0, 1) for v in values):
            raise InputError(path, f"clip {clip_id!r}: {group} has values other than 0/1")
        rows.append({"id": clip_id, **dict(zip(names, values, strict=True))})
    table = pd.DataFrame(rows, columns=["id", *names])
    table.insert(1, "split", hash_splits(table["id"].tolist(), seed=seed))
    return Task(f"celebv_hq_{group}", "multilabel", names, table)


def _celebv_clips(info: Any, path: Path) -> dict:
    if not isinstance(info, dict) or not isinstance(info.get("clips"), dict):
        raise InputError(path, "no 'clips' mapping: not CelebV-HQ's celebvhq_info.json")
    return info["clips"]


def _celebv_names(info: dict, group: str, path: Path) -> list[str]:
    """Attribute names from ``mete_info`` (the file's own spelling), else numbered names."""
    names = info.get("mete_info", {}).get(f"{group}_mapping") if isinstance(info, dict) else None
    if names is None:
        return [f"{group}_{i:02d}" for i in range(CELEBV_GROUPS[group])]
    if len(names) != CELEBV_GROUPS[group] or len(set(names)) != len(names):
        raise InputError(
            path, f"mete_info.{group}_mapping should hold {CELEBV_GROUPS[group]} names"
        )
    return [str(n) for n in names]


def celebv_hq_emotion(info_path: str | Path, multi: str = "dominant", seed: int = 0) -> Task:
    """CelebV-HQ emotion as a multi-class task (classes: the names found in the file, sorted).

    ``attributes.emotion`` is ``{"sep_flag": false, "labels": "<name>"}`` for one emotion, or
    ``{"sep_flag": true, "labels": [{"emotion", "start_sec", "end_sec"}, ...]}`` when it changes
    within the clip. ``multi="dominant"`` labels such a clip with the emotion that lasts longest
    in total (the earliest on a tie); ``multi="drop"`` excludes it with a reason.
    """
    if multi not in ("dominant", "drop"):
        raise ValueError(f"multi must be 'dominant' or 'drop', not {multi!r}")
    path = Path(info_path)
    rows, excluded = [], []
    for clip_id, clip in sorted(_celebv_clips(_read_json(path), path).items()):
        emotion = clip.get("attributes", {}).get("emotion") if isinstance(clip, dict) else None
        spans = _emotion_spans(emotion, path, clip_id)
        if len(spans) > 1 and multi == "drop":
            excluded.append({"id": clip_id, "reason": f"{len(spans)} emotions in the clip"})
            continue
        rows.append({"id": clip_id, "label": _dominant(spans)})
    table = pd.DataFrame(rows, columns=["id", "label"])
    table.insert(1, "split", hash_splits(table["id"].tolist(), seed=seed))
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


def faceforensics(
    root: str | Path, compression: str = "c23", methods: tuple[str, ...] = FF_METHODS
) -> Task:
    """Real (0) vs fake (1) videos of FaceForensics++ at one compression, in the official
    pair-disjoint splits (``splits/{train,val,test}.json``); ``methods`` picks the manipulations."""
    root = Path(root)
    splits = _ff_splits(root)
    folders = {"original": root / "original_sequences/youtube" / compression / "videos"}
    folders |= {m: root / "manipulated_sequences" / m / compression / "videos" for m in methods}
    rows = []
    for method, folder in folders.items():
        if not folder.is_dir():
            raise InputError(folder, f"FaceForensics++ {method} videos at {compression} not found")
        rows += [
            {"id": safe_id(method, video.stem), "split": _ff_split(video, method, splits),
             "label": int(method != "original"), "method": method}
            for video in sorted(folder.glob("*.mp4"))
        ]  # fmt: skip
    name = "faceforensics_" + ("all" if tuple(methods) == FF_METHODS else "_".join(methods))
    return Task(f"{name}_{compression}", "binary", [], pd.DataFrame(rows))


def _ff_split(video: Path, method: str, splits: dict[str, str]) -> str:
    """A real video ``NNN`` or a fake ``NNN_MMM`` (target_source) is in the split of its pair."""
    numbers = video.stem.split("_")
    expected = 1 if method == "original" else 2
    if len(numbers) != expected or not all(number in splits for number in numbers):
        raise InputError(video, "not a video number of the split files (NNN or NNN_MMM)")
    return splits[numbers[0]]


def _ff_splits(root: Path) -> dict[str, str]:
    splits: dict[str, str] = {}
    for split in ("train", "val", "test"):
        path = root / "splits" / f"{split}.json"
        pairs = _read_json(path)
        for line, pair in enumerate(pairs if isinstance(pairs, list) else [None]):
            if not (
                isinstance(pair, list) and len(pair) == 2 and all(isinstance(p, str) for p in pair)
            ):
                raise InputError(path, f"entry {line}: not a pair of video numbers: {pair!r}")
            splits.update(dict.fromkeys(pair, split))
    return splits


DFEW_CLASSES = ("happy", "sad", "neutral", "angry", "surprise", "disgust", "fear")


def dfew(root: str | Path, fold: int, val_fraction: float = 0.1, seed: int = 0) -> Task:
    """DFEW's 7-class task on one of its five folds (``EmoLabel_DataSplit``); a seeded tenth of
    the fold's train part becomes val. Report UAR and WAR, averaged over the five folds."""
    if fold not in range(1, 6):
        raise ValueError(f"DFEW has folds 1..5, not {fold}")
    rows = []
    for part in ("train", "test"):
        path = Path(root) / "EmoLabel_DataSplit" / f"{part}(single-labeled)" / f"set_{fold}.csv"
        rows += [{**row, "split": part} for row in _dfew_rows(path)]
    table = carve_val(pd.DataFrame(rows, columns=["id", "split", "label"]), val_fraction, seed)
    return Task(f"dfew_fold{fold}", "multiclass", list(DFEW_CLASSES), table)


def _dfew_rows(path: Path) -> list[dict]:
    if not path.is_file():
        raise InputError(path, "DFEW label file not found")
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
        rows.append({"id": f"dfew{int(name):05d}", "label": DFEW_CLASSES[int(label) - 1]})
    return rows


def from_csv(
    path: str | Path,
    kind: str,
    label_columns: list[str],
    name: str | None = None,
    seed: int = 0,
) -> Task:
    """A task from the user's CSV or TSV: ``id``, label column(s), and an optional ``split``
    (missing or empty splits are drawn 80/10/10 by a seeded hash of the id). Multi-class
    classes are the sorted distinct labels."""
    path = Path(path)
    if kind not in KINDS:
        raise ValueError(f"kind must be one of {KINDS}, not {kind!r}")
    if not path.is_file():
        raise InputError(path, "task CSV not found")
    sep = "\t" if path.suffix in (".tsv", ".tab") else ","
    table = pd.read_csv(path, sep=sep, dtype={"id": str, "split": str}, keep_default_na=False)
    missing = [c for c in ["id", *label_columns] if c not in table.columns]
    if missing:
        raise InputError(path, f"missing column(s) {missing}; has {list(table.columns)}")
    if kind != "multilabel":
        if len(label_columns) != 1:
            raise ValueError(f"a {kind} task has one label column, got {label_columns}")
        table = table.rename(columns={label_columns[0]: "label"})
    table["split"] = _fill_splits(table, seed)
    if kind == "multiclass":
        table["label"] = table["label"].astype(str)
    classes = label_columns if kind == "multilabel" else []
    if kind == "multiclass":
        classes = sorted(set(table["label"]))
    task = Task(name or path.stem, kind, list(classes), table)
    validate_table(task, path)
    return task


def _fill_splits(table: pd.DataFrame, seed: int) -> list[str]:
    given = table["split"].tolist() if "split" in table else [""] * len(table)
    drawn = hash_splits(table["id"].tolist(), seed=seed)
    return [g if g else d for g, d in zip(given, drawn, strict=True)]
