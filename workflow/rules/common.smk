# Shared definitions: the validated config, the data set's manifest, paths and input functions.
import os
import shlex

from snakemake.exceptions import WorkflowError

from marlinflow.config import cli_options, validate_config
from marlinflow.datasets import build_manifest, source_root
from marlinflow.errors import InputError
from marlinflow.tracking import start_pipeline

try:
    validate_config(config, "config")
    MANIFEST = build_manifest(config["dataset"]).set_index("id", drop=False)
except InputError as err:
    raise WorkflowError(str(err)) from None

DATASET = config["dataset"]["name"]
# One W&B group for every job of this invocation, passed to them in the environment.
TRACKING = start_pipeline(config["tracking"], DATASET)
IDS = list(MANIFEST.index)
RAW = f"data/raw/{DATASET}"
RESULTS = f"results/{DATASET}"
LOGS = f"logs/{DATASET}"
SOURCE_ROOT = source_root(config["dataset"])
# The software of every rule: the project's own environment (used with --sdm conda).
CONDA_ENV = os.path.join(workflow.basedir, "environment.yml")


wildcard_constraints:
    id=r"[A-Za-z0-9_-][A-Za-z0-9_.-]*",


def is_remote(source):
    return "://" in source or (
        not os.path.sep in source
        and not os.path.splitext(source)[1]
        and len(source) == 11
    )


def local_source(wildcards):
    """A local source is an input, so Snakemake waits for it (the sample) and sees it change.

    A missing one is left to the download step, which records it as unusable: one bad row must
    not stop the run.
    """
    source = MANIFEST.loc[wildcards.id, "source"]
    if is_remote(source):
        return []
    path = os.path.join(SOURCE_ROOT, source)
    return (
        [path]
        if config["dataset"]["builder"] == "sample" or os.path.exists(path)
        else []
    )


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


def raw_records(wildcards=None):
    return expand(f"{RAW}/{{id}}.status.json", id=IDS)


def final_outputs():
    return [f"{RESULTS}/download_summary.tsv"]
