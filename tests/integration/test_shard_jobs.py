"""Shard jobs on real videos, through the verbs the workflow calls: a shard with a corrupt and a
missing video completes with their records and every other video processed; a shard job killed
part-way resumes after the videos it finished."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from marlinflow.cli import main
from marlinflow.stages import StageRecord

MARLINFLOW = [sys.executable, "-m", "marlinflow.cli"]


def write_rows(path: Path, rows: dict[str, str]) -> Path:
    path.write_text("id\tsource\tsplit\n" + "".join(f"{i}\t{s}\ttrain\n" for i, s in rows.items()))
    return path


@pytest.fixture
def shard_rows(tmp_path, samples_dir, carphone):
    broken = tmp_path / "broken.mp4"
    broken.write_bytes((samples_dir / "video01.mp4").read_bytes()[:200_000])  # cut short
    rows = {
        "car": str(carphone),
        "c1": str(samples_dir / "cropped01.mp4"),
        "broken": str(broken),
        "missing": str(tmp_path / "nothere.mp4"),
        "c2": str(samples_dir / "cropped02.mp4"),
    }
    return write_rows(tmp_path / "rows.tsv", rows)


def test_a_shard_with_bad_videos_completes(tmp_path, shard_rows):
    raw, faces, parsing = (tmp_path / d for d in ("raw", "faces", "parsing"))
    lists = [raw / "shards/s00000.txt", faces / "shards/s00000.txt", parsing / "shards/s00000.txt"]
    assert main(["download", "--rows", str(shard_rows), "--into", str(raw), "--workers", "2",
                 str(lists[0])]) == 0  # fmt: skip
    assert (
        main(["track", str(lists[0]), str(lists[1]), "--into", str(faces), "--workers", "2"]) == 0
    )
    assert main(["parse", str(lists[1]), str(lists[2]), "--into", str(parsing)]) == 0

    names = ["car", "c1", "broken", "missing", "c2"]
    assert lists[2].read_text().split() == [str(parsing / f"{n}.status.json") for n in names]
    records = {r.id: r for r in map(StageRecord.load, lists[2].read_text().split())}
    assert {n for n, r in records.items() if r.ok} == {"car", "c1", "c2"}
    assert all(Path(records[n].outputs["labels"]).is_file() for n in ("car", "c1", "c2"))
    download = StageRecord.load(raw / "broken.status.json")
    assert download.category == "corrupt" and "broken.mp4" in download.reason
    assert StageRecord.load(raw / "missing.status.json").category == "not_found"
    assert records["broken"].category == records["missing"].category == "skipped"

    # the same shard again: every record kept, none rewritten
    before = {p: p.stat().st_mtime_ns for p in faces.glob("*.status.json")}
    assert main(["track", str(lists[0]), str(lists[1]), "--into", str(faces)]) == 0
    assert {p: p.stat().st_mtime_ns for p in faces.glob("*.status.json")} == before


def test_a_killed_shard_job_resumes_after_the_videos_it_finished(tmp_path, samples_dir, carphone):
    rows = {"car": carphone, **{f"v{i}": samples_dir / f"video0{i}.mp4" for i in (1, 2, 3)}}
    raw, faces = tmp_path / "raw", tmp_path / "faces"
    download_list, track_list = raw / "shards/s00000.txt", faces / "shards/s00000.txt"
    rows_file = write_rows(tmp_path / "rows.tsv", {k: str(v) for k, v in rows.items()})
    assert main(["download", "--rows", str(rows_file), "--into", str(raw), str(download_list)]) == 0

    command = [*MARLINFLOW, "track", str(download_list), str(track_list), "--into", str(faces)]
    log = tmp_path / "track.log"
    with open(log, "w") as out:
        job = subprocess.Popen(command, stdout=out, stderr=out, start_new_session=True)
        first = faces / "car.status.json"
        deadline = time.monotonic() + 240
        while not first.exists() and job.poll() is None and time.monotonic() < deadline:
            time.sleep(0.1)
        assert first.exists(), log.read_text()[-2000:]
        os.killpg(job.pid, signal.SIGKILL)  # the job and its worker process, as a lost node
        job.wait()
    assert not track_list.exists()
    finished = {p.name: p.stat().st_mtime_ns for p in faces.glob("*.status.json")}
    assert "car.status.json" in finished and len(finished) < len(rows)

    again = subprocess.run(command, capture_output=True, text=True, timeout=600)
    assert again.returncode == 0, again.stderr[-2000:]
    assert f"{len(finished)} already done, {len(rows) - len(finished)} to run" in again.stderr
    for name, mtime in finished.items():
        assert (faces / name).stat().st_mtime_ns == mtime  # not made again
    records = [json.loads(Path(p).read_text()) for p in track_list.read_text().split()]
    assert [r["id"] for r in records] == list(rows) and all(r["ok"] for r in records)
