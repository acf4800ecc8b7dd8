"""The audio stage as the workflow runs it: the sample's talking heads are given their voice when
they are made, a shard job reads both upstream lists (download: the sound; track: the clock),
the still photo's silent video is recorded no_audio, and the table of lip-sync videos lists the
voiced ones with their split."""

from __future__ import annotations

import pytest

from marlinflow.audio.clock import read_audio
from marlinflow.cli import main
from marlinflow.errors import InputError
from marlinflow.lipsync.videos import read_sync_videos, sync_video_table
from marlinflow.sample import build_sample, sample_plan
from marlinflow.stages import StageRecord


def test_an_audio_shard_of_the_sample_with_sound(tmp_path):
    sources = tmp_path / "sample"
    manifest = build_sample(sources, n_videos=4, sound=True)
    faces = {video.id: video.face for video in sample_plan(4)}
    talking = [i for i, face in faces.items() if face == "carphone"]
    still = [i for i, face in faces.items() if face == "astronaut"]
    assert len(talking) == len(still) == 2
    assert all(read_audio(sources / f"{i}.mp4").seconds > 1.0 for i in talking)
    with pytest.raises(InputError, match="no audio stream"):
        read_audio(sources / f"{still[0]}.mp4")

    rows = tmp_path / "rows.tsv"
    manifest[["id", "source", "split"]].to_csv(rows, sep="\t", index=False)
    raw, track, audio = (tmp_path / d for d in ("raw", "faces", "audio"))
    lists = [d / "shards/s00000.txt" for d in (raw, track, audio)]
    base = ["--base", str(sources)]
    assert main(["download", "--rows", str(rows), "--into", str(raw), *base, str(lists[0])]) == 0
    assert main(["track", str(lists[0]), str(lists[1]), "--into", str(track)]) == 0
    command = ["audio", str(lists[0]), str(lists[1]), str(lists[2]), "--into", str(audio)]
    assert main(command) == 0

    records = {r.id: r for r in map(StageRecord.load, lists[2].read_text().split())}
    assert all(records[i].ok and records[i].stats["frames"] == 40 for i in talking)
    assert all(records[i].category == "no_audio" for i in still)
    before = {p: p.stat().st_mtime_ns for p in audio.glob("*.status.json")}
    assert main(command) == 0  # run again: every record kept
    assert {p: p.stat().st_mtime_ns for p in audio.glob("*.status.json")} == before

    splits = dict(zip(manifest["id"], manifest["split"], strict=True))
    table = sync_video_table([lists[2]], track, raw, splits)
    assert sorted(table["id"]) == sorted(talking)
    first = table.iloc[0]
    assert first["mel"] == records[first["id"]].outputs["mel"]
    assert first["source"].endswith(f"{first['id']}.mp4") and first["split"] == splits[first["id"]]
    path = tmp_path / "sync_videos.tsv"
    table.to_csv(path, sep="\t", index=False)
    voiced_splits = {splits[i] for i in talking}
    for split in voiced_splits:
        expected = sorted(i for i in talking if splits[i] == split)
        assert sorted(read_sync_videos(path, split)["id"]) == expected
    other = next(s for s in ("train", "val", "test") if s not in voiced_splits)
    with pytest.raises(InputError, match=f"no usable video with sound in split '{other}'"):
        read_sync_videos(path, other)
