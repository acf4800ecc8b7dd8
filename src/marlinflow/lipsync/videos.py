"""The videos a lip-sync evaluation reads, as one table: each usable video's face clip, mel file,
source video (its sound) and face track (its frames' times), with its split.

The workflow writes the table once per data set from the audio stage's records
(``sync_videos.tsv``); the lip-sync verbs read one split of it (``--videos TABLE --split S``),
so that the expert, the generator and the scoring all see the same videos.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

import pandas as pd

from marlinflow.atomic import atomic_path
from marlinflow.errors import InputError
from marlinflow.stages import STATUS_SUFFIX, StageRecord, collect, record_paths

COLUMNS = ["id", "split", "clip", "mel", "source", "track"]


def sync_video_table(
    audio_records: list[str | Path],
    track_dir: str | Path,
    download_dir: str | Path,
    splits: Mapping[str, str],
) -> pd.DataFrame:
    """One row per video whose audio record is usable (records, folders or shard lists), in
    their order; the track and download records are ``<id>.status.json`` in their folders and
    ``splits`` maps ids to splits (the manifest's)."""
    rows = []
    for record in collect(record_paths(audio_records)):
        if not record.ok:
            continue
        track = StageRecord.load(Path(track_dir) / f"{record.id}{STATUS_SUFFIX}")
        download = StageRecord.load(Path(download_dir) / f"{record.id}{STATUS_SUFFIX}")
        rows.append(
            {
                "id": record.id,
                "split": splits[record.id],
                "clip": track.outputs["video"],
                "mel": record.outputs["mel"],
                "source": download.outputs["video"],
                "track": track.outputs["track"],
            }
        )
    return pd.DataFrame(rows, columns=COLUMNS)


def write_sync_videos(
    audio_records: list[str | Path],
    track_dir: str | Path,
    download_dir: str | Path,
    splits: Mapping[str, str],
    out: str | Path,
) -> Path:
    """:func:`sync_video_table` as a TSV file, written atomically."""
    table = sync_video_table(audio_records, track_dir, download_dir, splits)
    with atomic_path(out) as tmp:
        table.to_csv(tmp, sep="\t", index=False)
    return Path(out)


def read_sync_videos(path: str | Path, split: str) -> pd.DataFrame:
    """The rows of ``split``; a table without any is an :class:`InputError` (nothing to train
    or score on)."""
    try:
        table = pd.read_csv(path, sep="\t", dtype=str, keep_default_na=False)
    except (OSError, ValueError) as err:
        raise InputError(path, f"not a readable table of videos ({err})") from err
    missing = [c for c in COLUMNS if c not in table.columns]
    if missing:
        raise InputError(path, f"not a table of lip-sync videos: no column(s) {missing}")
    rows = table[table["split"] == split]
    if rows.empty:
        found = sorted(set(table["split"]))
        raise InputError(path, f"no usable video with sound in split {split!r} (splits: {found})")
    return rows.reset_index(drop=True)
