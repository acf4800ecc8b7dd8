"""Draw the face-part label maps of one video's face track (``<id>.npz``) and its stage record.

``marlinflow parse IN OUT_STATUS``: IN is the track stage's record (``faces/<id>.status.json``)
or a track JSON with its clip ``<id>.mp4`` beside it; see :mod:`marlinflow.face.parsing_step`.
The settings are the config's ``parse`` section.
"""

from __future__ import annotations

import argparse
import logging

from marlinflow.commands import _flags
from marlinflow.face.parsing_step import ParseSettings, parse_video

log = logging.getLogger(__name__)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("source", metavar="IN", help="track stage record or track JSON")
    parser.add_argument("out_status", metavar="OUT_STATUS", help="<dir>/<id>.status.json to write")
    _flags.add_arguments(parser, ParseSettings)


def run(args: argparse.Namespace) -> int:
    record = parse_video(args.source, args.out_status, ParseSettings.from_args(args))
    log.info("parse %s: ok=%s %s", record.id, record.ok, record.reason)
    return 0
