"""The config's data set and task names, checked against the registry: a data set module brings
its names (``dataset.builder``, each task's ``adapter``) and its tasks' options with it, so the
schema does not list them."""

from __future__ import annotations

from typing import Any

from marlinflow import datasets


def config_problems(config: dict[str, Any]) -> list[str]:
    """``key: reason`` for each data set or task name the registry does not know, and for each
    task option its builder does not take."""
    builder = _mapping(config.get("dataset")).get("builder")
    problems = _unknown("dataset.builder", builder, datasets.registered())
    for where, spec in _task_specs(config):
        problems += _task_problems(where, spec)
    return problems


def _task_specs(config: dict[str, Any]) -> list[tuple[str, dict[str, Any]]]:
    """(key, spec) of every task of the config: the data set's and those of each experiment entry."""
    lists = [("downstream.tasks", _mapping(config.get("downstream")).get("tasks"))]
    entries = _mapping(_mapping(config.get("experiment")).get("datasets"))
    lists += [
        (f"experiment.datasets.{name}.tasks", _mapping(entry).get("tasks"))
        for name, entry in entries.items()
    ]
    return [
        (f"{where}.{i}", spec)
        for where, specs in lists
        for i, spec in enumerate(specs if isinstance(specs, list) else [])
        if isinstance(spec, dict)
    ]


def _task_problems(where: str, spec: dict[str, Any]) -> list[str]:
    name, options = spec.get("adapter"), spec.get("options")
    unknown = _unknown(f"{where}.adapter", name, datasets.tasks())
    if unknown or not isinstance(name, str) or not isinstance(options, dict):
        return unknown  # a wrong type is the schema's to report
    return [
        f"{where}.options.{problem}" for problem in datasets.task(name).option_problems(options)
    ]


def _unknown(where: str, name: Any, known: dict[str, Any]) -> list[str]:
    """The problem of a name that is not one of the registry's (none for a name that is not a
    string: the schema reports it)."""
    if not isinstance(name, str) or name in known:
        return []
    return [f"{where}: {name!r} is not one of {list(known)} (marlinflow.datasets)"]


def _mapping(value: Any) -> dict[str, Any]:
    """``value`` when it is a mapping, else an empty one (a wrong type is the schema's to report)."""
    return value if isinstance(value, dict) else {}
