"""The per-video ``audio`` stage: the mel spectrogram of a video's sound on its face clip's clock.

IN is the track stage's record (its ``track`` output names the face track) and the source video
the clip was cut from (the face clip itself has no sound), or the download stage's record that
names it (its ``video`` output). Writes ``<id>.npz`` beside OUT_STATUS
(:class:`~marlinflow.audio.clock.AlignedMel`: ``mel``, ``frame_steps``, ``fps``), then the record:
outputs ``mel``; stats the seconds of audio, its start against the video's and the mel steps.
A video with no audio stream, or with less sound than frames, gets a record with the reason and
the category ``no_audio``; a video the track stage dropped gets ``skipped``.

:func:`audio_shard` runs the stage for a shard of videos (:mod:`marlinflow.shards`): it reads two
upstream lists, the shard's download records (the sound) and its track records (the clock).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from marlinflow import shards
from marlinflow.audio.clock import align_mel, clip_frame_times, read_audio
from marlinflow.errors import InputError
from marlinflow.face.store import FaceTrack
from marlinflow.stages import (
    STATUS_SUFFIX,
    StageRecord,
    is_status_path,
    record_paths,
    run_stage,
    sibling,
    video_id_of,
)


def audio_step(source: str | Path, track_status: str | Path, out_status: str | Path) -> StageRecord:
    """Run the audio stage for one video and write its record, whatever becomes of the video."""
    out_mel = sibling(out_status, ".npz")

    def work(inputs: dict[str, str]) -> tuple[dict[str, str], dict[str, Any]]:
        if "track" not in inputs:
            raise InputError(track_status, "upstream record names no 'track' output")
        track = FaceTrack.load(inputs["track"])
        video = _video_of(source)
        audio = read_audio(video)
        fps = float(track.meta["fps"])
        times = clip_frame_times(track.meta, len(track), audio.video_start)
        aligned = align_mel(audio, times, fps, video)
        aligned.save(out_mel)
        stats = {
            "audio_s": round(audio.seconds, 3),
            "audio_offset_s": round(audio.start - audio.video_start, 4),
            "mel_steps": int(aligned.mel.shape[1]),
            "frames": len(track),
        }
        return {"mel": str(out_mel)}, stats

    return run_stage("audio", track_status, out_status, work)


def _video_of(source: str | Path) -> str | Path:
    """The source video: SOURCE itself, or the ``video`` output of the download record."""
    if not is_status_path(source):
        return source
    record = StageRecord.load(source)
    if "video" not in record.outputs:
        raise InputError(source, "download record names no 'video' output")
    return record.outputs["video"]


def audio_items(
    download_list: str | Path, track_list: str | Path, into: str | Path
) -> list[shards.Item]:
    """The items of an audio shard: each video's download record (its sound) and track record
    (its clock), matched by id; the key covers both upstream records."""
    sources = {video_id_of(path): path for path in record_paths([download_list])}
    items = []
    for track in record_paths([track_list]):
        video_id = video_id_of(track)
        if video_id not in sources:
            raise InputError(download_list, f"no download record of {video_id} (in {track_list})")
        out_status = Path(into) / f"{video_id}{STATUS_SUFFIX}"
        source_key = shards.video_key("audio", {}, sources[video_id])
        key = shards.video_key("audio", {"download": source_key}, track)
        items.append(
            shards.Item(str(out_status), key, (str(sources[video_id]), str(track), str(out_status)))
        )
    return items


def audio_shard(
    download_list: str | Path,
    track_list: str | Path,
    out_list: str | Path,
    into: str | Path,
    workers: int = 1,
) -> shards.ShardResult:
    """Run the audio stage for every video of a shard (its download and track lists), each
    record written to ``into``; then the shard list ``out_list``."""
    items = audio_items(download_list, track_list, into)
    return shards.run_shard("audio", audio_step, items, out_list, workers)
