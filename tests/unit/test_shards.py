"""Shards of a data set's videos: how they are cut, when a video's record is kept, and how a shard
job copes with videos that fail, raise or take their worker process down."""

from __future__ import annotations

import os
import signal

import pytest

from marlinflow import shards
from marlinflow.compute.slurm import shard_mem_mb, shard_runtime
from marlinflow.errors import Category, InputError
from marlinflow.stages import StageRecord, run_stage


def test_auto_keeps_small_data_sets_per_video_and_cuts_large_ones():
    assert shards.shard_size("auto", 32) == 0
    assert shards.shard_size("auto", shards.AUTO_LIMIT) == 0
    assert shards.shard_size("auto", shards.AUTO_LIMIT + 1) == shards.AUTO_SIZE
    assert shards.shard_size(0, 10**6) == 0
    assert shards.shard_size(7, 3) == 7


def test_appended_rows_leave_the_earlier_shards_as_they_were():
    ids = [f"v{i}" for i in range(23)]
    before = {name: ids[shards.shard_rows(name, 10)] for name in shards.shard_names(23, 10)}
    assert list(before) == ["s00000", "s00001", "s00002"]
    assert sum(map(len, before.values())) == 23 and before["s00002"] == ["v20", "v21", "v22"]
    grown = ids + [f"v{i}" for i in range(23, 35)]
    after = {name: grown[shards.shard_rows(name, 10)] for name in shards.shard_names(35, 10)}
    assert after["s00000"] == before["s00000"] and after["s00001"] == before["s00001"]
    assert len(after) == 4 and after["s00002"][:3] == before["s00002"]
    assert [shards.shard_of(p, 10) for p in (0, 9, 10, 34)] == ["s00000"] * 2 + ["s00001", "s00003"]


def test_a_key_follows_settings_and_upstream_bytes(tmp_path):
    upstream = tmp_path / "a.status.json"
    upstream.write_text('{"ok": true}')
    key = shards.video_key("track", {"size": 224}, upstream)
    assert key == shards.video_key("track", {"size": 224}, upstream)
    assert key != shards.video_key("track", {"size": 256}, upstream)
    assert key != shards.video_key("parse", {"size": 224}, upstream)
    upstream.write_text('{"ok": false}')
    assert key != shards.video_key("track", {"size": 224}, upstream)


def test_a_shard_jobs_request_follows_its_size():
    assert shard_runtime("track", 500, 4) == 250  # 125 videos a worker, 2 minutes each
    assert shard_runtime("track", 500, 8) < shard_runtime("track", 500, 4)
    assert shard_runtime("download", 3, 4) == 30  # never under half an hour
    assert shard_mem_mb(4) > shard_mem_mb(1)


# Steps run in spawned worker processes: module-level functions of this test module.
def toy_step(out_status: str, mode: str) -> StageRecord:
    """A stage whose video ``mode`` says what happens: ok, unusable, a bug, a setup problem or
    a crash of the process."""

    def work(_inputs):
        if mode == "unusable":
            raise InputError(out_status, "no face in any frame", Category.NO_FACE)
        if mode == "bug":
            raise ZeroDivisionError("a bug met on this video")
        if mode == "crash":
            os.kill(os.getpid(), signal.SIGKILL)
        return {"video": out_status}, {"pid": os.getpid()}

    if mode == "setup":
        raise InputError("--backend nosuch", "no such face model")
    return run_stage("toy", None, out_status, work)


def toy_items(tmp_path, modes: dict[str, str], settings=None) -> list[shards.Item]:
    return [
        shards.Item(
            str(tmp_path / f"{name}.status.json"),
            shards.video_key("track", {"toy": settings}, None),
            (str(tmp_path / f"{name}.status.json"), mode),
        )
        for name, mode in modes.items()
    ]


def test_bad_videos_get_records_and_the_shard_goes_on(tmp_path):
    modes = {"a": "ok", "b": "unusable", "c": "bug", "d": "ok", "e": "crash", "f": "ok"}
    out_list = tmp_path / "shards/s00000.txt"
    result = shards.run_shard("toy", toy_step, toy_items(tmp_path, modes), out_list, workers=2)

    records = {r.id: r for r in result.records}
    assert out_list.read_text().split() == [str(tmp_path / f"{n}.status.json") for n in modes]
    assert [n for n, r in records.items() if r.ok] == ["a", "d", "f"]
    assert records["b"].category == "no_face" and records["b"].key  # kept: a property of the video
    assert records["c"].reason.startswith("unexpected error: ZeroDivisionError: a bug")
    assert records["e"].reason.startswith("unexpected error: its step took the worker process")
    assert result.crashed == 1
    assert not records["c"].key and not records["e"].key  # tried again by the next run

    again = shards.run_shard("toy", toy_step, toy_items(tmp_path, modes), out_list, workers=2)
    assert again.kept == 4  # a, b, d, f; the bug and the crash are tried again
    changed = toy_items(tmp_path, {"a": "ok"}, settings="other")
    assert shards.run_shard("toy", toy_step, changed, tmp_path / "x.txt").kept == 0


def test_a_setup_problem_stops_the_shard_without_a_list(tmp_path):
    items = toy_items(tmp_path, {"a": "ok", "b": "setup", "c": "ok"})
    with pytest.raises(InputError, match="no such face model"):
        shards.run_shard("toy", toy_step, items, tmp_path / "list.txt", workers=1)
    assert not (tmp_path / "list.txt").exists()
    assert not (tmp_path / "b.status.json").exists()
