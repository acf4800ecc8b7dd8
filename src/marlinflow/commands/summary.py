"""Summarise a stage's video records: usable or not, why, and each video's statistics (a run).

Writes the stage's summary TSV and records it as the tracked run ``summarize_<stage>``
(:func:`marlinflow.report.stage_summary.summarize_stage`), then lists the unusable videos.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from marlinflow.report.stage_summary import summarize_stage
from marlinflow.stages import record_paths


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "records",
        nargs="+",
        type=Path,
        help="stage records (*.status.json), folders of them, or shard lists (.txt)",
    )
    parser.add_argument("--out", type=Path, required=True, help="summary TSV to write")
    parser.add_argument(
        "--run-dir",
        type=Path,
        help="folder of the tracked run (default OUT's folder/runs/summarize_<stage>)",
    )


def run(args: argparse.Namespace) -> int:
    table = summarize_stage(record_paths(args.records), args.out, args.run_dir)
    bad = table[~table["ok"]]
    print(f"{args.out}: {len(table) - len(bad)} usable, {len(bad)} not")
    for row in bad.itertuples():
        print(f"  {row.id}: {row.reason}")
    return 0
