"""The registry of data sets: what a data set module declares, and how the modules are found.

Every module of :mod:`marlinflow.datasets` but the shared ones (:data:`SHARED`) is a data set and
exposes ``DATASET``, a :class:`Dataset`; so are the modules that installed packages name in the
entry point group ``marlinflow.datasets``. The registry is read once per search path: a folder
added to the package's ``__path__`` is seen by the next lookup.
"""

from __future__ import annotations

import importlib
import pkgutil
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from functools import cache
from importlib.metadata import entry_points
from types import ModuleType
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import pandas as pd

    from marlinflow.downstream.tasks import Task

PACKAGE = "marlinflow.datasets"
ENTRY_POINTS = "marlinflow.datasets"
SHARED = frozenset({"checks", "common", "registry"})  # modules of the package that are no data set


class UnknownName(LookupError):
    """A data set or task name the registry does not know."""


@dataclass(frozen=True)
class Gate:
    """A data set the user downloads under its licence into ``dataset.root``."""

    page: str
    expect: str  # the file or folder inside the root that proves the download is there
    how: str  # what to download and where to put it


@dataclass(frozen=True)
class Published:
    """A data set's size as its paper gives it: what ``marlinflow plan`` counts when the data
    set's files are not there (``dataset.root`` unset). A number the paper does not give is
    named in ``assumed`` with where it comes from instead."""

    source: str  # the paper the numbers come from
    videos: int  # the manifest's rows: the videos the per-video steps run on
    seconds: float  # mean length of one video
    fps: float
    width: int
    height: int
    splits: Mapping[str, float]  # share of the videos in each split, by the module's split rule
    # what the download step does with a video: link (a local file), frames (encodes a folder
    # of frames), fetch (downloads it), cut (fetches or reads it, and re-encodes a window)
    fetch: str = "link"
    assumed: Mapping[str, str] = field(default_factory=dict)  # fact -> why it is assumed
    # rows of a task, from its options, where they are not the manifest's videos
    task_rows: Callable[[Mapping[str, Any]], int] | None = None


@dataclass(frozen=True)
class Option:
    """An option of a task builder: ``--<name>`` of ``marlinflow task``, a key of a task's
    ``options`` in a config."""

    name: str
    help: str
    type: Callable[[str], Any] = str
    default: Any = None
    choices: tuple[Any, ...] | None = None
    many: bool = False  # a list of values
    in_root: bool = False  # a file of the data set: the workflow reads it under dataset.root

    def problem(self, value: Any) -> str | None:
        """Why a config's value is refused, read as the command line reads it; None if it is not."""
        if value is None:  # left out of the command: the option's default
            return None
        if isinstance(value, list) and not self.many:
            return f"{value!r} is a list; the option takes one value"
        values = value if isinstance(value, list) else [value]
        try:
            parsed = [self.type(str(v)) for v in values]
        except (TypeError, ValueError):
            return f"{value!r} is not of type {self.type.__name__}"
        if self.choices is None:
            return None
        refused = [v for v, p in zip(values, parsed, strict=True) if p not in self.choices]
        return f"{refused[0]!r} is not one of {list(self.choices)}" if refused else None


@dataclass(frozen=True)
class TaskBuilder:
    """A downstream task: ``adapter: <name>`` of a task in a config, ``marlinflow task <name>``."""

    name: str
    source: str  # what it reads: the data set's label file or folder
    build: Callable[..., Task]  # build(source, seed=..., **options)
    kind: str | None = None  # the kind of the task it builds; None: the config's ``kind`` says
    options: tuple[Option, ...] = ()
    reads_manifest: bool = False  # without a source, its labels are columns of the manifest

    def make(self, source: Any, seed: int = 0, **options: Any) -> Task:
        """The task from ``source``; options not given take their declared default."""
        declared = {option.name: option.default for option in self.options}
        unknown = sorted(set(options) - set(declared))
        if unknown:
            raise TypeError(f"task {self.name!r} has no option(s) {unknown}; its: {list(declared)}")
        return self.build(source, seed=seed, **(declared | options))

    def option_problems(self, options: dict[str, Any]) -> list[str]:
        """``key: reason`` for each option of a config's task that the builder refuses."""
        declared = {option.name: option for option in self.options}
        problems = []
        for key, value in options.items():
            if key not in declared:
                known = list(declared)
                problems.append(
                    f"{key}: not an option of task {self.name!r} (its options: {known})"
                )
            elif (problem := declared[key].problem(value)) is not None:
                problems.append(f"{key}: {problem}")
        return problems


@dataclass(frozen=True)
class Dataset:
    """A data set: how its manifest is made (``dataset.builder: <name>``), where its files come
    from, and the tasks its labels give."""

    name: str
    title: str
    build: Callable[[dict[str, Any]], pd.DataFrame]  # the manifest, from the dataset section
    gate: Gate | None = None
    tasks: tuple[TaskBuilder, ...] = ()
    # the folder of relative sources when dataset.root is null (else the working folder)
    sources: Callable[[dict[str, Any]], str] | None = None
    generated: bool = False  # the workflow makes its videos along with their manifest
    published: Published | None = None  # its size as published, for planning without its files


@dataclass(frozen=True)
class _Registry:
    datasets: dict[str, Dataset]
    tasks: dict[str, TaskBuilder]


def registered() -> dict[str, Dataset]:
    """Every data set by name."""
    return dict(_registry().datasets)


def get(name: str) -> Dataset:
    """The data set ``dataset.builder`` names."""
    return _lookup(_registry().datasets, name, "data set")


def tasks() -> dict[str, TaskBuilder]:
    """Every task builder of every data set, by name."""
    return dict(_registry().tasks)


def task(name: str) -> TaskBuilder:
    """The task builder a task's ``adapter`` names."""
    return _lookup(_registry().tasks, name, "task")


def _lookup(known: dict[str, Any], name: str, what: str) -> Any:
    if name not in known:
        raise UnknownName(f"unknown {what} {name!r}; known: {list(known)}")
    return known[name]


def _registry() -> _Registry:
    package = importlib.import_module(PACKAGE)
    return _discover(tuple(package.__path__))


@cache
def _discover(path: tuple[str, ...]) -> _Registry:
    datasets: dict[str, Dataset] = {}
    builders: dict[str, TaskBuilder] = {}
    for module in _modules(path):
        dataset = getattr(module, "DATASET", None)
        if not isinstance(dataset, Dataset):
            raise TypeError(f"{module.__name__}: a data set module exposes DATASET, a Dataset")
        clashes = [dataset.name] if dataset.name in datasets else []
        clashes += [builder.name for builder in dataset.tasks if builder.name in builders]
        if clashes:
            taken = f"{module.__name__}: name(s) {clashes} already taken"
            raise ValueError(f"{taken} by another data set or task")
        datasets[dataset.name] = dataset
        builders |= {builder.name: builder for builder in dataset.tasks}
    return _Registry(dict(sorted(datasets.items())), dict(sorted(builders.items())))


def _modules(path: tuple[str, ...]) -> Iterator[ModuleType]:
    names = sorted(
        info.name
        for info in pkgutil.iter_modules(list(path))
        if info.name not in SHARED and not info.name.startswith("_")
    )
    yield from (importlib.import_module(f"{PACKAGE}.{name}") for name in names)
    yield from (entry.load() for entry in entry_points(group=ENTRY_POINTS))
