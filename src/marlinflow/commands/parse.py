"""Draw the face-part label maps of one video's face track (``<id>.npz``) and its stage record.

``marlinflow parse IN OUT_STATUS``: IN is the track stage's record (``faces/<id>.status.json``)
or a track JSON with its clip ``<id>.mp4`` beside it; see :mod:`marlinflow.face.parsing_step`.
The settings are the config's ``parse`` section, and the pretraining mask settings and model
at which the record's visible-token composition is measured. ``marlinflow parse IN.txt OUT.txt
--into DIR --workers N`` parses a shard: every video of the track records IN lists
(:mod:`marlinflow.shards`).
"""

from __future__ import annotations

import argparse
import logging

from marlinflow.commands import _flags, _shard
from marlinflow.face.parsing_step import MEASURED_AT, ParseSettings, parse_shard, parse_video

log = logging.getLogger(__name__)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("source", metavar="IN", help="track stage record, track JSON or shard list")
    parser.add_argument(
        "out_status", metavar="OUT_STATUS", help="<dir>/<id>.status.json, or a shard list"
    )
    measured = (*MEASURED_AT, "model")
    _flags.add_arguments(parser, ParseSettings, exclude=measured)
    composition = parser.add_argument_group(
        "visible-token composition",
        "the pretraining settings (pretrain section, model) at which the record measures the "
        "share of background, skin and facial parts among the visible tokens",
    )
    _flags.add_arguments(composition, ParseSettings, only=measured)
    _shard.add_arguments(parser)


def run(args: argparse.Namespace) -> int:
    settings = ParseSettings.from_args(args)
    if _shard.check(args, args.source, args.out_status):
        parse_shard(args.source, args.out_status, args.into, settings, args.workers)
        return 0
    record = parse_video(args.source, args.out_status, settings)
    log.info("parse %s: ok=%s %s", record.id, record.ok, record.reason)
    return 0
