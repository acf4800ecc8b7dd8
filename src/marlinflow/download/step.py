"""Fetch one manifest video into data/raw and write its stage record.

:func:`download_video` (the ``download`` verb) writes ``<id>.<container>`` beside ``OUT_STATUS``
(``data/raw/<ds>/<id>.status.json``): ``<id>.mp4``, ``<id>.webm``, ``<id>.mkv`` ..., as the
fetched file's container is; the record's ``video`` output names it, and the track step reads it
from there. A source that cannot be fetched (404, removed, not a video,
checksum) makes the record not ok with the reason, so one bad video never stops a run.
"""

from __future__ import annotations

from pathlib import Path

from marlinflow.download.fetch import fetch
from marlinflow.download.http import RetryPolicy
from marlinflow.stages import StageRecord, run_stage, sibling

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
