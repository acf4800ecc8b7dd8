"""Your own data: a manifest TSV you wrote (``dataset.manifest``), and tasks from a CSV or TSV.

The ``csv`` task reads ``id``, the label column(s) and an optional ``split`` from any table: your
manifest's own label columns (the workflow's default source) or a file of your own.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pandas as pd

from marlinflow.datasets.registry import Dataset, Option, TaskBuilder
from marlinflow.downstream.kinds import kind_named
from marlinflow.downstream.splits import hash_splits
from marlinflow.downstream.tasks import Task, validate_table
from marlinflow.errors import InputError
from marlinflow.manifest import read_manifest


def manifest(cfg: dict[str, Any]) -> pd.DataFrame:
    """The manifest ``dataset.manifest`` names, checked."""
    if not cfg.get("manifest"):
        raise InputError(
            "dataset.manifest", "builder 'manifest' needs dataset.manifest: a TSV path"
        )
    return read_manifest(cfg["manifest"])


def sources(cfg: dict[str, Any]) -> str:
    """Relative sources are in the manifest's folder."""
    return str(Path(cfg["manifest"]).parent) if cfg["manifest"] else "."


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
    task_kind = kind_named(kind)
    if not path.is_file():
        raise InputError(path, "task CSV not found")
    sep = "\t" if path.suffix in (".tsv", ".tab") else ","
    table = pd.read_csv(path, sep=sep, dtype={"id": str, "split": str}, keep_default_na=False)
    missing = [c for c in ["id", *label_columns] if c not in table.columns]
    if missing:
        raise InputError(path, f"missing column(s) {missing}; has {list(table.columns)}")
    if not task_kind.attribute_columns:
        if len(label_columns) != 1:
            raise ValueError(f"a {kind} task has one label column, got {label_columns}")
        table = table.rename(columns={label_columns[0]: "label"})
    table["split"] = _fill_splits(table, seed)
    classes = label_columns if task_kind.attribute_columns else []
    if task_kind.class_labels:  # class names stay text, "1" and "-1" included
        table["label"] = table["label"].astype(str)
        classes = sorted(set(table["label"]))
    task = Task(name or path.stem, kind, list(classes), table)
    validate_table(task, path)
    return task


def _fill_splits(table: pd.DataFrame, seed: int) -> list[str]:
    given = table["split"].tolist() if "split" in table else [""] * len(table)
    drawn = hash_splits(table["id"].tolist(), seed=seed)
    return [g if g else d for g, d in zip(given, drawn, strict=True)]


def _build(
    path: Path, seed: int, kind: str | None, label_columns: list[str] | None, task_name: str | None
) -> Task:
    if not kind or not label_columns:
        raise InputError(path, "a csv task needs --kind and --label-columns")
    return from_csv(path, kind, label_columns, task_name, seed)


DATASET = Dataset(
    "manifest",
    "your own data",
    manifest,
    sources=sources,
    tasks=(
        TaskBuilder(
            "csv",
            "a CSV or TSV: id, the label column(s), optionally split",
            _build,
            options=(
                Option("kind", "multilabel, multiclass, binary or regression"),
                Option("label_columns", "the label column(s)", many=True),
                Option("task_name", "the task's name (default: the file's stem)"),
            ),
            reads_manifest=True,
        ),
    ),
)
