"""Draw a video's contact sheet (face crops with their part labels), or why it has none.

Reads the video's parse stage record (:func:`marlinflow.face.contact.record_sheet`).
"""

from __future__ import annotations

import argparse
from pathlib import Path

from marlinflow.face.contact import record_sheet


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("record", type=Path, help="parse stage record (<id>.status.json)")
    parser.add_argument("out_png", type=Path, help="PNG to write")
    parser.add_argument("--frames", type=int, default=12, help="crops on the sheet")
    parser.add_argument("--cols", type=int, default=6, help="crops per row")


def run(args: argparse.Namespace) -> int:
    record_sheet(args.record, args.out_png, args.frames, args.cols)
    return 0
