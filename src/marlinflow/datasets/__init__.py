"""Data sets, one module each: its manifest builder, where its files come from, and its tasks.

A data set module exposes ``DATASET`` (a :class:`Dataset`): the registry finds every such module
of this package, so adding a data set is adding a module, and its config in config/datasets/
(docs/adding_a_dataset.md). A config's ``dataset.builder`` names a data set and a task's
``adapter`` one of their tasks; :func:`marlinflow.config.validate_config` checks both here.

A gated data set (one with a :class:`Gate`) is read from a folder the user downloaded under the
data set's licence; a missing folder gets a message saying what to download, from where, and
where to put it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from marlinflow.datasets.registry import (
    Dataset,
    Gate,
    Option,
    Published,
    TaskBuilder,
    UnknownName,
    get,
    registered,
    task,
    tasks,
)
from marlinflow.errors import InputError

if TYPE_CHECKING:
    import pandas as pd

__all__ = [
    "Dataset",
    "Gate",
    "Option",
    "Published",
    "TaskBuilder",
    "UnknownName",
    "build_manifest",
    "get",
    "registered",
    "source_root",
    "task",
    "tasks",
]


def source_root(cfg: dict[str, Any]) -> str:
    """The folder relative sources are in: ``root``, else the data set's own (the folder of the
    user's manifest, the sample's), else the working folder."""
    if cfg["root"]:
        return cfg["root"]
    sources = get(cfg["builder"]).sources
    return sources(cfg) if sources else "."


def build_manifest(cfg: dict[str, Any]) -> pd.DataFrame:
    """The validated manifest of the data set described by the config's ``dataset`` section."""
    from marlinflow.manifest import validate_manifest

    table = get(cfg["builder"]).build(cfg)
    where = cfg.get("manifest") or cfg.get("root") or cfg["builder"]
    if table.empty:
        raise InputError(where, f"no videos found for data set {cfg['name']!r}")
    table = validate_manifest(table, where)
    if cfg.get("limit"):
        table = table.sort_values("id").head(cfg["limit"]).reset_index(drop=True)
    return table
