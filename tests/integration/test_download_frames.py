"""Frame folders (YouTube Faces' layout) encoded into mp4s: numeric order, gaps, bad images."""

from __future__ import annotations

import logging

import numpy as np
import pytest
from PIL import Image

from marlinflow.download import fetch
from marlinflow.errors import InputError
from marlinflow.video.io import iter_frames, probe

NUMBERS = range(95, 107)  # crosses 99 -> 100, where a text sort goes wrong


def brightness(number: int) -> int:
    return 10 + 18 * (number - NUMBERS[0])


def write_frames(folder, numbers=NUMBERS, size=(48, 40)):
    folder.mkdir(parents=True, exist_ok=True)
    for number in numbers:
        gray = np.full((size[1], size[0], 3), brightness(number), np.uint8)
        Image.fromarray(gray).save(folder / f"0.{number}.jpg", quality=95)
    return folder


def decoded_brightness(path) -> list[int]:
    return [int(round(frame.mean())) for frame in iter_frames(path)]


def test_frames_are_encoded_in_numeric_order(tmp_path):
    folder = write_frames(tmp_path / "frames")
    result = fetch(str(folder), tmp_path / "v.mp4")
    got = decoded_brightness(tmp_path / "v.mp4")
    assert np.allclose(got, [brightness(n) for n in NUMBERS], atol=3)
    stats = result.stats()
    assert (stats["frames"], stats["video_fps"], stats["missing_frames"]) == (12, 25.0, 0)
    assert (stats["width"], stats["height"]) == (48, 40)


def test_missing_frame_is_reported(tmp_path, caplog):
    folder = write_frames(tmp_path / "frames", [n for n in NUMBERS if n != 100])
    with caplog.at_level(logging.WARNING):
        result = fetch(str(folder), tmp_path / "v.mp4", fps=10)
    assert (result.stats()["missing_frames"], result.stats()["gaps"]) == (1, [[99, 101]])
    assert "1 frame(s) missing" in caplog.text
    assert probe(tmp_path / "v.mp4").n_frames == 11
    assert probe(tmp_path / "v.mp4").fps == pytest.approx(10)


def test_window_selects_frames_by_time(tmp_path):
    folder = write_frames(tmp_path / "frames")
    fetch(str(folder), tmp_path / "v.mp4", fps=10, start=0.2, end=0.5)
    got = decoded_brightness(tmp_path / "v.mp4")
    assert np.allclose(got, [brightness(n) for n in NUMBERS[2:5]], atol=3)


def test_unreadable_image_names_the_file(tmp_path):
    folder = write_frames(tmp_path / "frames")
    (folder / "0.101.jpg").write_bytes(b"truncated")
    with pytest.raises(InputError, match="unreadable image") as err:
        fetch(str(folder), tmp_path / "v.mp4")
    assert err.value.path == str(folder / "0.101.jpg")
    assert not (tmp_path / "v.mp4").exists()


def test_frame_of_another_size_names_the_file(tmp_path):
    folder = write_frames(tmp_path / "frames")
    write_frames(folder, [103], size=(64, 40))
    with pytest.raises(InputError, match="size 64x40 differs") as err:
        fetch(str(folder), tmp_path / "v.mp4")
    assert err.value.path.endswith("0.103.jpg")


def test_odd_sized_frames_are_padded_to_even(tmp_path):
    folder = write_frames(tmp_path / "frames", size=(47, 39))
    info = fetch(str(folder), tmp_path / "v.mp4").info
    assert (info.width, info.height, info.n_frames) == (48, 40, 12)


def test_folder_without_images(tmp_path):
    (tmp_path / "frames").mkdir()
    (tmp_path / "frames" / "readme.txt").write_text("no frames here")
    with pytest.raises(InputError, match="no frame images"):
        fetch(str(tmp_path / "frames"), tmp_path / "v.mp4")


def test_sha256_is_refused_for_a_folder(tmp_path):
    folder = write_frames(tmp_path / "frames", NUMBERS[:2])
    with pytest.raises(InputError, match="sha256 cannot be checked"):
        fetch(str(folder), tmp_path / "v.mp4", sha256="0" * 64)
