"""fetch() over real HTTP on loopback: resume, retries, refusals, checks, and local sources."""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import sys
import time
from fractions import Fraction
from pathlib import Path

import av
import numpy as np
import pytest

from marlinflow.download import RetryPolicy, fetch
from marlinflow.errors import InputError, VideoError
from marlinflow.video.io import iter_frames, probe, read_frames

from .test_download_support import MediaServer


@pytest.fixture
def server():
    with MediaServer() as running:
        yield running


FAST = RetryPolicy(retries=3, backoff=0.01, timeout=5, chunk_size=64 * 1024)


@pytest.fixture(scope="module")
def body(carphone) -> bytes:
    return carphone.read_bytes()


def leftovers(folder) -> list[str]:
    return sorted(p.name for p in folder.iterdir())


def test_plain_download_is_byte_identical(server, body, tmp_path):
    url = server.add("/clip.mp4", body)
    result = fetch(url, tmp_path / "v.mp4", policy=FAST)
    assert (tmp_path / "v.mp4").read_bytes() == body
    assert result.stats()["frames"] == 120 and result.stats()["attempts"] == 1
    assert leftovers(tmp_path) == ["v.mp4"]


def test_cut_connection_resumes_with_a_range_request(server, body, tmp_path):
    url = server.add("/clip.mp4", body, cut_after=200_000)
    result = fetch(url, tmp_path / "v.mp4", policy=FAST)
    assert server.ranges_asked("/clip.mp4") == [None, "bytes=200000-"]
    assert (tmp_path / "v.mp4").read_bytes() == body
    assert result.attempts == 2


def test_server_ignoring_range_starts_over(server, body, tmp_path):
    url = server.add("/clip.mp4", body, cut_after=200_000, ranges=False)
    fetch(url, tmp_path / "v.mp4", policy=FAST)
    assert server.ranges_asked("/clip.mp4") == [None, "bytes=200000-"]
    assert (tmp_path / "v.mp4").read_bytes() == body  # not the first 200 kB twice


def test_flaky_link_keeps_going_while_each_connection_brings_more(server, body, tmp_path):
    url = server.add("/clip.mp4", body, cut_after=100_000, cuts=5)
    result = fetch(url, tmp_path / "v.mp4", policy=RetryPolicy(retries=0, backoff=0.01))
    assert result.attempts == 6
    assert server.ranges_asked("/clip.mp4")[1:] == [f"bytes={k * 100_000}-" for k in range(1, 6)]
    assert (tmp_path / "v.mp4").read_bytes() == body


def test_interrupted_download_leaves_no_final_file_and_resumes_later(server, body, tmp_path):
    url = server.add("/clip.mp4", body, cut_after=300_000, statuses_after_cuts=[503, 503])
    with pytest.raises(InputError, match="gave up after 3 attempts: HTTP 503"):
        fetch(url, tmp_path / "v.mp4", policy=RetryPolicy(retries=1, backoff=0.01))
    assert leftovers(tmp_path) == ["v.mp4.part"]  # only the partial, named as such
    assert (tmp_path / "v.mp4.part").stat().st_size == 300_000
    fetch(url, tmp_path / "v.mp4", policy=FAST)  # the next run, once the server is back
    assert server.ranges_asked("/clip.mp4")[-1] == "bytes=300000-"
    assert (tmp_path / "v.mp4").read_bytes() == body


def test_killed_download_leaves_a_partial_that_the_next_run_resumes(server, body, tmp_path):
    url = server.add("/clip.mp4", body, pause=0.05)  # about 2 s for the whole body
    dest, part = tmp_path / "v.mp4", tmp_path / "v.mp4.part"
    script = f"from marlinflow.download import fetch; fetch({url!r}, {str(dest)!r})"
    process = subprocess.Popen([sys.executable, "-c", script])
    try:
        while process.poll() is None and not (part.exists() and part.stat().st_size > 100_000):
            time.sleep(0.01)
    finally:
        process.kill()
        process.wait()
    assert not dest.exists()
    kept = part.stat().st_size
    assert 100_000 < kept < len(body)
    server.routes["/clip.mp4"].pause = 0
    fetch(url, dest, policy=FAST)
    assert server.ranges_asked("/clip.mp4") == [None, f"bytes={kept}-"]
    assert dest.read_bytes() == body


def test_complete_partial_is_accepted_on_416(server, body, tmp_path):
    url = server.add("/clip.mp4", body)
    (tmp_path / "v.mp4.part").write_bytes(body)
    fetch(url, tmp_path / "v.mp4", policy=FAST)
    assert server.ranges_asked("/clip.mp4") == [f"bytes={len(body)}-"]
    assert (tmp_path / "v.mp4").read_bytes() == body


def test_503_is_retried_with_backoff(server, body, tmp_path):
    url = server.add("/clip.mp4", body, statuses=[503, 503])
    result = fetch(url, tmp_path / "v.mp4", policy=FAST)
    assert result.attempts == 3
    assert (tmp_path / "v.mp4").read_bytes() == body


def test_persistent_503_gives_up(server, body, tmp_path):
    url = server.add("/clip.mp4", body, statuses=[503] * 10)
    with pytest.raises(InputError, match="gave up after 4 attempts: HTTP 503"):
        fetch(url, tmp_path / "v.mp4", policy=FAST)
    assert not (tmp_path / "v.mp4").exists()


def test_404_is_not_retried(server, tmp_path):
    with pytest.raises(InputError, match="HTTP 404") as err:
        fetch(server.url("/gone.mp4"), tmp_path / "v.mp4", policy=FAST)
    assert err.value.path.endswith("/gone.mp4")
    assert len(server.requests) == 1
    assert leftovers(tmp_path) == []


def test_html_body_is_not_a_video(server, tmp_path):
    page = b"<!DOCTYPE html><html><body>Sign in to continue</body></html>"
    url = server.add("/clip.mp4", page, content_type="text/html")
    with pytest.raises(VideoError, match="not a video: the body is an HTML page"):
        fetch(url, tmp_path / "v.mp4", policy=FAST)
    assert leftovers(tmp_path) == []


def test_sha256_mismatch_deletes_the_download(server, body, tmp_path):
    url = server.add("/clip.mp4", body)
    wrong = "0" * 64
    actual = hashlib.sha256(body).hexdigest()
    with pytest.raises(InputError, match=f"expected {wrong}, got {actual}"):
        fetch(url, tmp_path / "v.mp4", sha256=wrong, policy=FAST)
    assert leftovers(tmp_path) == []
    fetch(url, tmp_path / "v.mp4", sha256=actual.upper(), policy=FAST)
    assert (tmp_path / "v.mp4").read_bytes() == body


def test_window_outside_a_download_leaves_nothing(server, body, tmp_path):
    url = server.add("/clip.mp4", body)
    with pytest.raises(
        VideoError, match=r"no frames between 5 s and 6.0 s \(the video lasts 4.00 s\)"
    ):
        fetch(url, tmp_path / "v.mp4", start=5, end=6.0, policy=FAST)
    assert leftovers(tmp_path) == []


def test_file_url(carphone, tmp_path):
    result = fetch(carphone.as_uri(), tmp_path / "v.mp4")
    assert result.kind == "local"
    assert (tmp_path / "v.mp4").read_bytes() == carphone.read_bytes()


def test_local_path_is_copied_so_editing_the_source_leaves_the_copy(carphone, tmp_path):
    shutil.copy(carphone, tmp_path / "orig.mp4")
    fetch("orig.mp4", tmp_path / "raw" / "v.mp4", base=tmp_path)
    copy = tmp_path / "raw" / "v.mp4"
    assert not os.path.samefile(tmp_path / "orig.mp4", copy)  # another inode, not a hard link
    with open(tmp_path / "orig.mp4", "r+b") as source:  # edited in place, as an editor might
        source.write(b"\0" * 64)
    assert copy.read_bytes() == carphone.read_bytes()


def test_each_container_keeps_its_suffix(server, carphone, tmp_path):
    webm = tmp_path / "clip.webm"
    write_video_as(webm, carphone, "libvpx-vp9")
    local = fetch("clip.webm", tmp_path / "raw" / "a.mp4", base=tmp_path)
    assert (
        local.path == tmp_path / "raw" / "a.webm" and local.path.read_bytes() == webm.read_bytes()
    )
    assert not (tmp_path / "raw" / "a.mp4").exists()
    # a URL without a suffix: the container decides (Matroska, WebM's family)
    remote = fetch(server.add("/watch", webm.read_bytes()), tmp_path / "raw" / "b.mp4", policy=FAST)
    assert remote.path == tmp_path / "raw" / "b.mkv"
    assert sorted(p.name for p in (tmp_path / "raw").iterdir()) == ["a.webm", "b.mkv"]
    # a cut window is re-encoded here: an honest mp4 whatever came in
    cut = fetch("clip.webm", tmp_path / "raw" / "c.mp4", base=tmp_path, start=0.2, end=0.6)
    assert cut.path == tmp_path / "raw" / "c.mp4" and probe(cut.path).n_frames == 12


def write_video_as(path: Path, source: Path, codec: str, n_frames: int = 30) -> Path:
    """The first frames of ``source`` in another container (by ``path``'s suffix) and codec."""
    with av.open(str(path), "w") as container:
        stream = container.add_stream(codec, rate=Fraction(30000, 1001))
        stream.width, stream.height, stream.pix_fmt = 176, 144, "yuv420p"
        for frame in read_frames(source, range(n_frames)):
            container.mux(stream.encode(av.VideoFrame.from_ndarray(frame, format="rgb24")))
        container.mux(stream.encode(None))
    return path


def test_missing_local_file_names_it(tmp_path):
    with pytest.raises(InputError, match="no such file") as err:
        fetch("absent.mp4", tmp_path / "v.mp4", base=tmp_path)
    assert err.value.path == str(tmp_path / "absent.mp4")


def test_local_non_video_is_kept_and_refused(tmp_path):
    (tmp_path / "notes.mp4").write_bytes(b"\x00\x01 not a video at all" * 100)
    with pytest.raises(VideoError, match="not a video"):
        fetch(str(tmp_path / "notes.mp4"), tmp_path / "v.mp4")
    assert (tmp_path / "notes.mp4").exists() and not (tmp_path / "v.mp4").exists()


def test_start_end_window_starts_at_the_right_frame(carphone, tmp_path):
    result = fetch(str(carphone), tmp_path / "v.mp4", start=1.0, end=2.0)
    assert result.info.n_frames == 30  # frames at t in [1, 2) at 29.97 fps
    first = next(iter_frames(tmp_path / "v.mp4")).astype(float)
    source = read_frames(carphone, [28, 30, 32]).astype(float)
    errors = [np.abs(first - frame).mean() for frame in source]
    assert int(np.argmin(errors)) == 1  # closest to source frame 30, not its neighbours


def test_window_past_the_end_is_an_input_error(carphone, tmp_path):
    with pytest.raises(VideoError, match="no frames between 10 s and 12.0 s"):
        fetch(str(carphone), tmp_path / "v.mp4", start=10, end=12.0)
    assert leftovers(tmp_path) == []


def test_a_cut_window_keeps_its_sound_in_step_with_its_frames(samples_dir, tmp_path):
    from marlinflow.audio.clock import read_audio

    source = samples_dir / "video01.mp4"  # a speaker, with sound at 44.1 kHz
    result = fetch(str(source), tmp_path / "v.mp4", start=3.0, end=6.0)
    assert result.info.n_frames > 0
    with av.open(str(tmp_path / "v.mp4")) as cut:
        assert cut.streams.audio and cut.streams.audio[0].rate == 44100
    rate = 16000
    whole, window = read_audio(source, rate), read_audio(tmp_path / "v.mp4", rate)
    assert abs(window.seconds - 3.0) < 0.1
    # the cut's sound is the source's from its first frame on: the best lag is within a frame
    at = int(round((3.0 + whole.video_start - whole.start) * rate))
    probe_len, frame = 2 * rate, rate // 25
    lags = range(-3 * frame, 3 * frame + 1, 20)
    scores = [
        np.corrcoef(window.samples[frame : frame + probe_len],
                    whole.samples[at + frame + lag : at + frame + lag + probe_len])[0, 1]
        for lag in lags
    ]  # fmt: skip
    best = list(lags)[int(np.argmax(scores))]
    assert max(scores) > 0.9 and abs(best) <= frame
