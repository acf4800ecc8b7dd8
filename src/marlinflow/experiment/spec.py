"""An experiment as the paper runs one: data sets, a pretraining corpus, encoders, an evaluation suite.

The config's ``experiment`` section names them (workflow/schemas/config.schema.yaml documents
every key). Without ``experiment.datasets`` a config describes the simplest experiment: its
``dataset`` section is the one data set, pretraining takes its train split (every split when it
has no tasks), and its own tasks are evaluated with the encoders ``downstream.baselines`` names.

:func:`check_overlap` is the promise that pretraining never sees an evaluation video: it refuses,
before anything runs, a corpus that holds a val or test video of the evaluation suite, naming
the ids.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from marlinflow import datasets
from marlinflow.config import merge, model_tag, read_config_file, validate_config
from marlinflow.errors import InputError
from marlinflow.weights import SCRATCH

if TYPE_CHECKING:
    import pandas as pd

EVALUATION_SPLITS = ("val", "test")
# The lip-sync protocol (the paper's LS family): a suite item's protocol, run once for its data
# set (it needs no labels: the videos' own sound), not once per task.
LIPSYNC = "lipsync"
ALL_SPLITS = ("train", "val", "test")
# The VideoMAE-style baseline: tube masking and no adversarial loss, as the official code's
# authors reproduce VideoMAE (marlin.md §8, issue #10).
VIDEOMAE = {"mask_strategy": "tube", "adv_weight": 0.0}


@dataclass(frozen=True)
class Dataset:
    name: str
    config: dict[str, Any]  # the validated dataset section, defaults filled
    tasks: dict[str, dict[str, Any]]  # task name -> its validated spec


@dataclass(frozen=True)
class Encoder:
    name: str
    kind: str  # pretrain, random or external
    model: str | dict[str, Any] | None  # None: an external file's own geometry
    pretrain: dict[str, Any] = field(default_factory=dict)  # settings on top of the section's
    weights: str | None = None  # kind external


@dataclass(frozen=True)
class Evaluation:
    dataset: str
    tasks: tuple[str, ...]
    protocols: tuple[str, ...]

    @property
    def lipsync(self) -> bool:
        return LIPSYNC in self.protocols

    @property
    def task_protocols(self) -> tuple[str, ...]:
        """The protocols each task runs (probe, finetune): all but lipsync."""
        return tuple(p for p in self.protocols if p != LIPSYNC)


@dataclass(frozen=True)
class Experiment:
    name: str
    datasets: dict[str, Dataset]
    corpus: dict[str, tuple[str, ...]]  # data set -> the splits pretraining takes
    encoders: dict[str, Encoder]
    suite: list[Evaluation]
    reference: str | None  # the encoder the report compares the others with
    notes: list[str] = field(default_factory=list)  # what was left out, and why
    lipsync_baseline: str | None = None  # the second generator's expert (None: the first other)

    def encoders_of(self, kind: str) -> dict[str, Encoder]:
        return {name: e for name, e in self.encoders.items() if e.kind == kind}

    def evaluated(self, dataset: str) -> bool:
        return any(evaluation.dataset == dataset for evaluation in self.suite)

    def task_datasets(self) -> list[str]:
        """The data sets whose tasks are evaluated (features, probes, fine-tuning)."""
        return list(dict.fromkeys(e.dataset for e in self.suite if e.tasks))

    def lipsync_datasets(self) -> list[str]:
        """The data sets of a lip-sync evaluation (their videos' sound: the audio stage)."""
        return list(dict.fromkeys(e.dataset for e in self.suite if e.lipsync))

    def generator_encoders(self) -> list[str]:
        """The encoders whose lip-sync expert a generator is trained against: the reference
        (MARLIN) and a baseline (``experiment.lipsync_baseline``, else the first other encoder
        declared)."""
        others = [name for name in self.encoders if name != self.reference]
        baseline = [self.lipsync_baseline] if self.lipsync_baseline else others[:1]
        return [name for name in (self.reference, *baseline) if name is not None]


def experiment_from_config(config: dict[str, Any]) -> Experiment:
    """The experiment a validated workflow config describes."""
    section = config["experiment"]
    if not section["datasets"]:
        return single_dataset_experiment(config)
    where = "config: experiment"
    datasets = {
        name: read_dataset(name, entry, f"{where}.datasets.{name}")
        for name, entry in section["datasets"].items()
    }
    corpus = {}
    for item in section["corpus"]:
        known(item["dataset"], datasets, f"{where}.corpus")
        corpus[item["dataset"]] = tuple(item["splits"])
    suite = [evaluation(item, datasets, config, f"{where}.suite") for item in section["suite"]]
    notes: list[str] = []
    if any(e.lipsync for e in suite):
        check_lipsync_weights(config["lipsync"], notes)
    encoders = read_encoders(section["encoders"], config, notes) or default_encoders(config)
    check_init(encoders, config, notes)
    name = section["name"]
    if not name:
        raise InputError(f"{where}.name", "an experiment names its results folder: set a name")
    experiment = Experiment(name, datasets, corpus, encoders, suite, section["reference"], notes)
    return finish(replace(experiment, lipsync_baseline=section["lipsync_baseline"]))


def single_dataset_experiment(config: dict[str, Any]) -> Experiment:
    """The run a config without ``experiment.datasets`` describes: one data set, its tasks."""
    tasks = config["downstream"]["tasks"]
    dataset = Dataset(config["dataset"]["name"], config["dataset"], {t["name"]: t for t in tasks})
    protocols = tuple(config["downstream"]["protocols"])
    suite = [Evaluation(dataset.name, tuple(dataset.tasks), protocols)] if tasks else []
    # Nothing is evaluated on a pretraining set, so pretraining may take all of it.
    splits = ("train",) if tasks else ALL_SPLITS
    name = config["experiment"]["name"] or dataset.name
    encoders, notes = default_encoders(config), []
    check_init(encoders, config, notes)
    experiment = Experiment(
        name,
        {dataset.name: dataset},
        {dataset.name: splits},
        encoders,
        suite,
        config["experiment"]["reference"],
        notes,
    )
    return finish(experiment)


def read_dataset(name: str, entry: dict[str, Any], where: str) -> Dataset:
    """A data set entry: its config file's dataset section and tasks, the entry's keys on top."""
    section: dict[str, Any] = {}
    tasks: list[dict[str, Any]] = []
    if entry.get("config"):
        document = read_config_file(entry["config"])
        section = dict(document.get("dataset") or {})
        tasks = (document.get("downstream") or {}).get("tasks") or []
    own = {key: value for key, value in entry.items() if key not in ("config", "tasks")}
    section = merge(section, own) | {"name": name}
    if entry.get("tasks") is not None:
        tasks = entry["tasks"]
    checked = validate_config({"dataset": section, "downstream": {"tasks": tasks}}, where)
    return Dataset(name, checked["dataset"], {t["name"]: t for t in checked["downstream"]["tasks"]})


def known(name: str, datasets: dict[str, Dataset], where: str) -> None:
    if name not in datasets:
        raise InputError(where, f"data set {name!r} is not in experiment.datasets {list(datasets)}")


def evaluation(item: dict[str, Any], datasets, config, where: str) -> Evaluation:
    known(item["dataset"], datasets, where)
    dataset = datasets[item["dataset"]]
    tasks = tuple(item["tasks"] if item["tasks"] is not None else dataset.tasks)
    unknown = [task for task in tasks if task not in dataset.tasks]
    if unknown:
        raise InputError(
            where, f"{dataset.name} has no task(s) {unknown}; its tasks: {list(dataset.tasks)}"
        )
    protocols = tuple(item["protocols"] or config["downstream"]["protocols"])
    if protocols == (LIPSYNC,):  # a lip-sync evaluation alone: no task
        if item["tasks"]:
            raise InputError(where, f"tasks {list(tasks)} need a protocol besides lipsync")
        tasks = ()
    return Evaluation(dataset.name, tasks, protocols)


def check_lipsync_weights(lipsync: dict[str, Any], notes: list[str]) -> None:
    """The SyncNet and Inception files a lip-sync evaluation names, checked before the first
    job; without SyncNet's, its scores are a random SyncNet's, which the notes say."""
    for key in ("syncnet", "inception"):
        path = lipsync[key]
        if path is not None and not Path(path).is_file():
            raise InputError(path, f"config: lipsync.{key}: no such weights file")
    if lipsync["syncnet"] is None:
        notes.append(
            "lipsync.syncnet is not set: the generators are scored with a randomly initialised "
            "SyncNet, whose scores are not LSE-D / LSE-C (give syncnet_python's "
            "syncnet_v2.model for real ones)"
        )


def check_model(model: str | dict[str, Any] | None, where: str) -> None:
    """A size that exists and whose geometry holds, checked before the first job."""
    from marlinflow.models import resolve_size

    if model is None:
        return
    try:
        resolve_size(model)
    except (KeyError, ValueError) as err:
        raise InputError(where, str(err).strip("'\"")) from None


def default_encoders(config: dict[str, Any]) -> dict[str, Encoder]:
    """Ours at the configured size, and the baselines ``downstream.baselines`` names."""
    model = config["model"]
    check_model(model, "config: model")
    tag = model_tag(model)
    encoders = {tag: Encoder(tag, "pretrain", model)}
    baselines = config["downstream"]["baselines"]
    if "videomae" in baselines:
        encoders[f"videomae-{tag}"] = Encoder(f"videomae-{tag}", "pretrain", model, VIDEOMAE)
    if "random" in baselines:
        encoders[f"random-{tag}"] = Encoder(f"random-{tag}", "random", model)
    return encoders


def read_encoders(entries: dict[str, Any], config: dict[str, Any], notes: list[str]):
    encoders = {}
    for name, entry in entries.items():
        where = f"config: experiment.encoders.{name}"
        if not re.fullmatch(r"[A-Za-z0-9_][A-Za-z0-9_.-]*", name):
            raise InputError(where, "an encoder's name is a folder name (letters, digits, _ . -)")
        kind, model = entry["kind"], entry["model"]
        if kind == "external":
            if not entry["weights"]:
                notes.append(
                    f"encoder {name!r} left out: it has no weights file yet "
                    f"(experiment.encoders.{name}.weights)"
                )
                continue
            if not Path(entry["weights"]).is_file():
                raise InputError(entry["weights"], f"{where}: no such weights file")
        elif kind == "pretrain":
            pretrain = merge(dict(config["pretrain"]), dict(entry["pretrain"]))
            validate_config({"pretrain": pretrain}, where)
        model = model if model is not None or kind == "external" else config["model"]
        check_model(model, f"{where}.model")
        encoders[name] = Encoder(name, kind, model, dict(entry["pretrain"]), entry["weights"])
    return encoders


def check_init(encoders: dict[str, Encoder], config: dict[str, Any], notes: list[str]) -> None:
    """The weights each pretrained encoder starts from (``pretrain.init``), checked before the
    first job: a checkpoint that is not there is refused; an encoder of an official size that
    starts from random weights without saying so (init null, not scratch) is noted, because
    the official runs start from a VideoMAE checkpoint."""
    from marlinflow.models import RELEASED  # the official sizes, whose runs start from VideoMAE

    undecided = []
    for name, encoder in encoders.items():
        if encoder.kind != "pretrain":
            continue
        init = {**config["pretrain"], **encoder.pretrain}.get("init")
        if init is None:
            if isinstance(encoder.model, str) and encoder.model in RELEASED.values():
                undecided.append(name)
        elif init != SCRATCH and not Path(init).is_file():
            raise InputError(init, f"pretrain.init of encoder {name!r}: no such checkpoint")
    if undecided:
        notes.append(
            f"encoder(s) {', '.join(map(repr, undecided))} start from random weights: the "
            "official runs start from a VideoMAE pretraining checkpoint; give its path in "
            "pretrain.init (or set pretrain.init to scratch to start from random weights "
            "deliberately)"
        )


def finish(experiment: Experiment) -> Experiment:
    """Check what holds across sections, and choose the reference encoder."""
    if experiment.encoders_of("pretrain") and not experiment.corpus:
        raise InputError(
            "config: experiment.corpus", "encoders of kind pretrain need a corpus to pretrain on"
        )
    reference = experiment.reference
    if reference is None:
        ranked = sorted(experiment.encoders.values(), key=lambda e: e.kind != "pretrain")
        reference = ranked[0].name if ranked else None
    elif reference not in experiment.encoders:
        raise InputError(
            "config: experiment.reference",
            f"{reference!r} is not one of the encoders {list(experiment.encoders)}",
        )
    baseline = experiment.lipsync_baseline
    if baseline is not None and (baseline not in experiment.encoders or baseline == reference):
        raise InputError(
            "config: experiment.lipsync_baseline",
            f"{baseline!r} is not one of the encoders other than the reference {reference!r} "
            f"({[name for name in experiment.encoders if name != reference]})",
        )
    return replace(experiment, reference=reference)


def corpus_ids(experiment: Experiment, manifests: dict[str, pd.DataFrame]) -> dict[str, list[str]]:
    """The ids pretraining takes, per data set (the corpus splits of each manifest); a data set
    with none in those splits is refused, before pretraining would start on nothing."""
    ids = {
        name: manifests[name].loc[manifests[name]["split"].isin(splits), "id"].tolist()
        for name, splits in experiment.corpus.items()
    }
    for name, found in ids.items():
        if not found:
            splits = list(experiment.corpus[name])
            raise InputError(
                "config: experiment.corpus",
                f"data set {name!r} has no video in "
                f"the splits {splits} (its splits: "
                f"{sorted(set(manifests[name]['split']))})",
            )
    return ids


def corpus_groups(corpus: dict[str, list[str]], manifests: dict[str, pd.DataFrame]) -> dict:
    """``<data set>/<id>`` -> group of every corpus video whose manifest names one (its ``group``
    column): the pretraining run's ``groups``, so that its validation split holds out whole
    groups (identities, source videos)."""
    groups = {}
    for name, ids in corpus.items():
        table = manifests[name]
        if "group" not in table:
            continue
        column = table.set_index("id")["group"].reindex(ids)
        groups |= {f"{name}/{i}": g for i, g in column.items() if isinstance(g, str) and g}
    return groups


def evaluation_ids(experiment: Experiment, manifests: dict[str, pd.DataFrame]) -> dict:
    """The val and test ids of every evaluated data set."""
    evaluated = dict.fromkeys(evaluation.dataset for evaluation in experiment.suite)
    return {
        name: manifests[name].loc[manifests[name]["split"].isin(EVALUATION_SPLITS), "id"].tolist()
        for name in evaluated
    }


def check_tasks(experiment: Experiment, manifests: dict[str, pd.DataFrame]) -> None:
    """Tasks read from a manifest (adapter csv) need their label columns there: checked before
    the first job, not found missing after the data set was tracked and parsed."""
    for evaluation in experiment.suite:
        dataset = experiment.datasets[evaluation.dataset]
        columns = set(manifests[dataset.name].columns)
        for name in evaluation.tasks:
            task = dataset.tasks[name]
            if not datasets.task(task["adapter"]).reads_manifest or task["source"] is not None:
                continue
            missing = [c for c in task["label_columns"] or [] if c not in columns]
            if missing or not task["label_columns"]:
                raise InputError(
                    f"data set {dataset.name!r}, task {name!r}",
                    f"needs label column(s) {missing or '(none named)'} in the manifest, whose "
                    f"columns are {sorted(columns)}; give the data set tasks of its own "
                    "(downstream.tasks, or tasks: [] for none)",
                )


YOUTUBE_ID = re.compile(r"(?:v=|youtu\.be/|shorts/|^)([A-Za-z0-9_-]{11})(?:$|[&?#])")


def source_key(source: str, base: str) -> str:
    """What a manifest source points at, spelled one way: a real path, a YouTube id, a URL."""
    from marlinflow.download.sources import Kind, resolve

    resolved = resolve(source, base)
    if resolved.kind in (Kind.LOCAL, Kind.FRAMES):
        return str(Path(resolved.location).resolve())
    if resolved.kind == Kind.YTDL and (match := YOUTUBE_ID.search(resolved.location)):
        return f"youtube:{match.group(1)}"
    return resolved.location


def check_overlap(
    experiment: Experiment, manifests: dict[str, pd.DataFrame], roots: dict[str, str]
) -> dict[str, Any]:
    """The record of the check that pretraining sees no evaluation val or test video.

    A video overlaps when it is the same data set and id, or, across two data sets, the same
    source (file, YouTube video or URL; a data set's own splits are its own business). Raises
    :class:`InputError` naming the overlapping ids; returns what was checked otherwise.
    """
    corpus = corpus_ids(experiment, manifests)
    held_out = evaluation_ids(experiment, manifests)
    clashes = [
        f"{ds}/{i}"
        for ds, ids in corpus.items()
        if ds in held_out
        for i in sorted(set(ids) & set(held_out[ds]))
    ]
    clashes += source_clashes(corpus, held_out, manifests, roots)
    if clashes:
        shown = ", ".join(clashes[:20]) + (
            f" and {len(clashes) - 20} more" if len(clashes) > 20 else ""
        )
        raise InputError(
            "config: experiment.corpus",
            f"pretraining would see {len(clashes)} val/test video(s) of the evaluation suite: "
            f"{shown}. Give the corpus only the train split of an evaluated data set.",
        )
    return {
        "checked": True,
        "by": ["dataset and id", "source"],
        "corpus": {
            ds: {"splits": list(experiment.corpus[ds]), "videos": len(ids)}
            for ds, ids in corpus.items()
        },
        "evaluation": {
            ds: {split: int((manifests[ds]["split"] == split).sum()) for split in EVALUATION_SPLITS}
            for ds in held_out
        },
        "overlap": [],
    }


def source_clashes(corpus, held_out, manifests, roots) -> list[str]:
    """``<corpus ds>/<id> = <evaluation ds>/<id>`` for sources shared across two data sets."""
    others = [(c, e) for c in corpus for e in held_out if c != e]
    if not others:
        return []

    def keys(ds: str, ids: list[str]) -> dict[str, str]:
        rows = manifests[ds].set_index("id").loc[ids, "source"]
        return {source_key(str(source), roots[ds]): i for i, source in rows.items()}

    # each data set's sources resolved once (resolving a local path asks the file system)
    mine = {c: keys(c, corpus[c]) for c in dict.fromkeys(c for c, _ in others)}
    theirs = {e: keys(e, held_out[e]) for e in dict.fromkeys(e for _, e in others)}
    clashes = []
    for c, e in others:
        shared = sorted(set(mine[c]) & set(theirs[e]))
        clashes += [f"{c}/{mine[c][k]} = {e}/{theirs[e][k]}" for k in shared]
    return clashes
