"""The yt-dlp path, for real: yt-dlp's generic extractor fetching from a loopback server.

YouTube itself is out of reach in CI; what is tested here is everything up to the network:
the URL a YouTube id becomes, and a clear, quick failure when the host cannot be reached.
"""

from __future__ import annotations

import pytest

from marlinflow.download import RetryPolicy, fetch
from marlinflow.errors import InputError

from .test_download_support import MediaServer


@pytest.fixture
def server():
    with MediaServer() as running:
        yield running


QUICK = RetryPolicy(retries=0, backoff=0.01, timeout=3)


def test_ytdl_downloads_a_direct_video(server, carphone, tmp_path, capsys):
    url = server.add("/clip.mp4", carphone.read_bytes())
    result = fetch(f"ytdl:{url}", tmp_path / "v.mp4", policy=QUICK)
    progress = capsys.readouterr().err.splitlines()  # yt-dlp's own reports, as our lines
    assert progress[-1].startswith(f"download {url}: 100%")
    assert result.kind == "ytdl"
    assert (tmp_path / "v.mp4").read_bytes() == carphone.read_bytes()
    assert [p.name for p in tmp_path.iterdir()] == ["v.mp4"]  # its work folder is gone


def test_ytdl_download_is_cut_to_the_window(server, carphone, tmp_path):
    url = server.add("/clip.mp4", carphone.read_bytes())
    result = fetch(f"ytdl:{url}", tmp_path / "v.mp4", start=2.0, end=3.5, policy=QUICK)
    assert result.info.n_frames == 45  # 1.5 s at 29.97 fps
    assert result.stats()["seconds"] == pytest.approx(1.5, abs=0.05)


def test_ytdl_404_is_a_clear_input_error(server, tmp_path):
    with pytest.raises(InputError, match="yt-dlp: .*404"):
        fetch(f"ytdl:{server.url('/gone.mp4')}", tmp_path / "v.mp4", policy=QUICK)
    assert list(tmp_path.iterdir()) == []


@pytest.mark.timeout(60)  # a low socket timeout and no retries keep it short; never a hang
def test_youtube_id_goes_to_its_watch_page_and_fails_clearly_offline(tmp_path):
    with pytest.raises(InputError) as err:
        fetch("dQw4w9WgXcQ", tmp_path / "v.mp4", policy=QUICK)
    assert err.value.path == "https://www.youtube.com/watch?v=dQw4w9WgXcQ"
    assert err.value.reason.startswith("yt-dlp: ")
    assert "caused by" not in err.value.reason
    assert list(tmp_path.iterdir()) == []
