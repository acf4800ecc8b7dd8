"""Similarity crops made straight from a frame's YUV 4:2:0 planes: the geometry of the RGB crop
(luma and chroma alike), at least its fidelity to the RGB crop, and only for frames whose
planes mean the colours the clip's do."""

from __future__ import annotations

import av
import cv2
import numpy as np
import pytest

from marlinflow.face import align
from marlinflow.video.io import iter_decoded, to_rgb
from marlinflow.video.yuv import planes_420, rgb_to_i420

WINDOWS = [
    np.array([88.0, 70.0, 40.0, 0.3]),  # a turned face inside the frame
    np.array([20.0, 130.0, 50.0, -0.2]),  # a corner: part of the crop is outside the image
]


def as_rgb(i420: np.ndarray) -> np.ndarray:
    return av.VideoFrame.from_ndarray(i420, format="yuv420p").to_ndarray(format="rgb24")


def psnr(a: np.ndarray, b: np.ndarray) -> float:
    return float(10 * np.log10(255**2 / np.mean((a.astype(float) - b.astype(float)) ** 2)))


@pytest.mark.parametrize("window", WINDOWS)
def test_planes_crop_is_the_rgb_crop(carphone, window):
    frames = [frame for _, frame in iter_decoded(carphone)][::30]
    for frame in frames:
        ideal = align.crop_frame(to_rgb(frame), window, "similarity", 224)
        direct = as_rgb(align.crop_planes(planes_420(frame), window, 224))
        via_rgb = as_rgb(rgb_to_i420(ideal))  # what the encoder gets of an RGB crop
        # a 176x144 frame blown up 2-3x: its 88x72 chroma's interpolation differs a little
        assert psnr(direct, ideal) > max(38, psnr(via_rgb, ideal) - 1)
    inside = align.crop_frame(np.full((144, 176, 3), 255, np.uint8), window, "similarity", 224)
    outside = cv2.erode((inside[..., 0] == 0).astype(np.uint8), np.ones((5, 5))) > 0
    assert (direct[outside] <= 2).all()  # black outside the image, as in RGB


def test_planes_crop_is_closer_to_the_rgb_crop_than_its_colour_round_trip(samples_dir):
    window = np.array([260.0, 150.0, 60.0, 0.1])  # video01's face, about where the track has it
    for index, (_, frame) in enumerate(iter_decoded(samples_dir / "video01.mp4")):
        if index % 100 == 0:
            ideal = align.crop_frame(to_rgb(frame), window, "similarity", 224)
            direct = as_rgb(align.crop_planes(planes_420(frame), window, 224))
            assert psnr(direct, ideal) > psnr(as_rgb(rgb_to_i420(ideal)), ideal) + 3  # 49 vs 44


@pytest.mark.parametrize("window", WINDOWS)
def test_luma_and_chroma_land_where_the_rgb_crop_puts_them(window):
    rgb = np.zeros((144, 176, 3), np.uint8)
    x, y = window[:2] + np.array([0.3, -0.2]) * window[2]  # a red dot in the crop
    cv2.circle(rgb, (round(x * 16), round(y * 16)), 6 * 16, (255, 40, 40), -1, cv2.LINE_AA, 4)
    frame = av.VideoFrame.from_ndarray(rgb, format="rgb24").reformat(format="yuv420p")
    ideal = align.crop_frame(to_rgb(frame), window, "similarity", 224)
    i420 = align.crop_planes(planes_420(frame), window, 224)
    luma = i420[:224].astype(float) - 16
    assert np.abs(centroid(luma) - centroid(ideal.mean(axis=2))).max() < 0.2
    redness = [image[..., 0].astype(float) - image[..., 1] for image in (as_rgb(i420), ideal)]
    assert np.abs(centroid(redness[0]) - centroid(redness[1])).max() < 0.25  # chroma, as read


def centroid(weight: np.ndarray) -> np.ndarray:
    yy, xx = np.mgrid[: weight.shape[0], : weight.shape[1]]
    return np.array([(xx * weight).sum(), (yy * weight).sum()]) / weight.sum()


def test_only_bt601_limited_upright_420_frames_are_cropped_from_their_planes():
    rgb = np.zeros((32, 48, 3), np.uint8)
    frame = av.VideoFrame.from_ndarray(rgb, format="rgb24").reformat(format="yuv420p")
    assert [plane.shape for plane in planes_420(frame)] == [(32, 48), (16, 24), (16, 24)]
    assert planes_420(rgb) is None  # a frame folder's image
    assert planes_420(frame.reformat(format="yuvj420p")) is None  # full range
    assert planes_420(frame.reformat(format="yuv444p")) is None
    hd = frame.reformat(format="yuv420p", dst_colorspace="ITU709")
    assert planes_420(hd) is None or hd.colorspace != 1
