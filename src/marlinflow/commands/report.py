"""Build an experiment's local HTML report from its plan (tables, curves, masks, skipped videos).

The page, its figures, ``results.tsv`` and ``differences.tsv`` beside it, recorded as the
tracked run ``report_html`` (:func:`marlinflow.report.build.write_report`).
"""

from __future__ import annotations

import argparse
from pathlib import Path

from marlinflow.report.build import write_report


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("plan", type=Path, help="the experiment's plan.json")
    parser.add_argument("--out", type=Path, required=True, help="page to write (index.html)")
    parser.add_argument(
        "--root",
        type=Path,
        default=Path("."),
        help="folder the plan's paths are relative to (default: .)",
    )
    parser.add_argument(
        "--metrics-out",
        type=Path,
        help="also write the headline numbers as one JSON (DVC's metrics file)",
    )


def run(args: argparse.Namespace) -> int:
    write_report(args.plan, args.out, args.root, args.metrics_out)
    print(f"{args.out}: report written")
    return 0
