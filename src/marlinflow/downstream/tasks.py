"""Downstream tasks: a table of (video id, split, labels) plus what kind of prediction it asks for.

A task is saved as a TSV table (``id``, ``split``, label columns) with a JSON spec beside it
(``<name>.tsv`` + ``<name>.json``): kind, class or attribute names, the label column, and the rows
the adapter excluded with their reasons. Kinds (``downstream.kinds``):

- ``multilabel``: one 0/1 column per attribute (CelebV-HQ appearance and action).
- ``multiclass``: column ``label`` holds a class name (CelebV-HQ emotion, DFEW).
- ``binary``: column ``label`` holds 0/1 (FaceForensics++ real/fake, binary sentiment).
- ``regression``: column ``label`` holds a number (CMU-MOSEI sentiment in [-3, 3]).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from marlinflow.atomic import atomic_path, write_json
from marlinflow.downstream import kinds
from marlinflow.errors import InputError

KINDS = tuple(kinds.KINDS)  # the kind names, as task specs and configs spell them
SPLITS = ("train", "val", "test")


@dataclass
class Task:
    """A downstream task: its rows and how to read their labels."""

    name: str
    kind: str  # a name in KINDS; the kind itself is ``task_kind``
    classes: list[str]  # multilabel: attribute columns; multiclass: class names; else []
    table: pd.DataFrame  # id, split, label column(s), optional extra columns
    excluded: list[dict[str, str]] = field(default_factory=list)  # {"id", "reason"}

    def __post_init__(self) -> None:
        try:
            kinds.kind_named(self.kind)
        except ValueError as err:
            raise ValueError(f"task {self.name!r}: {err}") from None
        if "id" in self.table:  # a table without ids is reported by validate_table
            self.table = self.table.sort_values("id", kind="stable").reset_index(drop=True)

    @property
    def task_kind(self) -> kinds.TaskKind:
        """What the kind named ``kind`` predicts, and how it is trained and scored."""
        return kinds.kind_named(self.kind)

    @property
    def label_columns(self) -> list[str]:
        return self.task_kind.label_columns(self.classes)

    @property
    def n_outputs(self) -> int:
        """Width of the linear head: one logit per attribute or class, else one."""
        return self.task_kind.n_outputs(self.classes)

    def targets(self, table: pd.DataFrame | None = None) -> np.ndarray:
        """Labels as numbers: (n, C) 0/1 floats for multilabel, (n,) class indices for
        multiclass, (n,) floats for binary and regression."""
        return self.task_kind.targets(self.table if table is None else table, self.classes)

    def split(self, name: str) -> pd.DataFrame:
        return self.table[self.table["split"] == name].reset_index(drop=True)

    def counts(self) -> dict[str, int]:
        return {s: int((self.table["split"] == s).sum()) for s in SPLITS}

    def save(self, path: str | Path) -> Path:
        """Write ``path`` (TSV) and its spec ``path.with_suffix('.json')``, atomically."""
        path = Path(path)
        validate_table(self, path)
        with atomic_path(path) as tmp:
            self.table.to_csv(tmp, sep="\t", index=False)
        spec = {"name": self.name, "kind": self.kind, "classes": self.classes}
        write_json(spec_path(path), spec | {"counts": self.counts(), "excluded": self.excluded})
        return path


def spec_path(table_path: str | Path) -> Path:
    return Path(table_path).with_suffix(".json")


def load_task(path: str | Path) -> Task:
    """Read a task saved by :meth:`Task.save`; errors name the file and the row."""
    path = Path(path)
    if not path.is_file():
        raise InputError(path, "task table not found")
    if not spec_path(path).is_file():
        raise InputError(spec_path(path), "task spec (kind and classes) not found beside the table")
    try:
        spec = json.loads(spec_path(path).read_text())
        if not isinstance(spec, dict):
            raise ValueError("the spec is not a JSON object")
        text_columns = _text_columns(spec.get("kind"))
        table = pd.read_csv(path, sep="\t", dtype=text_columns, keep_default_na=False)
    except (ValueError, pd.errors.ParserError) as err:
        raise InputError(path, f"not a readable task ({err})") from err
    try:
        task = Task(
            spec["name"], spec["kind"], list(spec["classes"]), table, spec.get("excluded", [])
        )
    except (KeyError, ValueError) as err:
        raise InputError(spec_path(path), f"bad task spec ({err})") from err
    validate_table(task, path)
    return task


def _text_columns(kind: object) -> dict[str, type]:
    """The columns read as text: ids, and class names (such as "-1") where labels name classes.
    An unknown kind is reported once the spec is read whole."""
    columns = {"id": str, "split": str, "video": str}
    if kind in KINDS and kinds.kind_named(kind).class_labels:
        columns["label"] = str
    return columns


def validate_table(task: Task, path: str | Path) -> None:
    """Every row has an id, a known split, and a label of the task's kind."""
    table = task.table
    missing = [c for c in ["id", "split", *task.label_columns] if c not in table.columns]
    if missing:
        raise InputError(path, f"task table lacks column(s) {missing}")
    problems = [
        f"row {i + 2} (id={row['id']!r}): {problem}"
        for i, row in enumerate(table.to_dict("records"))
        for problem in _row_problems(task, row)
    ]
    duplicated = table["id"][table["id"].duplicated()].tolist()
    problems += [f"id {video_id!r} repeats" for video_id in duplicated]
    if problems:
        raise InputError(path, "invalid task table:\n  " + "\n  ".join(problems[:20]))


def _row_problems(task: Task, row: dict) -> list[str]:
    problems = [] if row["split"] in SPLITS else [f"split {row['split']!r} not in {SPLITS}"]
    label_problem = task.task_kind.label_problem
    for column in task.label_columns:
        if problem := label_problem(row[column], task.classes):
            problems.append(f"{column}: {problem}")
    return problems
