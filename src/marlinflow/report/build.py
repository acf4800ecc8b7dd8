"""Build the local HTML report of a results folder (tables, curves, masks, embeddings, skipped videos).

``marlinflow report results/<ds> --out results/<ds>/report/index.html`` writes the page, its
figures in ``figures/`` beside it and ``results.tsv`` (every downstream number). The page needs
no network: a person can copy the folder anywhere and open it.
"""

from __future__ import annotations

import argparse
import logging
from pathlib import Path

import pandas as pd

from marlinflow.atomic import atomic_path
from marlinflow.errors import InputError
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


def record_results(tracked: TrackedRun, results_tsv: Path) -> None:
    """The run's results table (every downstream number) and its size, when there is one."""
    if not results_tsv.is_file():
        tracked.summarize({"results_rows": 0})
        return
    long = pd.read_csv(results_tsv, sep="\t")
    tracked.log_table("results", long, step=0)
    tracked.summarize({"results_rows": len(long), "tasks": long["task"].nunique(),
                       "encoders": long["encoder"].nunique()})  # fmt: skip


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
    except InputError as err:
        log.error("%s", err)
        return 2
    print(f"{out}: report written")
    return 0
