"""Build the local HTML report of an experiment from its plan (tables, curves, masks, embeddings,
skipped videos).

:func:`write_report` (``marlinflow report results/experiments/<exp>/plan.json --out
<exp>/report/index.html --metrics-out <exp>/metrics.json``) writes the page, its figures in
``figures/`` beside it, ``results.tsv`` (every downstream number) and ``differences.tsv`` (the
paired comparisons). Every input comes from a path the plan lists (relative to ``root``, the
folder the workflow runs in); nothing is globbed. The page needs no network: the folder can be
copied anywhere.
"""

from __future__ import annotations

import json
import logging
import math
from pathlib import Path

import pandas as pd

from marlinflow.atomic import atomic_path, write_json
from marlinflow.report import tables
from marlinflow.report.html import page
from marlinflow.report.inputs import Inputs
from marlinflow.report.plan import SAMPLE_BANNER, Plan, load_plan
from marlinflow.report.sections import all_sections
from marlinflow.tracking import TrackedRun, track_run

log = logging.getLogger(__name__)

__all__ = ["Inputs", "build_report", "collect_metrics", "write_report"]


def build_report(inputs: Inputs, out_html: Path) -> Path:
    """Write the page and its figures; returns the page's path."""
    inputs.out_dir.mkdir(parents=True, exist_ok=True)
    for stale in ("results.tsv", "differences.tsv"):  # written again only if there are results
        (inputs.out_dir / stale).unlink(missing_ok=True)
    sections = all_sections(inputs)
    missing = [s.title for s in sections if s.note]
    if missing:
        log.info("sections without inputs: %s", ", ".join(missing))
    plan = inputs.plan
    title = f"MARLIN experiment: {plan.name}"
    intro = (
        f"Experiment {plan.name}, reference encoder {plan.reference or 'none'}; every input "
        f"is listed in {plan.source}."
    )
    banner = SAMPLE_BANNER if plan.sample else ""
    with atomic_path(out_html) as tmp:
        tmp.write_text(page(title, intro, sections, banner), encoding="utf-8")
    return out_html


def record_results(tracked: TrackedRun, results_tsv: Path) -> None:
    """The run's results table (every downstream number) and its size, when there is one."""
    if not results_tsv.is_file():
        tracked.summarize({"results_rows": 0})
        return
    long = pd.read_csv(results_tsv, sep="\t")
    tracked.log_table("results", long, step=0)
    tracked.summarize(
        {
            "results_rows": len(long),
            "datasets": long["dataset"].nunique(),
            "tasks": long["task"].nunique(),
            "encoders": long["encoder"].nunique(),
        }
    )


def finite(value) -> float | None:
    """NaN (undefined) as null: DVC reads strict JSON."""
    return float(value) if value is not None and math.isfinite(value) else None


def collect_metrics(plan: Plan) -> dict:
    """The experiment's headline numbers as one nested document (what ``dvc metrics show``
    reads): each pretrained encoder's losses and speed, and each downstream result's main
    metrics, mean and std over seeds, by data set, task, protocol and encoder."""
    document: dict = {"pretrain": {}, "downstream": {}}
    for name, run_dir in plan.pretrained().items():
        try:
            summary = json.loads((run_dir / "metrics.json").read_text())
        except (OSError, ValueError):
            log.info("no pretraining summary yet: %s", run_dir / "metrics.json")
            continue
        keys = ("iterations", "best_val_loss_rec", "clips_per_s_mean")
        values = {k: summary.get(k) for k in keys}
        document["pretrain"][name] = {  # a NaN (no timed iteration yet) as null, too
            k: finite(v) if isinstance(v, float) else v for k, v in values.items()
        }
    for row in tables.downstream_results(plan).itertuples():
        cell = document["downstream"].setdefault(row.dataset, {}).setdefault(row.task, {})
        metrics = cell.setdefault(row.protocol, {}).setdefault(row.encoder, {})
        metrics[row.metric] = {"mean": finite(row.mean), "std": finite(row.std)}
    if plan.lipsync:
        document["lipsync"] = lipsync_metrics(plan)
    return document


def lipsync_metrics(plan: Plan) -> dict:
    """Lip sync by data set and encoder: the expert's held-out accuracies and, where a
    generator was scored, LSE-D / LSE-C (with whether SyncNet had real weights) and FID."""
    from marlinflow.report.parts_lipsync import lipsync_table

    inputs = Inputs(plan, Path("."))
    names = {
        "sync acc": "sync_accuracy",
        "offset acc": "offset_accuracy",
        "LSE-D": "lse_d",
        "LSE-C": "lse_c",
        "FID": "fid",
    }
    document: dict = {}
    for dataset in plan.lipsync:
        for row in lipsync_table(inputs, dataset).to_dict("records"):
            values = {key: finite(row[column]) for column, key in names.items()}
            if row["SyncNet"]:
                values["syncnet_real"] = not row["SyncNet"].startswith("RANDOM")
            document.setdefault(dataset, {})[row["encoder"]] = values
    return document


def write_report(
    plan_path: Path, out: Path, root: Path = Path("."), metrics_out: Path | None = None
) -> Path:
    """Build the page ``out`` of the experiment planned in ``plan_path`` (its paths relative to
    ``root``) as the tracked run ``report_html``, recorded beside the page; with
    ``metrics_out``, also write the headline numbers there (:func:`collect_metrics`)."""
    config = {"plan": plan_path, "root": root, "out": out, "metrics_out": metrics_out}
    plan = load_plan(plan_path, root)
    with track_run("report_html", config, out_dir=out.parent) as tracked:
        build_report(Inputs(plan, out.parent), out)
        record_results(tracked, out.parent / "results.tsv")
        if metrics_out:
            write_json(metrics_out, collect_metrics(plan))
    return out
