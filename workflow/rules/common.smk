# Shared definitions: the validated config, the experiment it describes, each data set's
# manifest, paths (marlinflow.layout) and input functions.
import json
import os
import re
import shlex
import sys

from snakemake.exceptions import WorkflowError

from marlinflow import datasets
from marlinflow.commands.task import workflow_arguments
from marlinflow.config import cli_options, digest, validate_config
from marlinflow.download.sources import Kind, resolve
from marlinflow.errors import InputError
from marlinflow.face.parsing_step import parse_options
from marlinflow.experiment.spec import (
    check_overlap,
    check_tasks,
    corpus_groups,
    corpus_ids,
    experiment_from_config,
)
from marlinflow.layout import AUDIO, STAGES, DatasetLayout, ExperimentLayout
from marlinflow.experiment.plan import (
    downstream_options,
    downstream_runs,
    plan_document,
    used_datasets,
)
from marlinflow.code_version import code_version
from marlinflow.compute.slurm import (
    controller_problem,
    pretrain_resources,
    shard_mem_mb,
    shard_runtime,
)
from marlinflow.shards import shard_names, shard_of, shard_rows, shard_size
from marlinflow.tracking import job_tracking, start_pipeline
from marlinflow.weights import SCRATCH

try:
    validate_config(config, "config")
    EXPERIMENT = experiment_from_config(config)
    DATASETS = {name: EXPERIMENT.datasets[name] for name in used_datasets(EXPERIMENT)}
    MANIFESTS = {
        name: datasets.build_manifest(dataset.config).set_index("id", drop=False)
        for name, dataset in DATASETS.items()
    }
    ROOTS = {
        name: datasets.source_root(dataset.config) for name, dataset in DATASETS.items()
    }
    # Refused here, before anything runs: a corpus holding an evaluation val or test video,
    # and tasks whose labels the manifest lacks.
    OVERLAP = check_overlap(EXPERIMENT, MANIFESTS, ROOTS)
    check_tasks(EXPERIMENT, MANIFESTS)
except InputError as err:
    raise WorkflowError(str(err)) from None


onstart:
    # Submitting to SLURM from a machine that cannot: one line now, not a stalled run.
    if getattr(workflow.executor_plugin, "name", None) == "slurm":
        problem = controller_problem()
        if problem is not None:
            raise WorkflowError(f"--executor slurm: {problem}")


for note in EXPERIMENT.notes:
    print(f"note: {note}", file=sys.stderr)

EXP = ExperimentLayout(EXPERIMENT.name)
DS = DatasetLayout("{ds}")
# Large data sets run each per-video step a shard of videos per job (dataset.shard_size,
# marlinflow.shards): the videos per shard, and the shards, of each data set that does.
SHARD_SIZE = {
    name: shard_size(dataset.config["shard_size"], len(MANIFESTS[name]))
    for name, dataset in DATASETS.items()
}
SHARDS = {
    name: shard_names(len(MANIFESTS[name]), size)
    for name, size in SHARD_SIZE.items()
    if size
}
CORPUS = corpus_ids(EXPERIMENT, MANIFESTS)
# The group of each corpus video (identity, source video): pretraining holds out whole groups.
CORPUS_GROUPS = corpus_groups(CORPUS, MANIFESTS)
PRETRAINED = EXPERIMENT.encoders_of("pretrain")
RUNS = downstream_runs(EXPERIMENT, config["downstream"])
# The data sets of a lip-sync evaluation: the audio stage, an expert per encoder, generators.
LIPSYNC_DATASETS = EXPERIMENT.lipsync_datasets()
# One W&B group for every job of this invocation, passed to them in the environment with the
# experiment's tag; each job adds its own name and tags (job_tracking).
TRACKING = start_pipeline(config["tracking"], EXPERIMENT.name)
# The software of every rule: the project's own environment (used with --sdm conda).
CONDA_ENV = os.path.join(workflow.basedir, "environment.yml")


def one_of(names):
    """A wildcard pattern matching exactly these names (nothing when there are none)."""
    return "|".join(re.escape(name) for name in names) or "(?!)"


wildcard_constraints:
    ds=one_of(DATASETS),
    id=r"[A-Za-z0-9_-][A-Za-z0-9_.-]*",
    shard=r"s[0-9]+",
    encoder=one_of(EXPERIMENT.encoders),
    task=one_of({t for d in DATASETS.values() for t in d.tasks}),
    budget=r"frac[0-9.e-]+|k[0-9]+",


def ids_of(ds):
    return list(MANIFESTS[ds].index)


def records(stage, ds, ids=None):
    layout = DatasetLayout(ds)
    return [layout.record(stage, i) for i in (ids_of(ds) if ids is None else ids)]


def stage_inputs(stage, ds, ids=None):
    """A data set's records after ``stage`` as its jobs write them: each video's record, or the
    lists of its shards (those holding ``ids``, when given)."""
    if ds not in SHARDS:
        return records(stage, ds, ids)
    names = SHARDS[ds]
    if ids is not None:
        positions = MANIFESTS[ds].index.get_indexer(ids)
        names = sorted({shard_of(position, SHARD_SIZE[ds]) for position in positions})
    return [DatasetLayout(ds).shard_list(stage, name) for name in names]


def local_source(wildcards):
    """A local source is an input, so Snakemake waits for it (the sample) and sees it change.

    A missing one is left to the download step, which records it as unusable: one bad row must
    not stop the run. (A shard job keeps its local sources' sizes and times in its records.)
    """
    if datasets.get(DATASETS[wildcards.ds].config["builder"]).generated:
        return generated_sources(wildcards)
    row = MANIFESTS[wildcards.ds].loc[wildcards.id]
    source = resolve(row["source"], ROOTS[wildcards.ds])
    if source.kind not in (Kind.LOCAL, Kind.FRAMES):
        return []
    return [source.location] if source.path.exists() else []


def download_args(wildcards):
    """One video's download flags: its manifest row's, then the data set's (shard_args)."""
    row = MANIFESTS[wildcards.ds].loc[wildcards.id]
    args = ["--source", row["source"]]
    for key in ("sha256", "start", "end"):
        value = row.get(key)
        if value is not None and value == value and value != "":  # skips NaN and blanks
            args += [f"--{key}", str(value)]
    return shlex.join(args) + " " + download_settings(wildcards)


def download_settings(wildcards):
    """The download flags of every video of a data set: where relative sources are, the rate
    of frame folders, and the download section."""
    fps = DATASETS[wildcards.ds].config["fps"]
    args = ["--base", ROOTS[wildcards.ds], "--fps", str(fps)]
    return shlex.join(args + cli_options(config["download"]))


def generated_sources(wildcards):
    """A generated data set's videos (the sample's) are made with their manifest, which stands
    for them as an input of the download step."""
    if datasets.get(DATASETS[wildcards.ds].config["builder"]).generated:
        return [f"{DatasetLayout(wildcards.ds).sample_sources}/manifest.tsv"]
    return []


def shard_table(wildcards):
    """The manifest rows of one shard."""
    return MANIFESTS[wildcards.ds].iloc[
        shard_rows(wildcards.shard, SHARD_SIZE[wildcards.ds])
    ]


def shard_rows_digest(wildcards):
    """A digest of a shard's rows: its rows file is rewritten only when they change."""
    return digest(shard_table(wildcards).to_dict("split"))


def shard_videos(wildcards):
    return len(shard_table(wildcards))


def shard_request(stage):
    """resources: of a shard job of ``stage``: a runtime that follows from its videos and
    threads, and memory for each of its worker processes."""
    return {
        "runtime": lambda wildcards, threads: shard_runtime(
            stage, shard_videos(wildcards), threads
        ),
        "mem_mb": lambda wildcards, threads: shard_mem_mb(threads),
    }


def track_options(wildcards):
    """The track section's flags, and the data set's rate for variable-frame-rate videos."""
    fps = DATASETS[wildcards.ds].config["fps"]
    return shlex.join(cli_options(config["track"]) + ["--fps", str(fps)])


def dataset_stages(ds):
    """The stages of a data set's videos (the audio stage for a lip-sync data set)."""
    return DatasetLayout(ds).stages(ds in LIPSYNC_DATASETS)


def lipsync_weights(wildcards=None):
    """The SyncNet and Inception weights files lipsync.syncnet and .inception name: inputs."""
    return [
        path
        for path in (config["lipsync"][k] for k in ("syncnet", "inception"))
        if path
    ]


def lipsync_options(section):
    """A lip-sync verb's options: its lipsync section's settings and the torch device."""
    device = ["--device", config["lipsync"]["device"]]
    return cli_options(config["lipsync"][section]) + device


def lipsync_weight_args():
    """lipsync-eval's weights: SyncNet's file (random weights without one) and Inception's."""
    args = ["--syncnet", config["lipsync"]["syncnet"] or "random"]
    if config["lipsync"]["inception"]:
        args += ["--inception", config["lipsync"]["inception"]]
    return args


def lipsync_outputs():
    """Every lip-sync result of the experiment: each encoder's expert metrics, and the
    generators' metrics and frames."""
    experts = [
        EXP.expert_metrics(ds, e)
        for ds in LIPSYNC_DATASETS
        for e in EXPERIMENT.encoders
    ]
    generators = [
        path
        for ds in LIPSYNC_DATASETS
        for e in EXPERIMENT.generator_encoders()
        for path in (EXP.generator_metrics(ds, e), EXP.generator_frames(ds, e))
    ]
    return experts + generators


def stage_records(wildcards):
    return stage_inputs(wildcards.stage, wildcards.ds)


def parse_records(wildcards):
    return stage_inputs("parse", wildcards.ds)


def corpus_records(wildcards=None):
    """The parse records of the videos pretraining takes, as their jobs write them (a shard's
    list holds its other videos too: pretraining is given corpus_index)."""
    return [
        path for ds, ids in CORPUS.items() for path in stage_inputs("parse", ds, ids)
    ]


def corpus_index():
    """The parse records of the videos pretraining takes: the corpus splits, nothing else."""
    return [path for ds, ids in CORPUS.items() for path in records("parse", ds, ids)]


def parse_record_input(wildcards):
    """A video's parse record as its job writes it: itself, or its shard's list."""
    layout = DatasetLayout(wildcards.ds)
    if wildcards.ds not in SHARDS:
        return layout.record("parse", wildcards.id)
    position = MANIFESTS[wildcards.ds].index.get_loc(wildcards.id)
    return layout.shard_list("parse", shard_of(position, SHARD_SIZE[wildcards.ds]))


def task_spec(wildcards):
    return DATASETS[wildcards.ds].tasks[wildcards.task]


def task_source(wildcards):
    """The task's label file: under the data set's root, or the data set's manifest."""
    task, root = task_spec(wildcards), ROOTS[wildcards.ds]
    if task["source"] is None:
        manifest = datasets.task(task["adapter"]).reads_manifest
        return DatasetLayout(wildcards.ds).manifest if manifest else root
    return os.path.join(root, task["source"])


def task_args(wildcards, input):
    seed = DATASETS[wildcards.ds].config["seed"]
    args = workflow_arguments(task_spec(wildcards), input[0], seed, ROOTS[wildcards.ds])
    return shlex.join(args)


def pretrain_settings(wildcards):
    encoder = PRETRAINED[wildcards.encoder]
    return {**config["pretrain"], **encoder.pretrain, "model": encoder.model}


def pretrain_init(wildcards):
    """The checkpoint an encoder's pretraining starts from (pretrain.init), if it names one:
    an input, so that another checkpoint trains the encoder again."""
    init = pretrain_settings(wildcards)["init"]
    return [] if init in (None, SCRATCH) else [init]


def encoder_model(encoder):
    return EXPERIMENT.encoders[encoder].model


def model_option(model):
    """``--model SIZE`` for a size name or mapping; nothing for a file's own geometry."""
    if model is None:
        return ""
    return shlex.join(
        ["--model", model if isinstance(model, str) else json.dumps(model)]
    )


def contact_sheets(ds):
    """The contact sheets the report shows: the first report.contact_sheets videos."""
    layout = DatasetLayout(ds)
    return [
        layout.contact_sheet(i)
        for i in ids_of(ds)[: config["report"]["contact_sheets"]]
    ]


def run_tracking(rule, ds=None, task=None, encoder=None):
    """A job's W&B run: a readable name and the tags of its data set, encoder and size."""
    model = EXPERIMENT.encoders[encoder].model if encoder else None
    return job_tracking(rule, EXPERIMENT.name, ds, task, encoder, model)


def tracking_of(rule):
    """params: the job's tracking environment, from its wildcards (a low-label run is named
    after its budget: ``probe-k10 ...``)."""

    def job(wildcards):
        values = dict(wildcards.items())
        name = f"{rule}-{values['budget']}" if "budget" in values else rule
        return run_tracking(
            name, values.get("ds"), values.get("task"), values.get("encoder")
        )

    return job


def final_outputs():
    """The experiment's reports, and each data set's manifest (the record of its videos)."""
    manifests = [DatasetLayout(ds).manifest for ds in DATASETS]
    return [EXP.report, EXP.headline, EXP.wandb_report, *manifests]
