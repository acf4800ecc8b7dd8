"""Fetch one manifest video into data/raw and write its stage record.

:func:`download_video` (the ``download`` verb) writes ``<id>.<container>`` beside ``OUT_STATUS``
(``data/raw/<ds>/<id>.status.json``): ``<id>.mp4``, ``<id>.webm``, ``<id>.mkv`` ..., as the
fetched file's container is; the record's ``video`` output names it, and the track step reads it
from there. A source that cannot be fetched (404, removed, not a video,
checksum) makes the record not ok with the reason, so one bad video never stops a run.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from marlinflow import shards
from marlinflow.download.fetch import fetch
from marlinflow.download.http import RetryPolicy
from marlinflow.download.sources import Kind, resolve
from marlinflow.stages import STATUS_SUFFIX, StageRecord, run_stage, sibling

STAGE = "download"


def download_video(
    out_status: str | Path, source: str, policy: RetryPolicy, **options
) -> StageRecord:
    """Fetch ``source`` into ``<id>.<container>`` beside ``out_status`` and write its record.

    ``options`` are :func:`~marlinflow.download.fetch.fetch`'s: sha256, start, end, base, fps.
    """

    def work(_inputs: dict[str, str]):
        result = fetch(source, sibling(out_status, ".mp4"), policy=policy, **options)
        return {"video": str(result.path)}, result.stats()

    return run_stage(STAGE, None, out_status, work)


ROW_OPTIONS = ("sha256", "start", "end")  # a manifest row's own download options, when given


def download_shard(
    rows: str | Path,
    out_list: str | Path,
    into: str | Path,
    policy: RetryPolicy,
    base: str | None = None,
    fps: float | None = None,
    workers: int = 1,
) -> shards.ShardResult:
    """Fetch every video of a shard (``rows``: its manifest rows, a manifest TSV), each with its
    record in ``into``, ``workers`` at a time; then the shard list ``out_list``
    (:func:`marlinflow.shards.run_shard`).

    A record is kept while its row, the settings and, for a local file, the file's size and
    modification time are unchanged."""
    from marlinflow.manifest import read_manifest

    items = []
    for row in read_manifest(rows).to_dict("records"):
        options = {k: row[k] for k in ROW_OPTIONS if k in row and _given(row[k])}
        options |= {"base": base, "fps": fps}
        out_status = str(Path(into) / f"{row['id']}{STATUS_SUFFIX}")
        made_from = {
            "source": row["source"],
            **options,
            "policy": policy.to_dict(),
            "file": _file_stamp(row["source"], base),
        }
        key = shards.video_key(STAGE, made_from, None)
        items.append(shards.Item(out_status, key, (out_status, row["source"], policy, options)))
    return shards.run_shard(STAGE, download_row, items, out_list, workers)


def download_row(
    out_status: str, source: str, policy: RetryPolicy, options: dict[str, Any]
) -> StageRecord:
    """:func:`download_video` with its options as one mapping (a shard's item)."""
    return download_video(out_status, source, policy, **options)


def _given(value: Any) -> bool:
    return value is not None and value == value and value != ""  # not NaN, not blank


def _file_stamp(source: str, base: str | None) -> list[int] | None:
    """A local source's size and modification time (None for other sources, or a missing one)."""
    where = resolve(source, base)
    if where.kind is not Kind.LOCAL or not where.path.is_file():
        return None
    stat = where.path.stat()
    return [stat.st_size, stat.st_mtime_ns]
