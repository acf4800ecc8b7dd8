"""The face-clip writer: H.264 yuv420p, a keyframe at least every 16 frames, atomic output."""

from __future__ import annotations

import av
import numpy as np
import pytest

from marlinflow.video.io import probe, read_frames
from marlinflow.video.writer import write_video


def smooth_frames(n: int, size: int = 224):
    """A moving gradient: compressible like real video, different in every frame."""
    yy, xx = np.mgrid[:size, :size]
    for i in range(n):
        frame = np.stack([(xx + 3 * i) % 256, (yy + 2 * i) % 256, (xx + yy) // 2 % 256], -1)
        yield frame.astype(np.uint8)


def test_writes_h264_with_short_keyframe_interval(tmp_path):
    path = tmp_path / "clip.mp4"
    assert write_video(path, smooth_frames(50), fps=29.97) == 50
    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        assert (stream.codec_context.name, stream.codec_context.pix_fmt) == ("h264", "yuv420p")
        keyframes = [i for i, packet in enumerate(container.demux(stream)) if packet.is_keyframe]
    assert keyframes[0] == 0 and max(np.diff(keyframes)) <= 16
    info = probe(path)
    assert (info.n_frames, info.width, info.height) == (50, 224, 224)
    assert abs(info.fps - 29.97) < 0.01


def test_quality_is_near_lossless_on_a_real_face(tmp_path, carphone):
    original = read_frames(carphone, range(30))
    path = tmp_path / "clip.mp4"
    write_video(path, iter(original), fps=30)
    decoded = read_frames(path, range(30)).astype(float)
    psnr = 10 * np.log10(255**2 / np.mean((original.astype(float) - decoded) ** 2))
    assert psnr > 35  # crf 15: 36.7 dB here; the yuv420p round trip alone (crf 0) gives 44 dB


def test_failed_write_leaves_nothing_behind(tmp_path):
    def broken():
        yield from smooth_frames(5)
        raise RuntimeError("decoder died")

    with pytest.raises(RuntimeError, match="decoder died"):
        write_video(tmp_path / "clip.mp4", broken(), fps=25)
    assert list(tmp_path.iterdir()) == []


def test_i420_frames_are_encoded_as_they_are(tmp_path):
    rgb = list(smooth_frames(20, 64))
    i420 = [av.VideoFrame.from_ndarray(f, format="rgb24").reformat(format="yuv420p") for f in rgb]
    path = tmp_path / "clip.mp4"
    assert write_video(path, (f.to_ndarray() for f in i420), 25, pix_fmt="yuv420p") == 20
    assert (probe(path).width, probe(path).height) == (64, 64)
    decoded = read_frames(path, range(20)).astype(float)
    expected = np.stack([f.to_ndarray(format="rgb24") for f in i420]).astype(float)
    assert 10 * np.log10(255**2 / np.mean((decoded - expected) ** 2)) > 40
    with pytest.raises(ValueError, match="I420"):
        write_video(tmp_path / "bad.mp4", [np.zeros((64, 64), np.uint8)], 25, pix_fmt="yuv420p")
