"""A short video's decoded frames kept from the track step's first pass for its second: the
same RGB frames as decoding again, the same face clip and track, and memory only within the
budget."""

from __future__ import annotations

from itertools import islice

import numpy as np

from marlinflow.face.pipeline import track_video
from marlinflow.video import kept as kept_module
from marlinflow.video.io import decoded_bytes, iter_decoded, iter_frames, probe, to_rgb
from marlinflow.video.kept import KeptFrames
from marlinflow.video.writer import write_video


def test_kept_frames_are_the_decoded_frames(carphone):
    n = probe(carphone).n_frames
    kept = KeptFrames(n)
    for _, frame in iter_decoded(carphone):
        kept.offer(frame)
    assert kept.complete and len(kept.frames) == n
    for ours, decoded in zip(kept.take(), iter_frames(carphone), strict=True):
        assert np.array_equal(to_rgb(ours), decoded)
    assert kept.frames is None  # handed over: the memory goes with the frames


def test_a_video_beyond_the_budget_is_not_kept(carphone):
    frames = [frame for _, frame in iter_decoded(carphone)]
    size = decoded_bytes(frames[0])  # 176x144 4:2:0: 38 KB
    too_long = KeptFrames(len(frames), budget=size * (len(frames) - 1))
    too_long.offer(frames[0])
    assert too_long.frames is None  # decided at the first frame: nothing is held
    header_lies = KeptFrames(10, budget=size * 20)  # a header that promises 10 frames
    for frame in frames:
        header_lies.offer(frame)
    assert not header_lies.complete and header_lies.frames is None


def test_track_decoding_once_or_twice_writes_the_same_files(carphone, tmp_path, monkeypatch):
    video = tmp_path / "talking.mp4"
    write_video(video, islice(iter_frames(carphone), 40), 30)
    track_video(video, tmp_path / "once.mp4", tmp_path / "once.json")
    monkeypatch.setattr(kept_module, "KEEP_BUDGET_BYTES", 0)
    track_video(video, tmp_path / "twice.mp4", tmp_path / "twice.json")
    for suffix in (".mp4", ".json"):
        once, twice = (tmp_path / f"{name}{suffix}" for name in ("once", "twice"))
        assert once.read_bytes() == twice.read_bytes()
