"""Track the main face of one video and write its aligned 224x224 face clip and face track.

``marlinflow track IN OUT_STATUS``: IN is a video (file or frame folder) or the previous stage's
record (``<id>.status.json`` whose outputs name the ``video``). Writes ``<id>.mp4`` (the face
clip, one crop per source frame) and ``<id>.json`` (boxes, landmarks in crop pixels, presence)
beside OUT_STATUS, then the record: outputs ``video`` and ``track``; stats frames, face fraction,
tracks, jitter and frames/s; or the reason the video was dropped (unreadable, too short, no face).
"""

from __future__ import annotations

import argparse
import logging
import sys
from dataclasses import fields
from pathlib import Path
from typing import Any

from marlinflow.errors import InputError
from marlinflow.face.align import MODES
from marlinflow.face.detect import BACKENDS, MissingWeightsError, make_detector
from marlinflow.face.pipeline import TrackConfig, track_video
from marlinflow.stages import StageRecord, is_status_path, run_stage, sibling

log = logging.getLogger(__name__)


def track_step(
    source: str | Path, out_status: str | Path, config: TrackConfig | None = None
) -> StageRecord:
    """Run the track stage for one video and write its record, whatever becomes of the video."""
    config = config or TrackConfig()
    out_video, out_track = sibling(out_status, ".mp4"), sibling(out_status, ".json")

    def work(inputs: dict[str, str]) -> tuple[dict[str, str], dict[str, Any]]:
        video = _video_of(source, inputs)
        # built here, not before: a skipped video costs no model loading; a missing model
        # (MissingWeightsError) is not the video's fault and propagates without a record
        detector = make_detector(config.backend, config.detect_size)
        stats = track_video(video, out_video, out_track, config, detector)
        return {"video": str(out_video), "track": str(out_track)}, stats

    upstream = source if is_status_path(source) else None
    return run_stage("track", upstream, out_status, work)


def _video_of(source: str | Path, inputs: dict[str, str]) -> str | Path:
    """The video to track: IN itself, or the ``video`` output named by the upstream record."""
    if not is_status_path(source):
        return source
    if "video" not in inputs:
        raise InputError(source, "upstream record names no 'video' output")
    return inputs["video"]


def add_arguments(parser: argparse.ArgumentParser) -> None:
    defaults = TrackConfig()
    parser.add_argument("source", metavar="IN", help="video file, frame folder or stage record")
    parser.add_argument("out_status", metavar="OUT_STATUS", help="<dir>/<id>.status.json to write")
    add = parser.add_argument
    add("--backend", choices=BACKENDS, default=defaults.backend, help="face detector + landmarks")
    add(
        "--detect-interval",
        type=int,
        default=defaults.detect_interval,
        help="frames between detections while a face is followed (default %(default)s)",
    )
    add(
        "--detect-size",
        type=int,
        default=defaults.detect_size,
        help="short side in pixels of the frame the detector sees (default %(default)s)",
    )
    add(
        "--crop-mode",
        choices=MODES,
        default=defaults.crop_mode,
        help="landmark similarity alignment, or MARLIN's official square-box rule",
    )
    add(
        "--margin",
        type=float,
        default=defaults.margin,
        help="similarity mode: widen the crop by this share (0.2: 20%% wider; default 0)",
    )
    add(
        "--min-face-fraction",
        type=float,
        default=defaults.min_face_fraction,
        help="drop the video when fewer frames than this have a face (default %(default)s)",
    )
    add(
        "--min-frames",
        type=int,
        default=defaults.min_frames,
        help="drop videos shorter than this (default %(default)s)",
    )
    add(
        "--smoothing",
        type=float,
        default=defaults.smoothing,
        help="seconds of the Savitzky-Golay window smoothing the crop; 0 turns it off",
    )
    add(
        "--size",
        type=int,
        default=defaults.size,
        help="side of the square face crops in pixels, even (default %(default)s)",
    )
    add(
        "--cut-threshold",
        type=float,
        default=defaults.cut_threshold,
        help="share of the colour histogram that changes at a scene cut (default %(default)s)",
    )
    add(
        "--max-gap",
        type=float,
        default=defaults.max_gap,
        help="seconds without a detected face that are bridged by interpolation",
    )


def config_from_args(args: argparse.Namespace) -> TrackConfig:
    names = {f.name for f in fields(TrackConfig)}
    return TrackConfig(**{k: v for k, v in vars(args).items() if k in names})


def run(args: argparse.Namespace) -> int:
    try:
        record = track_step(args.source, args.out_status, config_from_args(args))
    except MissingWeightsError as err:
        print(f"marlinflow track: {err}", file=sys.stderr)
        return 2
    log.info("track %s: ok=%s %s", record.id, record.ok, record.reason)
    return 0
