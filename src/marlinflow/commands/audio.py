"""Read one video's sound onto its face clip's frame clock (``<id>.npz``) and write its record.

``marlinflow audio SOURCE TRACK_STATUS OUT_STATUS``: SOURCE is the video the face clip was cut
from (or the download stage's record naming it), TRACK_STATUS the track stage's record; see
:mod:`marlinflow.audio.step`. A video without sound, or with less sound than frames, gets a
record with the category ``no_audio``.
"""

from __future__ import annotations

import argparse
import logging

log = logging.getLogger(__name__)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("source", metavar="SOURCE", help="source video or download stage record")
    parser.add_argument("track_status", metavar="TRACK_STATUS", help="track stage record")
    parser.add_argument("out_status", metavar="OUT_STATUS", help="<dir>/<id>.status.json to write")


def run(args: argparse.Namespace) -> int:
    from marlinflow.audio.step import audio_step

    record = audio_step(args.source, args.track_status, args.out_status)
    log.info("audio %s: ok=%s %s", record.id, record.ok, record.reason)
    return 0
