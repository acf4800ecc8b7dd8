"""Track the main face of one video: its aligned face clip, face track and stage record.

``marlinflow track IN OUT_STATUS``: IN is a video (file or frame folder) or the previous stage's
record; see :mod:`marlinflow.face.track_step`. The settings are the config's ``track`` section,
and ``--fps`` (``dataset.fps``) the rate a variable-frame-rate video's clip is resampled to.
"""

from __future__ import annotations

import argparse
import logging

from marlinflow.commands import _flags
from marlinflow.errors import InputError
from marlinflow.face.detect import MissingWeightsError
from marlinflow.face.pipeline import TrackConfig
from marlinflow.face.track_step import track_step

log = logging.getLogger(__name__)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("source", metavar="IN", help="video file, frame folder or stage record")
    parser.add_argument("out_status", metavar="OUT_STATUS", help="<dir>/<id>.status.json to write")
    _flags.add_arguments(parser, TrackConfig)
    _flags.add_setting(parser, "dataset.fps")


def run(args: argparse.Namespace) -> int:
    config = TrackConfig.from_args(args)
    try:
        record = track_step(args.source, args.out_status, config, args.fps)
    except MissingWeightsError as err:  # the setup's fault, not the video's: no record
        raise InputError(f"--backend {config.backend}", str(err)) from None
    log.info("track %s: ok=%s %s", record.id, record.ok, record.reason)
    return 0
