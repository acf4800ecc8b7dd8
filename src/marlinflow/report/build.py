"""Build the local HTML report of a results folder (tables, curves, masks, embeddings, skipped videos).

``marlinflow report results/<ds> --out results/<ds>/report/index.html`` writes the page, its
figures in ``figures/`` beside it and ``results.tsv`` (every downstream number). The page needs
no network: a person can copy the folder anywhere and open it.
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
from marlinflow.report.sections import Inputs, all_sections
from marlinflow.tracking import TrackedRun, track_run

log = logging.getLogger(__name__)


def default_parsing(results: Path) -> Path:
    """``results/<ds>`` -> ``data/interim/<ds>/parsing`` beside ``results/``."""
    return results.parent.parent / "data" / "interim" / results.name / "parsing"


def build_report(inputs: Inputs, out_html: Path) -> Path:
    """Write the page and its figures; returns the page's path."""
    if not inputs.results.is_dir():
        raise InputError(inputs.results, "results folder not found")
    inputs.out_dir.mkdir(parents=True, exist_ok=True)
    sections = all_sections(inputs)
    missing = [s.title for s in sections if s.note]
    if missing:
        log.info("sections without inputs: %s", ", ".join(missing))
    title = f"MARLIN results: {inputs.results.name}"
    intro = f"Data set {inputs.results.name}; results from {inputs.results}."
    with atomic_path(out_html) as tmp:
        tmp.write_text(page(title, intro, sections), encoding="utf-8")
    return out_html


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("results", type=Path, help="the data set's results folder (results/<ds>)")
    parser.add_argument(
        "--out", type=Path, help="page to write (default RESULTS/report/index.html)"
    )
    parser.add_argument("--parsing", type=Path,
                        help="parse stage records (default data/interim/<ds>/parsing)")  # fmt: skip
    parser.add_argument("--root", type=Path,
                        help="folder the paths in stage records are relative to (default: the "
                        "one holding results/)")  # fmt: skip
    parser.add_argument("--mask-videos", type=int, default=3, help="videos in the mask figure")
    parser.add_argument("--contact-sheets", type=int, default=4, help="contact sheets shown")
    parser.add_argument("--metrics-out", type=Path,
                        help="also write the headline numbers as one JSON (DVC's metrics file)")  # fmt: skip


def record_results(tracked: TrackedRun, results_tsv: Path) -> None:
    """The run's results table (every downstream number) and its size, when there is one."""
    if not results_tsv.is_file():
        tracked.summarize({"results_rows": 0})
        return
    long = pd.read_csv(results_tsv, sep="\t")
    tracked.log_table("results", long, step=0)
    tracked.summarize({"results_rows": len(long), "tasks": long["task"].nunique(),
                       "encoders": long["encoder"].nunique()})  # fmt: skip


def collect_metrics(results: Path) -> dict:
    """The run's headline numbers as one nested document (what ``dvc metrics show`` reads):
    each pretraining run's losses and speed, and each downstream result's main metrics, mean
    and std over seeds, by task, protocol and encoder."""
    document: dict = {"pretrain": {}, "downstream": {}}
    for run_dir in sorted((results / "pretrain").glob("*/metrics.json")):
        summary = json.loads(run_dir.read_text())
        keys = ("iterations", "best_val_loss_rec", "clips_per_s_mean")
        document["pretrain"][run_dir.parent.name] = {k: summary.get(k) for k in keys}
    for row in tables.downstream_results(results).itertuples():
        cell = document["downstream"].setdefault(row.task, {}).setdefault(row.protocol, {})
        values = {"mean": row.mean, "std": row.std}  # NaN (undefined) as null: strict JSON
        cell.setdefault(row.encoder, {})[row.metric] = {
            k: float(v) if math.isfinite(v) else None for k, v in values.items()
        }
    return document


def run(args: argparse.Namespace) -> int:
    """Build the page as the tracked run ``report_html`` (recorded beside the page)."""
    out = args.out or args.results / "report" / "index.html"
    inputs = Inputs(results=args.results, parsing=args.parsing or default_parsing(args.results),
                    out_dir=out.parent, root=args.root or args.results.parent.parent, mask_videos=args.mask_videos,
                    contact_sheets=args.contact_sheets)  # fmt: skip
    config = {"results": args.results, "parsing": inputs.parsing, "out": out,
              "mask_videos": args.mask_videos, "contact_sheets": args.contact_sheets}  # fmt: skip
    try:
        with track_run("report_html", config, out_dir=out.parent) as tracked:
            build_report(inputs, out)
            record_results(tracked, out.parent / "results.tsv")
            if args.metrics_out:
                write_json(args.metrics_out, collect_metrics(args.results))
    except InputError as err:
        log.error("%s", err)
        return 2
    print(f"{out}: report written")
    return 0
