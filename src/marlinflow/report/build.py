"""Build the local HTML report of an experiment from its plan (tables, curves, masks, embeddings,
skipped videos).

``marlinflow report results/experiments/<exp>/plan.json --out <exp>/report/index.html
--metrics-out <exp>/metrics.json`` writes the page, its figures in ``figures/`` beside it,
``results.tsv`` (every downstream number) and ``differences.tsv`` (the paired comparisons). Every
input comes from a path the plan lists (relative to ``--root``, the folder the workflow runs
in); nothing is globbed. The page needs no network: the folder can be copied anywhere.
"""

from __future__ import annotations

import argparse
import json
import logging
import math
from pathlib import Path

import pandas as pd

from marlinflow.atomic import atomic_path, write_json
from marlinflow.errors import InputError
from marlinflow.report import tables
from marlinflow.report.html import page
from marlinflow.report.inputs import Inputs
from marlinflow.report.plan import SAMPLE_BANNER, Plan, load_plan
from marlinflow.report.sections import all_sections
from marlinflow.tracking import TrackedRun, track_run

log = logging.getLogger(__name__)

__all__ = ["Inputs", "build_report", "collect_metrics", "run"]


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
    intro = (f"Experiment {plan.name}, reference encoder {plan.reference or 'none'}; every input "
             f"is listed in {plan.source}.")  # fmt: skip
    banner = SAMPLE_BANNER if plan.sample else ""
    with atomic_path(out_html) as tmp:
        tmp.write_text(page(title, intro, sections, banner), encoding="utf-8")
    return out_html


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("plan", type=Path, help="the experiment's plan.json")
    parser.add_argument("--out", type=Path, required=True, help="page to write (index.html)")
    parser.add_argument("--root", type=Path, default=Path("."),
                        help="folder the plan's paths are relative to (default: .)")  # fmt: skip
    parser.add_argument("--metrics-out", type=Path,
                        help="also write the headline numbers as one JSON (DVC's metrics file)")  # fmt: skip


def record_results(tracked: TrackedRun, results_tsv: Path) -> None:
    """The run's results table (every downstream number) and its size, when there is one."""
    if not results_tsv.is_file():
        tracked.summarize({"results_rows": 0})
        return
    long = pd.read_csv(results_tsv, sep="\t")
    tracked.log_table("results", long, step=0)
    tracked.summarize({"results_rows": len(long), "datasets": long["dataset"].nunique(),
                       "tasks": long["task"].nunique(),
                       "encoders": long["encoder"].nunique()})  # fmt: skip


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
    return document


def run(args: argparse.Namespace) -> int:
    """Build the page as the tracked run ``report_html`` (recorded beside the page)."""
    config = {"plan": args.plan, "root": args.root, "out": args.out,
              "metrics_out": args.metrics_out}  # fmt: skip
    try:
        plan = load_plan(args.plan, args.root)
        with track_run("report_html", config, out_dir=args.out.parent) as tracked:
            build_report(Inputs(plan, args.out.parent), args.out)
            record_results(tracked, args.out.parent / "results.tsv")
            if args.metrics_out:
                write_json(args.metrics_out, collect_metrics(plan))
    except InputError as err:
        log.error("%s", err)
        return 2
    print(f"{args.out}: report written")
    return 0
