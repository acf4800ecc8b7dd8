"""Draw the face-part label maps of one video's face track (``<id>.npz``) and its stage record.

``marlinflow parse IN OUT_STATUS``: IN is the track stage's record (``faces/<id>.status.json``)
or a track JSON with its clip ``<id>.mp4`` beside it; see :mod:`marlinflow.face.parsing_step`.
The settings are the config's ``parse`` section, and the pretraining mask settings and model
at which the record's visible-token composition is measured.
"""

from __future__ import annotations

import argparse
import logging

from marlinflow.commands import _flags
from marlinflow.face.parsing_step import MEASURED_AT, ParseSettings, parse_video

log = logging.getLogger(__name__)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("source", metavar="IN", help="track stage record or track JSON")
    parser.add_argument("out_status", metavar="OUT_STATUS", help="<dir>/<id>.status.json to write")
    measured = (*MEASURED_AT, "model")
    _flags.add_arguments(parser, ParseSettings, exclude=measured)
    composition = parser.add_argument_group(
        "visible-token composition",
        "the pretraining settings (pretrain section, model) at which the record measures the "
        "share of background, skin and facial parts among the visible tokens",
    )
    _flags.add_arguments(composition, ParseSettings, only=measured)


def run(args: argparse.Namespace) -> int:
    record = parse_video(args.source, args.out_status, ParseSettings.from_args(args))
    log.info("parse %s: ok=%s %s", record.id, record.ok, record.reason)
    return 0
