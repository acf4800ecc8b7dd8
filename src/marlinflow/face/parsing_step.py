"""Draw per-frame face-part label maps (FaRL-LaPa labels) for one video's face track.

:func:`parse_video` (the ``parse`` verb): IN is the track stage's record (``faces/<id>.status.json``,
whose outputs name the face clip ``video`` and the landmarks ``track``) or a track JSON with its
clip ``<id>.mp4`` beside it. Writes ``<id>.npz`` beside OUT_STATUS, then the record, whose
outputs are ``labels`` (the npz) and ``video`` (the face clip, passed on: pretraining reads both).
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import numpy as np

from marlinflow.config.settings import settings_class
from marlinflow.errors import InputError
from marlinflow.face.parsing import coverage_of_counts, rasterize_parts
from marlinflow.face.store import CHUNK_FRAMES, PART_LABELS, FaceTrack, ParsingWriter
from marlinflow.stages import StageRecord, is_status_path, run_stage, sibling
from marlinflow.video.io import VideoInfo, iter_frames, probe

log = logging.getLogger(__name__)
ParseSettings = settings_class("parse", "ParseSettings")


def parse_video(
    source: str | Path, out_status: str | Path, settings: ParseSettings | None = None
) -> StageRecord:
    """Parse one face track into ``<id>.npz`` beside ``out_status`` and write the stage record.

    A missing or unreadable FaRL weights file raises :class:`InputError` before any record is
    written: it is a setup problem, not a property of the video.
    """
    settings = settings or ParseSettings()
    farl = None
    if settings.backend == "farl":
        from marlinflow.face.parsing_farl import FarlParser

        farl = FarlParser(settings.weights, settings.device)
    out_npz = sibling(out_status, ".npz")

    def work(inputs: dict[str, str]) -> tuple[dict[str, str], dict[str, Any]]:
        track_path, video_path = _track_and_clip(source, inputs)
        return _parse(track_path, video_path, out_npz, farl)

    upstream = source if is_status_path(source) else None
    return run_stage("parse", upstream, out_status, work)


def _track_and_clip(source: str | Path, inputs: dict[str, str]) -> tuple[Path, Path]:
    if not is_status_path(source):
        return Path(source), Path(source).with_suffix(".mp4")
    missing = {"track", "video"} - set(inputs)
    if missing:
        raise InputError(source, f"track record names no {sorted(missing)} output")
    return Path(inputs["track"]), Path(inputs["video"])


def _parse(track_path: Path, video_path: Path, out_npz: Path, farl) -> tuple[dict, dict]:
    track = FaceTrack.load(track_path)
    info = probe(video_path)
    _check_pair(track, track_path, info)
    # a frame counts as a face only with usable landmarks: the rest is drawn as background
    track.present = track.present & np.isfinite(track.landmarks).all(axis=(1, 2))
    counts = np.zeros(len(PART_LABELS), np.int64)
    with ParsingWriter(out_npz) as writer:
        for labels, present in _label_chunks(track, info, video_path, farl):
            writer.add(labels, present)
            counts += np.bincount(labels[present].ravel(), minlength=len(PART_LABELS))
    stats = {
        "backend": "landmarks" if farl is None else "farl",
        "frames": len(track),
        "size": info.width,
        "face_fraction": round(float(np.mean(track.present)) if len(track) else 0.0, 4),
        "bytes_per_frame": round(out_npz.stat().st_size / max(len(track), 1), 1),
        "label_coverage": coverage_of_counts(counts),
    }
    return {"labels": str(out_npz), "video": str(video_path)}, stats


def _check_pair(track: FaceTrack, track_path: Path, info: VideoInfo) -> None:
    if info.width != info.height:
        raise InputError(info.path, f"face clip is {info.width}x{info.height}, not square")
    if info.n_frames != len(track):
        raise InputError(
            track_path,
            f"{len(track)} frames of landmarks for {info.n_frames} frames of {info.path}",
        )


def _label_chunks(track: FaceTrack, info: VideoInfo, video_path: Path, farl):
    """(labels, present) a chunk of frames at a time: memory bounded by a chunk, not the video."""
    if farl is None:
        for start in range(0, len(track), CHUNK_FRAMES):
            rows = slice(start, start + CHUNK_FRAMES)
            present = track.present[rows]
            yield rasterize_parts(track.landmarks[rows], info.width, present), present
        return
    batch, done = [], 0
    for frame in iter_frames(video_path):
        batch.append(frame)
        if len(batch) == farl.batch:
            yield (
                _farl_batch(farl, batch, track, done, video_path),
                track.present[done : done + len(batch)],
            )
            done, batch = done + len(batch), []
    if batch:
        yield (
            _farl_batch(farl, batch, track, done, video_path),
            track.present[done : done + len(batch)],
        )
        done += len(batch)
    if done != len(track):
        raise InputError(video_path, f"decodes to {done} frames, not {len(track)}")


def _farl_batch(farl, frames: list, track: FaceTrack, start: int, video: Path) -> np.ndarray:
    rows = slice(start, start + len(frames))
    if rows.stop > len(track):  # the header's frame count was checked; the decoder has the say
        raise InputError(video, f"decodes to more frames than its {len(track)} of landmarks")
    return farl(np.stack(frames), track.landmarks[rows], track.present[rows])
