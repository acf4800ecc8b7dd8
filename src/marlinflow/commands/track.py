"""Track the main face of one video: its aligned face clip, face track and stage record.

``marlinflow track IN OUT_STATUS``: IN is a video (file or frame folder) or the previous stage's
record; see :mod:`marlinflow.face.track_step`. The settings are the config's ``track`` section,
and ``--fps`` (``dataset.fps``) the rate a variable-frame-rate video's clip is resampled to.
``marlinflow track IN.txt OUT.txt --into DIR --workers N`` tracks a shard: every video of the
download records IN lists (:mod:`marlinflow.shards`).
"""

from __future__ import annotations

import argparse
import logging

from marlinflow.commands import _flags, _shard
from marlinflow.face.pipeline import TrackConfig
from marlinflow.face.track_step import track_one, track_shard

log = logging.getLogger(__name__)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "source", metavar="IN", help="video file, frame folder, stage record or shard list"
    )
    parser.add_argument(
        "out_status", metavar="OUT_STATUS", help="<dir>/<id>.status.json, or a shard list"
    )
    _flags.add_arguments(parser, TrackConfig)
    _flags.add_setting(parser, "dataset.fps")
    _shard.add_arguments(parser)


def run(args: argparse.Namespace) -> int:
    config = TrackConfig.from_args(args)
    if _shard.check(args, args.source, args.out_status):
        track_shard(args.source, args.out_status, args.into, config, args.fps, args.workers)
        return 0
    record = track_one(args.source, args.out_status, config, args.fps)
    log.info("track %s: ok=%s %s", record.id, record.ok, record.reason)
    return 0
