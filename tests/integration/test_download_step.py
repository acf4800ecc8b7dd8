"""``marlinflow download``: one video in, its file and stage record out, exit 0 whatever happens."""

from __future__ import annotations

import json

import pytest

from marlinflow.cli import main
from marlinflow.report.stage_summary import summary_table
from marlinflow.stages import collect

from .test_download_support import MediaServer


@pytest.fixture
def server():
    with MediaServer() as running:
        yield running


def run_step(*argv: str) -> int:
    return main(["download", *argv])


def record(path) -> dict:
    return json.loads(path.read_text())


QUICK = ["--retries", "1", "--backoff", "0.01", "--timeout", "5"]


def test_successful_download_writes_video_and_record(server, carphone, tmp_path, capsys):
    url = server.add("/clip.mp4", carphone.read_bytes())
    status = tmp_path / "raw" / "abc.status.json"
    assert run_step("--source", url, *QUICK, str(status)) == 0
    progress = [line for line in capsys.readouterr().err.splitlines() if "clip.mp4:" in line]
    assert progress[0].startswith("download clip.mp4:   0%")  # a line at the start ...
    assert progress[-1].startswith("download clip.mp4: 100%")  # ... and one at the end
    rec = record(status)
    assert rec["ok"] and rec["stage"] == "download" and rec["id"] == "abc"
    assert rec["outputs"] == {"video": str(tmp_path / "raw" / "abc.mp4")}
    assert (tmp_path / "raw" / "abc.mp4").read_bytes() == carphone.read_bytes()
    stats = rec["stats"]
    assert stats["bytes"] == carphone.stat().st_size
    assert (stats["frames"], stats["width"], stats["height"], stats["attempts"]) == (
        120,
        176,
        144,
        1,
    )
    assert stats["video_fps"] == pytest.approx(29.97, abs=0.01)
    assert stats["seconds"] == pytest.approx(4.004, abs=0.01)


def test_404_makes_a_not_ok_record_and_exit_0(server, tmp_path):
    status = tmp_path / "abc.status.json"
    assert run_step("--source", server.url("/gone.mp4"), *QUICK, str(status)) == 0
    rec = record(status)
    assert not rec["ok"] and "HTTP 404" in rec["reason"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["abc.status.json"]


def test_start_end_and_base_are_passed_on(carphone, tmp_path):
    status = tmp_path / "raw" / "clip1.status.json"
    argv = ["--source", carphone.name, "--base", str(carphone.parent), "--start", "0.5"]
    assert run_step(*argv, "--end", "1.5", str(status)) == 0
    assert record(status)["stats"]["frames"] == 30


def test_sha256_mismatch_is_recorded(carphone, tmp_path):
    status = tmp_path / "abc.status.json"
    assert run_step("--source", str(carphone), "--sha256", "ab" * 32, str(status)) == 0
    assert "sha256 mismatch: expected " + "ab" * 32 in record(status)["reason"]
    assert not (tmp_path / "abc.mp4").exists()


def test_summary_lists_what_is_missing_and_why(server, carphone, tmp_path):
    good = server.add("/good.mp4", carphone.read_bytes())
    html = server.add("/login.mp4", b"<html>log in</html>", content_type="text/html")
    sources = {"a": good, "b": server.url("/gone.mp4"), "c": html}
    for video_id, source in sources.items():
        run_step("--source", source, *QUICK, str(tmp_path / f"{video_id}.status.json"))
    records = collect(sorted(tmp_path.glob("*.status.json")))
    table = summary_table(records)
    assert table["id"].tolist() == ["b", "c", "a"]
    assert table["category"].tolist() == ["not_found", "not_a_video", ""]


def test_a_truncated_real_video_is_recorded_as_corrupt(samples_dir, tmp_path):
    """Half of a real video, as a download cut short leaves it: a corrupt video, in words."""
    whole = (samples_dir / "video01.mp4").read_bytes()
    (tmp_path / "half.mp4").write_bytes(whole[: len(whole) // 2])
    status = tmp_path / "raw" / "half.status.json"
    assert run_step("--source", str(tmp_path / "half.mp4"), str(status)) == 0
    rec = record(status)
    assert not rec["ok"] and rec["category"] == "corrupt"
    assert rec["reason"].startswith(f"{tmp_path / 'half.mp4'}: corrupt or truncated MP4/MOV file")
    assert "cut short" in rec["reason"] and "Errno" not in rec["reason"]
    assert summary_table(collect([status]))["category"].tolist() == ["corrupt"]


def test_the_track_step_reads_the_file_the_download_record_names(carphone, tmp_path):
    from .test_download_http import write_video_as

    webm = write_video_as(tmp_path / "clip.webm", carphone, "libvpx-vp9")
    status = tmp_path / "raw" / "v.status.json"
    assert run_step("--source", str(webm), str(status)) == 0
    assert record(status)["outputs"] == {"video": str(tmp_path / "raw" / "v.webm")}
    faces = tmp_path / "faces" / "v.status.json"
    assert main(["track", str(status), str(faces)]) == 0
    tracked = record(faces)
    assert tracked["ok"] and tracked["stats"]["frames"] == 30
