"""Video reading: containers, frame folders, rotation, gray and odd sizes, variable frame rate, and
clear errors for empty, corrupt and truncated files. Videos are made here with PyAV."""

from __future__ import annotations

import itertools
from fractions import Fraction
from pathlib import Path

import av
import cv2
import numpy as np
import pytest

from marlinflow.errors import VideoError
from marlinflow.video.io import (
    iter_frames,
    iter_timed_frames,
    prefetch,
    probe,
    read_clip,
    read_frames,
)


def ramp_frames(n: int, height: int = 64, width: int = 96) -> np.ndarray:
    """(n, H, W, 3) frames whose brightness encodes their index, with a white left edge."""
    frames = np.zeros((n, height, width, 3), np.uint8)
    for i in range(n):
        frames[i] = 20 + 10 * i % 200
        frames[i, :, :8] = 255
    return frames


def encode(path: Path, frames, codec="libx264", pix_fmt="yuv420p", fps=25, pts=None, **extra):
    """Write frames with PyAV; ``pts`` (in 1/1000 s) makes a variable-frame-rate file."""
    with av.open(str(path), "w", options=extra.pop("container_options", {})) as container:
        stream = container.add_stream(codec, rate=fps)
        stream.height, stream.width = frames[0].shape[:2]
        stream.pix_fmt = pix_fmt
        if pts is not None:
            stream.codec_context.time_base = Fraction(1, 1000)
        if "rotation" in extra:
            stream.set_display_rotation(extra.pop("rotation"))
        for i, frame in enumerate(frames):
            video_frame = av.VideoFrame.from_ndarray(frame, format="rgb24")
            if pts is not None:
                video_frame.pts, video_frame.time_base = pts[i], Fraction(1, 1000)
            container.mux(stream.encode(video_frame))
        container.mux(stream.encode(None))
    return path


@pytest.mark.parametrize(
    ("suffix", "codec", "pix_fmt"),
    [
        (".mp4", "libx264", "yuv420p"),
        (".webm", "libvpx-vp9", "yuv420p"),
        (".mkv", "ffv1", "yuv444p"),
        (".avi", "mpeg4", "yuv420p"),
    ],
)
def test_containers_stream_every_frame_as_rgb(tmp_path, suffix, codec, pix_fmt):
    frames = ramp_frames(12)
    path = encode(tmp_path / f"clip{suffix}", frames, codec, pix_fmt)
    info = probe(path)
    decoded = np.stack(list(iter_frames(path)))
    assert (info.n_frames, info.width, info.height) == (12, 96, 64)
    assert decoded.shape == (12, 64, 96, 3) and decoded.dtype == np.uint8
    # brightness order survives: frame i is frame i
    assert (
        np.abs(
            decoded[:, :, 20:].mean(axis=(1, 2, 3)) - frames[:, :, 20:].mean(axis=(1, 2, 3))
        ).max()
        < 4
    )


def test_gray_video_with_odd_size_comes_out_rgb(tmp_path):
    frames = ramp_frames(5, height=97, width=171)
    path = encode(tmp_path / "gray.mkv", frames, "ffv1", "gray")
    decoded = np.stack(list(iter_frames(path)))
    assert decoded.shape == (5, 97, 171, 3)
    assert np.array_equal(decoded[..., 0], decoded[..., 2])  # gray: equal channels
    assert probe(path).width == 171


def test_rotation_metadata_is_applied_like_random_access(tmp_path):
    frames = ramp_frames(4)  # landscape, white band on the left
    path = encode(tmp_path / "rotated.mp4", frames, rotation=90)
    info = probe(path)
    streamed = next(iter(iter_frames(path)))
    assert (info.width, info.height) == (64, 96)
    assert streamed.shape == (96, 64, 3)
    assert (
        streamed[-4:, :, 0].mean() > 200
    )  # 90 degrees counter-clockwise: the band is at the bottom
    assert np.array_equal(streamed, read_frames(path, [0])[0])


def test_variable_frame_rate_keeps_every_frame_and_its_time(tmp_path):
    pts = [0, 40, 80, 200, 240, 400, 440]  # ms: irregular gaps
    path = encode(tmp_path / "vfr.mkv", ramp_frames(len(pts)), "libx264", pts=pts)
    timed = list(iter_timed_frames(path))
    assert len(timed) == len(pts) == probe(path).n_frames
    assert np.allclose([t for t, _ in timed], np.array(pts) / 1000, atol=0.002)


def test_empty_corrupt_and_missing_files_are_named(tmp_path):
    empty = tmp_path / "empty.mp4"
    empty.touch()
    garbage = tmp_path / "garbage.mp4"
    garbage.write_bytes(np.random.default_rng(0).bytes(5000))
    for path, reason in [
        (empty, "empty"),
        (garbage, "not a readable video"),
        (tmp_path / "absent.mp4", "no such file"),
    ]:
        with pytest.raises(VideoError, match=reason) as caught:
            probe(path)
        assert caught.value.path == str(path)
        assert "Errno" not in caught.value.reason  # ffmpeg's words, not its error number


def test_truncated_files_are_reported(tmp_path):
    frames = ramp_frames(60)
    tail_index = encode(tmp_path / "a.mp4", frames)  # index (moov) at the end: cut off
    cut = tmp_path / "cut_index.mp4"
    cut.write_bytes(tail_index.read_bytes()[: tail_index.stat().st_size // 2])
    with pytest.raises(VideoError, match="cut_index.mp4: corrupt or truncated MP4/MOV") as caught:
        list(iter_frames(cut))
    assert "cut short" in caught.value.reason and caught.value.category == "corrupt"
    opts = {"container_options": {"movflags": "faststart"}}
    head_index = encode(tmp_path / "b.mp4", frames, **opts)  # index first: frames go missing
    short = tmp_path / "cut_frames.mp4"
    short.write_bytes(head_index.read_bytes()[: head_index.stat().st_size // 2])
    with pytest.raises(VideoError, match=r"cut_frames.mp4: (truncated|corrupt)"):
        list(iter_frames(short))


def write_folder(folder: Path, names: list[str]) -> Path:
    folder.mkdir()
    for i, name in enumerate(names):
        cv2.imwrite(str(folder / name), np.full((8, 10, 3), 10 * i, np.uint8))
    return folder


def test_frame_folder_is_in_numeric_order(tmp_path):
    names = ["0.998.png", "0.999.png", "0.1000.png", "0.1001.png"]  # text order puts 1000 first
    folder = write_folder(tmp_path / "vid", names)
    frames = np.stack(list(iter_frames(folder)))
    assert frames[:, 0, 0, 0].tolist() == [0, 10, 20, 30]
    assert probe(folder).n_frames == 4
    assert read_frames(folder, [2])[0, 0, 0, 0] == 20


def test_frame_folder_with_a_missing_frame_is_reported(tmp_path):
    folder = write_folder(tmp_path / "gappy", ["0.1.jpg", "0.2.jpg", "0.4.jpg"])
    with pytest.raises(VideoError, match="missing frame number 3") as caught:
        probe(folder)
    assert caught.value.path == str(folder)


def test_prefetch_keeps_order_and_passes_errors_on():
    assert list(prefetch(iter(range(50)), depth=3)) == list(range(50))
    endless = prefetch(itertools.count(), depth=2)
    assert next(endless) == 0
    endless.close()  # the consumer stops early: the producer thread must stop too, not hang

    def failing():
        yield 1
        raise VideoError("x.mp4", "corrupt or truncated video")

    with pytest.raises(VideoError, match="x.mp4"):
        list(prefetch(failing()))


def test_frame_folder_numbering_problems(tmp_path):
    repeated = write_folder(tmp_path / "repeated", ["a_1.png", "b_1.png", "c_2.png"])
    with pytest.raises(VideoError, match="repeated after"):
        probe(repeated)
    unnumbered = write_folder(tmp_path / "named", ["first.png", "second.png"])
    assert probe(unnumbered).n_frames == 2  # no numbers: nothing to check, name order
    with pytest.raises(VideoError, match="no images"):
        probe(write_folder(tmp_path / "empty", []))


def test_resampling_picks_the_frame_nearest_each_output_time():
    from marlinflow.video.timing import is_variable_rate, resample_indices

    steady = np.arange(30) / 30  # one second at 30 fps
    assert not is_variable_rate(steady, 30)
    assert resample_indices(steady, 25).tolist() == [round(k * 30 / 25) for k in range(25)]
    held = np.array([0.0, 0.04, 0.08, 0.41, 0.45])  # a frame held for 330 ms
    assert is_variable_rate(held, 25)
    assert resample_indices(held, 25).tolist() == [0, 1, 2, 2, 2, 2, 2, 3, 3, 3, 3, 4]


def test_a_clip_window_decodes_to_the_frames_exact_seeking_gives(
    tmp_path, carphone, samples_dir, monkeypatch
):
    """read_clip (seek to the window, decode it) equals read_frames (decord) on a face clip with
    a keyframe every 16 frames at an NTSC rate, carphone (H.264 with B-frames), an MPEG-4 face
    crop, and windows that run past the last frame (which repeats); files whose timestamps do
    not number their frames (variable rate, a dropped frame before the window) are read with
    read_frames."""
    from marlinflow.video import io
    from marlinflow.video.writer import write_video

    exact_seeks = []
    monkeypatch.setattr(io, "read_frames", lambda p, i: exact_seeks.append(p) or read_frames(p, i))
    face_clip = tmp_path / "face.mp4"
    write_video(face_clip, ramp_frames(70, 64, 64), 30000 / 1001, keyframe_interval=16)
    steps = [40 * i + 25 * (i > 9) for i in range(30)]
    vfr = encode(tmp_path / "vfr.mkv", ramp_frames(30), pts=steps)
    dropped = encode(
        tmp_path / "dropped.mp4", ramp_frames(30), pts=[40 * i + 40 * (i > 9) for i in range(30)]
    )
    for path in (face_clip, carphone, samples_dir / "cropped01.mp4", vfr, dropped):
        n, exact_seeks[:] = probe(path).n_frames, []
        for start in (0, 21, n // 2 + 3, n - 9):
            indices = [min(start + 2 * i, n - 1) for i in range(8)]
            assert np.array_equal(read_clip(path, indices), read_frames(path, indices)), (
                path,
                start,
            )
        assert len(exact_seeks) == (4 if path in (vfr, dropped) else 0), path
