"""The download stage's pure parts: source kinds, frame order, gated data sets, failure classes."""

from __future__ import annotations

from pathlib import Path

import pytest

from marlinflow.download.frames import natural_key, numbering_gaps
from marlinflow.download.sources import Kind, resolve, youtube_url
from marlinflow.download.ytdl import clean_message


@pytest.mark.parametrize(
    ("source", "kind", "location"),
    [
        ("https://example.org/a.mp4", Kind.HTTP, "https://example.org/a.mp4"),
        ("http://127.0.0.1:8000/x", Kind.HTTP, "http://127.0.0.1:8000/x"),
        ("dQw4w9WgXcQ", Kind.YTDL, "https://www.youtube.com/watch?v=dQw4w9WgXcQ"),
        ("https://youtu.be/dQw4w9WgXcQ", Kind.YTDL, "https://youtu.be/dQw4w9WgXcQ"),
        ("https://www.youtube.com/watch?v=abc", Kind.YTDL, "https://www.youtube.com/watch?v=abc"),
        ("ytdl:https://vimeo.com/1", Kind.YTDL, "https://vimeo.com/1"),
        ("file:///data/a%20b.mp4", Kind.LOCAL, "/data/a b.mp4"),
        ("/data/clip.mp4", Kind.LOCAL, "/data/clip.mp4"),
    ],
)
def test_resolve_tells_sources_apart(source, kind, location):
    assert resolve(source) == resolve(source, base="/elsewhere")
    assert (resolve(source).kind, resolve(source).location) == (kind, location)


def test_relative_paths_live_in_base_and_folders_are_frames(tmp_path):
    (tmp_path / "Aaron" / "0").mkdir(parents=True)
    assert resolve("Aaron/0", base=tmp_path).kind is Kind.FRAMES
    assert resolve("Aaron/1.mp4", base=tmp_path).path == tmp_path / "Aaron" / "1.mp4"


def test_an_existing_file_named_like_a_youtube_id_stays_local(tmp_path):
    (tmp_path / "abcdefghijk").write_bytes(b"")
    assert resolve("abcdefghijk", base=tmp_path).kind is Kind.LOCAL
    assert resolve("abcdefghijk", base=tmp_path / "none").kind is Kind.YTDL


def test_youtube_url():
    assert youtube_url("-_aB3cD4eF5") == "https://www.youtube.com/watch?v=-_aB3cD4eF5"


def test_natural_sort_orders_ytf_frames_by_number():
    names = ["0.1000.jpg", "0.999.jpg", "0.10.jpg", "0.9.jpg", "1.1.jpg"]
    assert sorted(names, key=natural_key) == [
        "0.9.jpg",
        "0.10.jpg",
        "0.999.jpg",
        "0.1000.jpg",
        "1.1.jpg",
    ]


def test_numbering_gaps():
    files = [Path(f"0.{n}.jpg") for n in [1, 2, 3, 6, 7, 9]]
    assert numbering_gaps(files) == [(3, 6), (7, 9)]
    assert numbering_gaps([Path("a.jpg"), Path("b.jpg")]) == []


def test_clean_message_strips_ytdlp_decoration():
    raw = "\x1b[0;31mERROR:\x1b[0m [youtube] dQw4w9WgXcQ: Video unavailable. This video is private"
    assert clean_message(raw) == "Video unavailable. This video is private"
