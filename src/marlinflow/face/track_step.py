"""Track the main face of one video and write its aligned 224x224 face clip and face track.

:func:`track_step` (the ``track`` verb): IN is a video (file or frame folder) or the previous stage's
record (``<id>.status.json`` whose outputs name the ``video``). Writes ``<id>.mp4`` (the face
clip, one crop per source frame) and ``<id>.json`` (boxes, landmarks in crop pixels, presence)
beside OUT_STATUS, then the record: outputs ``video`` and ``track``; stats frames, face fraction,
tracks, face size, jitter and frames processed per second; or the reason the video was dropped
(unreadable, too short, no face, face too small).
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

from marlinflow import shards
from marlinflow.errors import InputError
from marlinflow.face.detect import MissingWeightsError, make_detector
from marlinflow.face.pipeline import TrackConfig, track_video
from marlinflow.stages import StageRecord, is_status_path, run_stage, sibling

log = logging.getLogger(__name__)


def track_step(
    source: str | Path,
    out_status: str | Path,
    config: TrackConfig | None = None,
    fps: float | None = None,
) -> StageRecord:
    """Run the track stage for one video and write its record, whatever becomes of the video.

    ``fps``: the rate a variable-frame-rate video's clip is resampled to (None: its average)."""
    config = config or TrackConfig()
    out_video, out_track = sibling(out_status, ".mp4"), sibling(out_status, ".json")

    def work(inputs: dict[str, str]) -> tuple[dict[str, str], dict[str, Any]]:
        video = _video_of(source, inputs)
        # built here, not before: a skipped video costs no model loading; a missing model
        # (MissingWeightsError) is not the video's fault and propagates without a record
        detector = make_detector(config.backend, config.detect_size)
        stats = track_video(video, out_video, out_track, config, detector, fps)
        return {"video": str(out_video), "track": str(out_track)}, stats

    upstream = source if is_status_path(source) else None
    return run_stage("track", upstream, out_status, work)


def track_one(
    source: str | Path, out_status: str | Path, config: TrackConfig, fps: float | None
) -> StageRecord:
    """:func:`track_step`, with a face model missing said as an :class:`InputError` naming the
    backend: the setup's fault, not the video's (no record is written)."""
    try:
        return track_step(source, out_status, config, fps)
    except MissingWeightsError as err:
        raise InputError(f"--backend {config.backend}", str(err)) from None


def track_shard(
    in_list: str | Path,
    out_list: str | Path,
    into: str | Path,
    config: TrackConfig | None = None,
    fps: float | None = None,
    workers: int = 1,
) -> shards.ShardResult:
    """Track every video of a shard (``in_list``: its download records, one path a line), each
    record written to ``into``, ``workers`` videos at a time; then the shard list ``out_list``
    (:func:`marlinflow.shards.run_shard`)."""
    config = config or TrackConfig()
    settings = {**config.to_dict(), "fps": fps}
    items = shards.chained_items("track", in_list, into, settings, config, fps)
    return shards.run_shard("track", track_one, items, out_list, workers)


def _video_of(source: str | Path, inputs: dict[str, str]) -> str | Path:
    """The video to track: IN itself, or the ``video`` output named by the upstream record."""
    if not is_status_path(source):
        return source
    if "video" not in inputs:
        raise InputError(source, "upstream record names no 'video' output")
    return inputs["video"]
