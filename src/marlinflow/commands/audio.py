"""Read one video's sound onto its face clip's frame clock (``<id>.npz``) and write its record.

``marlinflow audio SOURCE TRACK_STATUS OUT_STATUS``: SOURCE is the video the face clip was cut
from (or the download stage's record naming it), TRACK_STATUS the track stage's record; see
:mod:`marlinflow.audio.step`. A video without sound, or with less sound than frames, gets a
record with the category ``no_audio``.
``marlinflow audio DOWNLOAD.txt TRACK.txt OUT.txt --into DIR --workers N`` runs a shard: every
video of the track records TRACK.txt lists, with its sound from the download records of
DOWNLOAD.txt (:mod:`marlinflow.shards`).
"""

from __future__ import annotations

import argparse
import logging

from marlinflow.commands import _shard
from marlinflow.errors import InputError

log = logging.getLogger(__name__)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("source", metavar="SOURCE", help="source video or download stage record")
    parser.add_argument("track_status", metavar="TRACK_STATUS", help="track stage record")
    parser.add_argument(
        "out_status", metavar="OUT_STATUS", help="<dir>/<id>.status.json to write, or a shard list"
    )
    _shard.add_arguments(parser)


def run(args: argparse.Namespace) -> int:
    from marlinflow.audio.step import audio_shard, audio_step

    if _shard.check(args, args.source, args.out_status):
        if not _shard.is_list(args.track_status):
            raise InputError(args.track_status, "a shard's TRACK_STATUS is a list too")
        result = audio_shard(
            args.source, args.track_status, args.out_status, args.into, args.workers
        )
        log.info("audio %s: %d of %d usable", args.out_status, result.usable, len(result.records))
        return 0
    record = audio_step(args.source, args.track_status, args.out_status)
    log.info("audio %s: ok=%s %s", record.id, record.ok, record.reason)
    return 0
