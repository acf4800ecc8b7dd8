# Shared definitions: the validated config, the data set's manifest, paths and input functions.
import os
import shlex

from snakemake.exceptions import WorkflowError

from marlinflow.cluster import pretrain_resources
from marlinflow.config import cli_options, model_tag, validate_config
from marlinflow.datasets import build_manifest, source_root
from marlinflow.download.sources import Kind, resolve
from marlinflow.errors import InputError
from marlinflow.tracking import start_pipeline

try:
    validate_config(config, "config")
    MANIFEST = build_manifest(config["dataset"]).set_index("id", drop=False)
except InputError as err:
    raise WorkflowError(str(err)) from None

DATASET = config["dataset"]["name"]
MODEL = model_tag(config["model"])
# One W&B group for every job of this invocation, passed to them in the environment with the
# tags of its runs (data set, model).
TRACKING = start_pipeline(config["tracking"], DATASET, tags=[MODEL])
IDS = list(MANIFEST.index)
RAW = f"data/raw/{DATASET}"
FACES = f"data/interim/{DATASET}/faces"
PARSING = f"data/interim/{DATASET}/parsing"
RESULTS = f"results/{DATASET}"
PRETRAIN = f"{RESULTS}/pretrain/{MODEL}"
LOGS = f"logs/{DATASET}"
SOURCE_ROOT = source_root(config["dataset"])
# The software of every rule: the project's own environment (used with --sdm conda).
CONDA_ENV = os.path.join(workflow.basedir, "environment.yml")


wildcard_constraints:
    id=r"[A-Za-z0-9_-][A-Za-z0-9_.-]*",


def local_source(wildcards):
    """A local source is an input, so Snakemake waits for it (the sample) and sees it change.

    A missing one is left to the download step, which records it as unusable: one bad row must
    not stop the run.
    """
    source = resolve(MANIFEST.loc[wildcards.id, "source"], SOURCE_ROOT)
    if source.kind not in (Kind.LOCAL, Kind.FRAMES):
        return []
    sample = config["dataset"]["builder"] == "sample"
    return [source.location] if sample or source.path.exists() else []


def download_args(wildcards):
    row = MANIFEST.loc[wildcards.id]
    args = [
        "--source",
        row["source"],
        "--base",
        SOURCE_ROOT,
        "--fps",
        str(config["dataset"]["fps"]),
    ]
    for key in ("sha256", "start", "end"):
        value = row.get(key)
        if value is not None and value == value and value != "":  # skips NaN and blanks
            args += [f"--{key}", str(value)]
    return shlex.join(args + cli_options(config["download"]))


STAGE_FOLDERS = {"download": RAW, "track": FACES, "parse": PARSING}


def stage_records(wildcards):
    return expand(f"{STAGE_FOLDERS[wildcards.stage]}/{{id}}.status.json", id=IDS)


def parse_records(wildcards=None):
    return expand(f"{PARSING}/{{id}}.status.json", id=IDS)


TASKS = {task["name"]: task for task in config["downstream"]["tasks"]}
# Pretraining runs: ours, and the VideoMAE-style baseline (tube masking, no adversarial loss, as
# the official code's authors reproduce VideoMAE) when asked for.
BASELINES = config["downstream"]["baselines"]
PRETRAINED = {MODEL: {}}
if "videomae" in BASELINES:
    PRETRAINED[f"videomae-{MODEL}"] = {"mask_strategy": "tube", "adv_weight": 0.0}
# The encoders evaluated: the pretrained ones and a randomly initialised one of the same size.
ENCODERS = list(PRETRAINED) + ([f"random-{MODEL}"] if "random" in BASELINES else [])


wildcard_constraints:
    task="|".join(TASKS) or "no-task",
    encoder="|".join(ENCODERS),
    run="|".join(PRETRAINED),
    budget=r"frac[0-9.e-]+|k[0-9]+",


def encoder_weights(wildcards):
    if wildcards.encoder in PRETRAINED:
        return f"{RESULTS}/pretrain/{wildcards.encoder}/encoder.pt"
    return f"{RESULTS}/baselines/{wildcards.encoder}/encoder.pt"


def task_source(wildcards):
    """The task's label file: under the data set's root, or the run's manifest."""
    source = TASKS[wildcards.task]["source"]
    if source is None:
        if TASKS[wildcards.task]["adapter"] == "csv":
            return f"data/manifests/{DATASET}.tsv"
        return SOURCE_ROOT
    return os.path.join(SOURCE_ROOT, source)


def task_args(wildcards, input):
    task = TASKS[wildcards.task]
    args = [task["adapter"], input[0], "--seed", str(config["dataset"]["seed"])]
    if task["adapter"] == "csv":
        args += ["--task-name", task["name"], "--kind", str(task["kind"])]
        args += ["--label-columns", *(task["label_columns"] or [])]
    options = dict(task["options"])
    if options.get("folds"):  # a file of the data set, like the source
        options["folds"] = os.path.join(SOURCE_ROOT, options["folds"])
    return shlex.join(args + cli_options(options))


def label_budgets(task=None):
    """Low-label and few-shot budgets: path suffix -> the training options that set it (k per
    class only where the task has classes)."""
    low = config["downstream"]["low_label"]
    budgets = {f"frac{share:g}": {"fraction": share} for share in low["fractions"]}
    if task is None or not is_regression(TASKS[task]):
        budgets |= {f"k{k}": {"k_per_class": k} for k in low["k_per_class"]}
    return budgets


def is_regression(task):
    return task.get("kind") == "regression" or task["adapter"] == "cmu_mosei_sentiment"


def downstream_options(protocol, budget=None):
    settings = {
        **config["downstream"][protocol],
        "seeds": config["downstream"]["seeds"],
    }
    if budget is not None:
        settings |= {"fraction": None, "k_per_class": None, **label_budgets()[budget]}
    return cli_options(settings)


def contact_sheets(wildcards=None):
    return expand(
        f"{RESULTS}/contact_sheets/{{id}}.png",
        id=IDS[: config["report"]["contact_sheets"]],
    )


def downstream_metrics(wildcards=None):
    full = [
        f"{RESULTS}/downstream/{task}/{protocol}/{encoder}/metrics.json"
        for task in TASKS
        for protocol in config["downstream"]["protocols"]
        for encoder in ENCODERS
    ]
    return full + [
        f"{RESULTS}/downstream/{task}/{protocol}-{budget}/{encoder}/metrics.json"
        for task in TASKS
        for protocol in config["downstream"]["low_label"]["protocols"]
        for budget in label_budgets(task)
        for encoder in ENCODERS
    ]


# Written instead of task tables and results where a data set has no downstream tasks.
NO_TASK_NOTES = [
    f"{RESULTS}/{folder}/NO_TASKS.txt" for folder in ("tasks", "downstream")
]


def final_outputs():
    reports = [
        f"{RESULTS}/report",
        f"{RESULTS}/metrics.json",
        f"{RESULTS}/wandb_report.json",
    ]
    return reports + ([] if TASKS else NO_TASK_NOTES)
