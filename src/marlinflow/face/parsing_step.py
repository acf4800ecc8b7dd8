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
from marlinflow.face.store import CHUNK_FRAMES, PART_LABELS, FaceTrack, ParsingWriter
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
    sampled = Sampled(len(track), size, settings)
    with ParsingWriter(out_npz) as writer:
        start = 0
        for labels, present in _label_chunks(track, info, video_path, farl):
            per_patch = patch_label_counts(labels, size.grid[1:])  # (n, h, w, labels)
            presence = np.moveaxis(per_patch > 0, -1, 1)  # (n, labels, h, w)
            writer.add(labels, present, masking.pack_presence(presence))  # what Fasking reads
            counts += per_patch[present].sum(axis=(0, 1, 2))
            sampled.keep(start, labels)
            start += len(labels)
        # measured while the writer still compresses the last labels in its thread
        shares = sampled.composition(track.present)
    stats = {
        "backend": "landmarks" if farl is None else "farl",
        "frames": len(track),
        "size": info.width,
        "face_fraction": round(float(np.mean(track.present)) if len(track) else 0.0, 4),
        "bytes_per_frame": round(out_npz.stat().st_size / max(len(track), 1), 1),
        "label_coverage": coverage_of_counts(counts),
        "crop_mode": track.meta.get("crop_mode", "unknown"),
        "visible_composition": shares,
        "composition_mask": measured_at(size, settings),
    }
    return {"labels": str(out_npz), "video": str(video_path)}, stats


def patch_label_counts(labels: np.ndarray, grid_hw: tuple[int, int]) -> np.ndarray:
    """Pixels of each label in each patch of each map: (n, S, S) -> (n, h, w, N_LABELS). Their
    sum over patches is the maps' label counts; where they are > 0, what the patch touches
    (:func:`marlinflow.masking.label_presence`)."""
    counts = [masking.patch_counts(frame, masking.N_LABELS, grid_hw) for frame in labels]
    return np.stack(counts) if counts else np.zeros((0, *grid_hw, masking.N_LABELS), np.int64)


def measured_at(size: ModelSize, settings: ParseSettings) -> str:
    """The mask the composition is measured at, in words: ``fasking 0.9, 8x14x14 tokens``."""
    grid = "x".join(map(str, size.grid))
    balanced = ", balanced" if settings.mask_balanced else ""
    return f"{settings.mask_strategy} {settings.mask_ratio:g}{balanced}, {grid} tokens"


class Sampled:
    """The maps of the frames that :func:`marlinflow.masking.visible_composition` measures
    (the first frame of each tubelet of its clips), kept as the chunks pass: a few MB, and
    no reading back of the file just written."""

    def __init__(self, n_frames: int, size: ModelSize, settings: ParseSettings):
        self.size, self.settings = size, settings
        firsts = masking.composition_frames(
            max(n_frames, 1), size.grid, size.tubelet, settings.frame_stride
        )  # (clips, t)
        self.frames, where = np.unique(firsts, return_inverse=True)
        self.where = where.reshape(firsts.shape)
        self.n_frames = n_frames
        self.labels: list[np.ndarray] = []

    def keep(self, start: int, labels: np.ndarray) -> None:
        """Keep the sampled frames among ``labels``, frames ``start ..`` of the video."""
        chosen = self.frames[(self.frames >= start) & (self.frames < start + len(labels))]
        self.labels.append(labels[chosen - start])

    def composition(self, present: np.ndarray) -> dict[str, float]:
        """The visible composition at the settings' mask and the size's grid ({} without frames)."""
        if self.n_frames == 0:
            return {}
        labels = np.concatenate(self.labels)
        shares = masking.visible_composition(
            labels[self.where],
            present[self.frames][self.where],
            self.size.grid,
            self.settings.mask_ratio,
            self.settings.mask_strategy,
            self.settings.mask_balanced,
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
