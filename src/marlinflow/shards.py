"""Shards: one job runs a per-video step for many videos, for data sets of many thousand videos.

A data set's manifest is cut into shards of ``dataset.shard_size`` consecutive rows
(:func:`shard_size`: ``auto`` keeps one job per video up to :data:`AUTO_LIMIT` videos and cuts
larger data sets into shards of :data:`AUTO_SIZE`). Rows appended to a manifest fill its last shard
and then new ones: the shards before them keep their videos.

A shard job runs one stage for each of its videos (:func:`run_shard`) in a pool of worker
processes. Each video still gets its own stage record (:mod:`marlinflow.stages`), and one bad video
still drops out alone: its record says why, and the shard goes on. A video that takes its worker
process down (a crash in a decoder) is found by running the rest one at a time, and gets a record
saying so. The job writes its shard list last: the paths of its videos' records, one a line
(``<stage folder>/shards/<shard>.txt``); later steps are given those lists.

Resuming. Each record a shard job writes carries a key (:func:`video_key`): a digest of the
stage, its settings, the version of its code, and the upstream record or manifest row the video
was made from. A shard job keeps every video whose record already carries the key it would write,
so a killed shard job, run again, redoes only the videos it had not finished, while a change of
settings, code or upstream redoes them. Records of unexpected errors carry no key: they are tried
again.
"""

from __future__ import annotations

import hashlib
import json
import logging
import math
import multiprocessing
import time
from collections.abc import Callable, Sequence
from concurrent.futures import Future, ProcessPoolExecutor, as_completed
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from marlinflow.atomic import atomic_path
from marlinflow.code_version import code_version
from marlinflow.errors import Category, InputError
from marlinflow.stages import (
    RECORD_KEY,
    STATUS_SUFFIX,
    StageRecord,
    record_paths,
    video_id_of,
)

log = logging.getLogger(__name__)

AUTO = "auto"
AUTO_LIMIT = 2000  # auto: one job per video up to this many videos
AUTO_SIZE = 500  # auto: shards of this many videos above it
# the rule whose code makes each stage's records (marlinflow.code_version.RULE_CODE)
STAGE_RULES = {
    "download": "download_video",
    "track": "track_video",
    "parse": "parse_video",
    "audio": "audio_video",
}
SHARD_LIST_SUFFIX = ".txt"


def shard_size(setting: int | str, videos: int) -> int:
    """Videos per shard job for a data set of ``videos`` (``dataset.shard_size``); 0: one job per
    video."""
    if setting == AUTO:
        return 0 if videos <= AUTO_LIMIT else AUTO_SIZE
    return int(setting)


def shard_names(videos: int, size: int) -> list[str]:
    """The shards of ``videos`` rows cut ``size`` at a time: ``s00000``, ``s00001``, ..."""
    return [shard_name(index) for index in range(math.ceil(videos / size))]


def shard_name(index: int) -> str:
    return f"s{index:05d}"


def shard_rows(name: str, size: int) -> slice:
    """The rows of the manifest that shard ``name`` holds."""
    index = int(name.removeprefix("s"))
    return slice(index * size, (index + 1) * size)


def shard_of(position: int, size: int) -> str:
    """The shard holding the manifest's row at ``position`` (counted from 0)."""
    return shard_name(position // size)


def video_key(stage: str, settings: dict[str, Any], upstream: str | Path | None) -> str:
    """What a video's record of ``stage`` was made from, as a digest: the stage, its
    ``settings`` (with the video's own manifest row for a first stage), the version of the
    stage's code, and the bytes of the upstream record."""
    made_from = {
        "stage": stage,
        "code": code_version(STAGE_RULES[stage]),
        "settings": settings,
        "upstream": _sha256(Path(upstream).read_bytes()) if upstream is not None else None,
    }
    return _sha256(json.dumps(made_from, sort_keys=True, default=str).encode())


def _sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


@dataclass(frozen=True)
class Item:
    """One video of a shard: the record its step writes, the key that record must carry to be
    kept, and the step's arguments (``step(*args)`` writes ``out_status``)."""

    out_status: str
    key: str
    args: tuple

    @property
    def video_id(self) -> str:
        return video_id_of(self.out_status)

    def done(self) -> bool:
        """Whether the video's record exists and was made from what this run would use."""
        if not Path(self.out_status).is_file():
            return False
        try:
            return StageRecord.load(self.out_status).key == self.key
        except InputError:  # a damaged record: made again
            return False


def chained_items(
    stage: str, in_list: str | Path, into: str | Path, settings: dict[str, Any], *args: Any
) -> list[Item]:
    """The items of a stage fed by an earlier stage's shard list ``in_list``: each upstream
    record's video, its record ``<into>/<id>.status.json``; the step is called as
    ``step(upstream, out_status, *args)``."""
    items = []
    for upstream in record_paths([in_list]):
        out_status = Path(into) / f"{video_id_of(upstream)}{STATUS_SUFFIX}"
        key = video_key(stage, settings, upstream)
        items.append(Item(str(out_status), key, (str(upstream), str(out_status), *args)))
    return items


@dataclass(frozen=True)
class ShardResult:
    records: list[StageRecord]
    kept: int  # videos whose records were already done
    crashed: int  # videos whose step took its worker process down

    @property
    def usable(self) -> int:
        return sum(record.ok for record in self.records)


def run_shard(
    stage: str,
    step: Callable[..., StageRecord],
    items: Sequence[Item],
    out_list: str | Path,
    workers: int = 1,
) -> ShardResult:
    """Run ``step`` for every item not already done, ``workers`` at a time, then write
    ``out_list``: the items' records, one path a line, in the items' order.

    ``step`` (a picklable callable: a module's function or a ``functools.partial`` of one) writes
    an item's record whatever becomes of its video. An :class:`InputError` it raises is a setup
    problem (missing model weights, a bad setting), not the video's: the shard stops with it.
    """
    todo = [item for item in items if not item.done()]
    kept = len(items) - len(todo)
    log.info("%s: %d videos, %d already done, %d to run", out_list, len(items), kept, len(todo))
    crashed = _run_all(stage, step, todo, max(1, workers)) if todo else 0
    records = [StageRecord.load(item.out_status) for item in items]
    with atomic_path(out_list) as tmp:
        tmp.write_text("".join(f"{item.out_status}\n" for item in items))
    result = ShardResult(records, kept, crashed)
    log.info("%s: %d of %d videos usable", out_list, result.usable, len(items))
    return result


def _run_all(stage: str, step: Callable, pending: list[Item], workers: int) -> int:
    """Run every pending item; returns how many took their worker down. After a crash the rest
    run one at a time, so that the video that crashes is known."""
    context = multiprocessing.get_context("spawn")  # no copy of a parent's threads or models
    crashed, total, started = 0, len(pending), time.monotonic()
    finished: list[Item] = []
    while pending:
        size = min(workers, len(pending))
        try:
            with ProcessPoolExecutor(size, context, initializer=_worker_logging) as pool:
                for item, record in _results(pool, stage, step, pending, size):
                    finished.append(item)
                    _log_done(record, len(finished), total, started)
            pending = []
        except BrokenProcessPool:
            done = {item.out_status for item in finished}
            pending = [item for item in pending if item.out_status not in done]
            if size == 1:
                crashed += 1
                _crash_record(stage, pending[0])
                finished.append(pending.pop(0))
            workers = 1
            log.warning(
                "a worker process died; running the %d videos left one at a time", len(pending)
            )
    return crashed


def _results(pool: ProcessPoolExecutor, stage, step, items: list[Item], size: int):
    """(item, record) as each finishes: in order when one worker runs them, so that a crash
    names its video."""
    if size == 1:
        for item in items:
            yield item, pool.submit(_attempt, stage, step, item).result()
        return
    futures: dict[Future, Item] = {pool.submit(_attempt, stage, step, i): i for i in items}
    try:
        for future in as_completed(futures):
            yield futures[future], future.result()
    except InputError:
        pool.shutdown(cancel_futures=True)
        raise


def _attempt(stage: str, step: Callable[..., StageRecord], item: Item) -> StageRecord:
    """Run one video's step in a worker; the record it writes carries the item's key."""
    token = RECORD_KEY.set(item.key)
    try:
        return step(*item.args)
    except InputError:
        raise
    except Exception as err:  # a bug met on this video: recorded without a key, tried again
        log.exception("%s %s: unexpected error", stage, item.video_id)
        record = StageRecord(
            item.video_id,
            stage,
            False,
            f"unexpected error: {type(err).__name__}: {err} (traceback in the job's log)",
            category=Category.OTHER.value,
        )
        record.save(item.out_status)
        return record
    finally:
        RECORD_KEY.reset(token)


def _crash_record(stage: str, item: Item) -> None:
    reason = "unexpected error: its step took the worker process down (a crash in native code)"
    log.error("%s %s: %s", stage, item.video_id, reason)
    record = StageRecord(item.video_id, stage, False, reason, category=Category.OTHER.value)
    record.save(item.out_status)


def _worker_logging() -> None:
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")


def _log_done(record: StageRecord, done: int, total: int, started: float) -> None:
    elapsed = time.monotonic() - started
    left = elapsed / done * (total - done)
    state = "ok" if record.ok else f"not usable: {record.reason}"
    log.info(
        "%s %d/%d %s: %s (%.1f s; %.0f s elapsed, about %.0f s left)",
        record.stage,
        done,
        total,
        record.id,
        state,
        record.seconds,
        elapsed,
        left,
    )
