"""What an experiment costs to run: CPU core-hours, GPU-hours and storage per stage, GPU-hours
per model size, and its jobs (:mod:`marlinflow.experiment.jobs`): the sum of
:mod:`marlinflow.experiment.stage_costs`.

Each number is a count of work times a rate of :mod:`marlinflow.experiment.rates` (a benchmark
row, or an assumption that says so). The counts follow the config: its data sets' videos (the
manifest when a data set's files are there, else the size its paper publishes: the data set
module's :class:`~marlinflow.datasets.Published`), the pretraining epochs, batch and model
sizes, and every downstream run with its seeds and label budgets (:func:`downstream_runs`).
Probes and fine-tuning are costed at ``max_epochs``: an upper bound, as they stop once their
learning rate reaches its floor. A GPU job's CPU core-hours are the ``compute.threads`` cores
it holds beside each GPU.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from marlinflow.experiment.jobs import Jobs, count_jobs
from marlinflow.experiment.plan import used_datasets
from marlinflow.experiment.rates import Book, Rate
from marlinflow.experiment.sizes import DatasetSize, dataset_size
from marlinflow.experiment.spec import Experiment
from marlinflow.experiment.stage_costs import (
    Cost,
    downstream,
    extraction,
    lipsync,
    other_encoders,
    preprocessing,
    pretraining,
    reporting,
)

STAGE_NAMES = (
    "download",
    "track",
    "parse",
    "audio",
    "pretrain",
    "feature extraction",
    "probe",
    "fine-tune",
    "lip-sync expert",
    "lip-sync generator",
    "lip-sync scoring",
    "report",
)


@dataclass
class Plan:
    experiment: str
    sizes: dict[str, DatasetSize]
    stages: dict[str, Cost]
    gpu_by_size: dict[str, dict[str, float]]  # model size -> stage -> GPU-hours
    jobs: Jobs
    rates: dict[str, Rate]  # the rates used, by name
    notes: list[str]


def estimate(
    experiment: Experiment, config: dict[str, Any], snakefile: Path, profile: Path | None
) -> Plan:
    """The cost of running ``experiment`` as ``config`` (validated) sets it; the jobs as the
    Snakefile and the SLURM ``profile`` folder make them."""
    book, notes = Book(), list(experiment.notes)
    sizes = {name: dataset_size(experiment.datasets[name]) for name in used_datasets(experiment)}
    stages = {stage: Cost() for stage in STAGE_NAMES}
    by_size: dict[str, dict[str, float]] = {}

    def add(stage: str, model: str | None, cost: Cost) -> None:
        stages[stage] += cost
        if model is not None and cost.gpu_hours:
            row = by_size.setdefault(model, {})
            row[stage] = row.get(stage, 0.0) + cost.gpu_hours

    for size in sizes.values():
        for stage, cost in preprocessing(size, book).items():
            add(stage, None, cost)
    for model, cost in pretraining(experiment, config, sizes, book):
        add("pretrain", model, cost)
    for model, cost in other_encoders(experiment, notes):
        add("pretrain", model, cost)
    for model, cost in extraction(experiment, config, sizes, book, notes):
        add("feature extraction", model, cost)
    for stage, model, cost in downstream(experiment, config, sizes, book, notes):
        add(stage, model, cost)
    for stage, model, cost in lipsync(experiment, config, sizes, book, notes):
        add(stage, model, cost)
    add("report", None, reporting(list(sizes.values()), config, book))
    videos = {name: size.videos for name, size in sizes.items()}
    jobs = count_jobs(experiment, config, videos, snakefile, profile)
    notes += plan_notes(experiment, config, sizes, stages)
    return Plan(
        experiment.name, sizes, stages, by_size, jobs, book.used, list(dict.fromkeys(notes))
    )


def plan_notes(experiment, config, sizes: dict[str, DatasetSize], stages) -> list[str]:
    """What the numbers assume, beyond the rates."""
    down, compute = config["downstream"], config["compute"]
    notes = [
        f"{name} {fact}: {why}"
        for name, size in sizes.items()
        for fact, why in size.assumed.items()
    ]
    if any(cost.gpu_hours for cost in stages.values()):
        notes.append(
            f"GPU stages are costed on one GPU per job, holding compute.threads "
            f"({compute['threads']}) CPU cores each; the GPU rates were measured at batch 32 "
            "with the clips already on the GPU (no data loading)"
        )
    if stages["pretrain"].gpu_hours and not compute["gpus_per_node"]:
        notes.append("compute.gpus_per_node is 0: on SLURM pretraining would ask for no GPU")
    if (stages["feature extraction"].gpu_hours or stages["fine-tune"].gpu_hours) and not compute[
        "downstream_gpus"
    ]:
        notes.append(
            "compute.downstream_gpus is 0: on SLURM feature extraction and fine-tuning would ask "
            "for no GPU (--config 'compute={downstream_gpus: 1}')"
        )
    if stages["probe"].cpu_hours or stages["fine-tune"].cpu_hours:
        notes.append(
            f"probes and fine-tuning are costed at max_epochs ({down['probe']['max_epochs']}, "
            f"{down['finetune']['max_epochs']}), an upper bound: they stop once the learning "
            "rate reaches its floor; k-per-class budgets are costed as the whole train split"
        )
    lipsync_gpu = sum(stages[s].gpu_hours for s in STAGE_NAMES if s.startswith("lip-sync"))
    if lipsync_gpu and not compute["downstream_gpus"]:
        notes.append(
            "compute.downstream_gpus is 0: on SLURM the lip-sync jobs would ask for no GPU"
        )
    if experiment.lipsync_datasets():
        notes.append(
            "lip sync is costed at lipsync.expert.steps and lipsync.generator.steps; each "
            "expert's offset search scores every window of every test video, and each "
            "generator's scoring every test frame; the lip-sync rates were measured with the "
            "clips in memory (the networks alone), while training reads each pair's frames "
            "from its face clip as it goes"
        )
    if any(size.fetch.get("cut") or size.fetch.get("fetch") for size in sizes.values()):
        notes.append(
            "downloads are costed as CPU work only (re-encoding a window cut from them): the "
            "network's time is not counted, and a YouTube clip fetches its whole source video "
            "(at most 720p) before it is cut"
        )
    if any(size.fetch.get("link") for size in sizes.values()):
        notes.append("local videos are hard-linked into data/raw (copied across file systems)")
    return notes


def plan_document(plan: Plan) -> dict[str, Any]:
    """The plan as JSON values (``marlinflow plan --json``)."""
    total = sum(plan.stages.values(), Cost())
    jobs = plan.jobs
    return {
        "experiment": plan.experiment,
        "datasets": {
            name: {
                "videos": s.videos,
                "splits": s.splits,
                "seconds": s.seconds,
                "fps": s.fps,
                "size": [s.width, s.height],
                "download": s.fetch,
                "source": s.source,
                "assumed": s.assumed,
            }
            for name, s in plan.sizes.items()
        },
        "stages": {stage: vars(cost) for stage, cost in plan.stages.items()},
        "total": vars(total),
        "gpu_hours_by_model_size": plan.gpu_by_size,
        "jobs": {
            "total": jobs.total,
            "submitted": jobs.submitted,
            "on_login_node": jobs.on_login_node,
            "groups": jobs.groups,
            "rules": jobs.rules,
            "local_rules": sorted(jobs.local & set(jobs.rules)),
            "grouped_rules": {r: g for r, g in jobs.grouped.items() if r in jobs.rules},
        },
        "rates": {name: vars(rate) for name, rate in plan.rates.items()},
        "notes": plan.notes,
    }
