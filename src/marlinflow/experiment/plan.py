"""What an experiment runs, spelled out: every downstream run, and the plan file the reports read.

The workflow asks this module for its targets, and writes :func:`plan_document` as the
experiment's ``plan.json``: the declared inputs of the HTML and W&B reports (no report globs a
results tree).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from marlinflow import datasets
from marlinflow.config import cli_options
from marlinflow.downstream.kinds import kind_named
from marlinflow.experiment.spec import Experiment
from marlinflow.layout import DatasetLayout, ExperimentLayout

if TYPE_CHECKING:
    import pandas as pd

# Parse records listed per data set for the report's mask figure, which needs a few usable
# videos: the first ones by manifest order (the plan stays small for a data set of any size).
MASK_CANDIDATES = 64


@dataclass(frozen=True)
class DownstreamRun:
    dataset: str
    task: str
    protocol: str  # probe, finetune, or a low-label one such as probe-k10
    encoder: str

    def metrics(self, layout: ExperimentLayout) -> str:
        return layout.metrics(self.dataset, self.task, self.protocol, self.encoder)


def has_classes(task: dict[str, Any]) -> bool:
    """Whether a configured task's labels fall into classes: its own kind says (adapter csv), or
    the kind its builder makes."""
    name = task.get("kind") or datasets.task(task["adapter"]).kind
    return name is None or kind_named(name).has_classes


def label_budgets(low_label: dict[str, Any], task: dict[str, Any] | None = None) -> dict:
    """Low-label and few-shot budgets: folder suffix -> the training options that set it (k
    per class only where the task has classes)."""
    budgets = {f"frac{share:g}": {"fraction": share} for share in low_label["fractions"]}
    if task is None or has_classes(task):
        budgets |= {f"k{k}": {"k_per_class": k} for k in low_label["k_per_class"]}
    return budgets


def downstream_options(downstream: dict[str, Any], protocol: str, budget: str | None = None):
    """The command options of a probe or fine-tune run, its budget's on top."""
    settings = {**downstream[protocol], "seeds": downstream["seeds"]}
    if budget is not None:
        budgets = label_budgets(downstream["low_label"])
        settings |= {"fraction": None, "k_per_class": None, **budgets[budget]}
    return cli_options(settings)


def downstream_runs(experiment: Experiment, downstream: dict[str, Any]) -> list[DownstreamRun]:
    """Every (data set, task, protocol, encoder) the suite asks for, low-label runs included."""
    low = downstream["low_label"]
    runs = []
    for evaluation in experiment.suite:
        for task in evaluation.tasks:
            spec = experiment.datasets[evaluation.dataset].tasks[task]
            protocols = list(evaluation.task_protocols)
            protocols += [
                f"{protocol}-{budget}"
                for protocol in low["protocols"]
                for budget in label_budgets(low, spec)
            ]
            runs += [
                DownstreamRun(evaluation.dataset, task, protocol, encoder)
                for protocol in protocols
                for encoder in experiment.encoders
            ]
    return runs


def used_datasets(experiment: Experiment) -> list[str]:
    """The data sets the experiment prepares: its corpus and its evaluation suite."""
    names = list(experiment.corpus) + [evaluation.dataset for evaluation in experiment.suite]
    return list(dict.fromkeys(names))


def dataset_entry(
    experiment: Experiment, name: str, ids: list[str], contact_sheets: int
) -> dict[str, Any]:
    layout = DatasetLayout(name)
    roles = [
        role
        for role, ok in (
            ("corpus", name in experiment.corpus),
            ("evaluation", experiment.evaluated(name)),
        )
        if ok
    ]
    evaluated = {task for e in experiment.suite if e.dataset == name for task in e.tasks}
    stages = layout.stages(name in experiment.lipsync_datasets())
    return {
        "builder": experiment.datasets[name].config["builder"],
        "roles": roles,
        "summaries": {stage: layout.summary(stage) for stage in stages},
        "summary_runs": {stage: layout.summary_run(stage) for stage in stages},
        "parse_records": [layout.record("parse", i) for i in ids[:MASK_CANDIDATES]],
        "contact_sheets": [layout.contact_sheet(i) for i in ids[:contact_sheets]],
        "tasks": {
            task: layout.task_table(task)
            for task in experiment.datasets[name].tasks
            if task in evaluated
        },
    }


def encoder_entry(experiment: Experiment, name: str, layout: ExperimentLayout) -> dict[str, Any]:
    encoder = experiment.encoders[name]
    entry = {
        "kind": encoder.kind,
        "model": encoder.model,
        "weights": layout.encoder(name),
        "run_dir": layout.encoder_dir(name) if encoder.kind == "pretrain" else None,
    }
    if encoder.kind == "external":
        entry["source"] = encoder.weights
    if encoder.kind == "pretrain":
        entry["pretrain"] = encoder.pretrain
    return entry


def lipsync_entry(experiment: Experiment, name: str, layout: ExperimentLayout) -> dict[str, Any]:
    """A lip-sync data set's results: each encoder's expert metrics (held-out sync and offset
    accuracy, offset curves), and the generators' metrics and frames."""
    return {
        "videos": DatasetLayout(name).sync_videos,
        "experts": {e: layout.expert_metrics(name, e) for e in experiment.encoders},
        "generators": {
            e: {
                "metrics": layout.generator_metrics(name, e),
                "frames": layout.generator_frames(name, e),
            }
            for e in experiment.generator_encoders()
        },
    }


def plan_document(
    experiment: Experiment,
    manifests: dict[str, pd.DataFrame],
    corpus: dict[str, list[str]],
    downstream: dict[str, Any],
    report: dict[str, Any],
) -> dict[str, Any]:
    """The experiment as the reports read it: what it declares, and the path of every input."""
    layout = ExperimentLayout(experiment.name)
    names = used_datasets(experiment)
    runs = downstream_runs(experiment, downstream)
    evaluated = experiment.task_datasets()
    return {
        "experiment": experiment.name,
        "sample": any(experiment.datasets[n].config["builder"] == "sample" for n in names),
        "reference": experiment.reference,
        "notes": experiment.notes,
        "datasets": {
            name: dataset_entry(
                experiment, name, list(manifests[name]["id"]), report["contact_sheets"]
            )
            for name in names
        },
        "corpus": [
            {"dataset": ds, "splits": list(experiment.corpus[ds]), "videos": len(ids)}
            for ds, ids in corpus.items()
        ],
        "overlap": layout.overlap,
        "encoders": {name: encoder_entry(experiment, name, layout) for name in experiment.encoders},
        "features": [
            {"dataset": ds, "encoder": encoder, "folder": layout.features(ds, encoder)}
            for ds in evaluated
            for encoder in experiment.encoders
        ],
        "results": [
            {
                "dataset": r.dataset,
                "task": r.task,
                "protocol": r.protocol,
                "encoder": r.encoder,
                "metrics": r.metrics(layout),
            }
            for r in runs
        ],
        "lipsync": {
            name: lipsync_entry(experiment, name, layout) for name in experiment.lipsync_datasets()
        },
        "report": {
            "contact_sheets": report["contact_sheets"],
            "mask_videos": report["mask_videos"],
        },
    }
