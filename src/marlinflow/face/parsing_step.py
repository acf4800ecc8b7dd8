"""Draw per-frame face-part label maps (FaRL-LaPa labels) for one video's face track.

:func:`parse_video` (the ``parse`` verb): IN is the track stage's record (``faces/<id>.status.json``,
whose outputs name the face clip ``video`` and the landmarks ``track``) or a track JSON with its
clip ``<id>.mp4`` beside it. Writes ``<id>.npz`` beside OUT_STATUS, then the record, whose
outputs are ``labels`` (the npz) and ``video`` (the face clip, passed on: pretraining reads both).
The npz also holds which labels each patch of the config's model's token grid touches, so the
pretraining loader draws Fasking masks without reading the maps.

The record's stats also say what pretraining will show the encoder of this video:
``visible_composition``, the share of background, skin and facial parts among the visible
tokens of the pretraining mask (:func:`marlinflow.masking.visible_composition`), measured at the
pretrain section's mask settings and the config's model (:data:`MEASURED_AT`), with
``crop_mode``, the track stage's crop, which decides most of it.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import numpy as np

from marlinflow import masking, shards
from marlinflow.config.settings import properties, section_schema, settings_class
from marlinflow.errors import InputError
from marlinflow.face.parsing import coverage_of_counts, rasterize_parts
from marlinflow.face.store import (
    CHUNK_FRAMES,
    PART_LABELS,
    FaceTrack,
    ParsingWriter,
    load_parsing,
)
from marlinflow.models.registry import ModelSize, resolve_size
from marlinflow.stages import StageRecord, is_status_path, run_stage, sibling
from marlinflow.video.io import VideoInfo, iter_frames, probe

log = logging.getLogger(__name__)
# The pretrain settings the visible composition is measured at; with the config's model.
MEASURED_AT = ("mask_strategy", "mask_ratio", "mask_balanced", "frame_stride")
ParseSettings = settings_class(
    "parse",
    "ParseSettings",
    extra={
        **{key: properties("pretrain")[key] for key in MEASURED_AT},
        "model": section_schema("model"),
    },
)


def parse_options(config: dict[str, Any]) -> dict[str, Any]:
    """The parse verb's settings from a whole (validated) config: its own section, and the
    pretraining mask and model that the visible composition is measured at."""
    measured = {key: config["pretrain"][key] for key in MEASURED_AT}
    return {**config["parse"], **measured, "model": config["model"]}


def parse_video(
    source: str | Path, out_status: str | Path, settings: ParseSettings | None = None
) -> StageRecord:
    """Parse one face track into ``<id>.npz`` beside ``out_status`` and write the stage record.

    A missing or unreadable FaRL weights file raises :class:`InputError` before any record is
    written: it is a setup problem, not a property of the video.
    """
    settings = settings or ParseSettings()
    try:
        size = resolve_size(settings.model)
    except (KeyError, ValueError) as err:  # a setup problem, like the weights below
        raise InputError("model", str(err).strip("'\"")) from err
    farl = None
    if settings.backend == "farl":
        from marlinflow.face.parsing_farl import FarlParser

        farl = FarlParser(settings.weights, settings.device)
    out_npz = sibling(out_status, ".npz")

    def work(inputs: dict[str, str]) -> tuple[dict[str, str], dict[str, Any]]:
        track_path, video_path = _track_and_clip(source, inputs)
        return _parse(track_path, video_path, out_npz, farl, size, settings)

    upstream = source if is_status_path(source) else None
    return run_stage("parse", upstream, out_status, work)


def parse_shard(
    in_list: str | Path,
    out_list: str | Path,
    into: str | Path,
    settings: ParseSettings | None = None,
    workers: int = 1,
) -> shards.ShardResult:
    """Parse every video of a shard (``in_list``: its track records, one path a line), each
    record written to ``into``, ``workers`` videos at a time; then the shard list ``out_list``
    (:func:`marlinflow.shards.run_shard`)."""
    settings = settings or ParseSettings()
    items = shards.chained_items("parse", in_list, into, settings.to_dict(), settings)
    return shards.run_shard("parse", parse_video, items, out_list, workers)


def _track_and_clip(source: str | Path, inputs: dict[str, str]) -> tuple[Path, Path]:
    if not is_status_path(source):
        return Path(source), Path(source).with_suffix(".mp4")
    missing = {"track", "video"} - set(inputs)
    if missing:
        raise InputError(source, f"track record names no {sorted(missing)} output")
    return Path(inputs["track"]), Path(inputs["video"])


def _parse(
    track_path: Path,
    video_path: Path,
    out_npz: Path,
    farl,
    size: ModelSize,
    settings: ParseSettings,
) -> tuple[dict, dict]:
    track = FaceTrack.load(track_path)
    info = probe(video_path)
    _check_pair(track, track_path, info)
    # a frame counts as a face only with usable landmarks: the rest is drawn as background
    track.present = track.present & np.isfinite(track.landmarks).all(axis=(1, 2))
    counts = np.zeros(len(PART_LABELS), np.int64)
    with ParsingWriter(out_npz) as writer:
        for labels, present in _label_chunks(track, info, video_path, farl):
            patches = masking.pack_presence(masking.presence_of_maps(labels, size.grid[1:]))
            writer.add(labels, present, patches)  # patches: what the loader's Fasking reads
            counts += np.bincount(labels[present].ravel(), minlength=len(PART_LABELS))
    stats = {
        "backend": "landmarks" if farl is None else "farl",
        "frames": len(track),
        "size": info.width,
        "face_fraction": round(float(np.mean(track.present)) if len(track) else 0.0, 4),
        "bytes_per_frame": round(out_npz.stat().st_size / max(len(track), 1), 1),
        "label_coverage": coverage_of_counts(counts),
        "crop_mode": track.meta.get("crop_mode", "unknown"),
        "visible_composition": composition(out_npz, len(track), size, settings),
        "composition_mask": measured_at(size, settings),
    }
    return {"labels": str(out_npz), "video": str(video_path)}, stats


def measured_at(size: ModelSize, settings: ParseSettings) -> str:
    """The mask the composition is measured at, in words: ``fasking 0.9, 8x14x14 tokens``."""
    grid = "x".join(map(str, size.grid))
    balanced = ", balanced" if settings.mask_balanced else ""
    return f"{settings.mask_strategy} {settings.mask_ratio:g}{balanced}, {grid} tokens"


def composition(
    labels_path: Path, n_frames: int, size: ModelSize, settings: ParseSettings
) -> dict[str, float]:
    """:func:`marlinflow.masking.visible_composition` of a parsing file at ``size``'s token grid,
    reading only the frames that begin a tubelet of the clips it measures ({} without frames)."""
    if n_frames == 0:
        return {}
    firsts = masking.composition_frames(
        n_frames, size.grid, size.tubelet, settings.frame_stride
    )  # (clips, t)
    frames, where = np.unique(firsts, return_inverse=True)
    labels, present = load_parsing(labels_path, frames=frames)
    where = where.reshape(firsts.shape)
    shares = masking.visible_composition(
        labels[where],
        present[frames][where],
        size.grid,
        settings.mask_ratio,
        settings.mask_strategy,
        settings.mask_balanced,
    )
    return {name: round(share, 4) for name, share in shares.items()}


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
