"""Build an experiment's W&B Report (results, losses, metrics, skipped videos); save it online.

Writes the report's outline as JSON to ``--out`` whatever the tracking mode, and saves the
report to W&B when tracking is online
(:func:`marlinflow.report.wandb_report.write_wandb_report`).
"""

from __future__ import annotations

import argparse
from pathlib import Path

from marlinflow.report.wandb_report import write_wandb_report


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("plan", type=Path, help="the experiment's plan.json")
    parser.add_argument(
        "--results", type=Path, help="the local report's results table (<report>/results.tsv)"
    )
    parser.add_argument(
        "--root",
        type=Path,
        default=Path("."),
        help="folder the plan's paths are relative to (default: .)",
    )
    parser.add_argument("--group", help="this run's group (default: the workflow's)")
    parser.add_argument("--out", type=Path, required=True, help="outline of the report (JSON)")


def run(args: argparse.Namespace) -> int:
    url = write_wandb_report(args.plan, args.out, args.root, args.results, args.group)
    print(f"{args.out}: W&B report {'saved at ' + url if url else 'built (tracking not online)'}")
    return 0
