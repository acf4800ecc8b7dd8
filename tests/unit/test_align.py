"""Crop geometry: the crop matrix predicts where source points land in the crop, the official rule
is reproduced literally, and similarity alignment levels the eyes whatever the pose."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from marlinflow.face import align


def canonical_landmarks(centre=(0.0, 0.0), scale=1.0, angle_deg=0.0) -> np.ndarray:
    """68 points with eyes at (+-20, 0) and mouth corners at (+-15, 40) around the origin, placed by
    a similarity transform (the other points sit on a ring; alignment uses eyes and mouth only)."""
    points = np.zeros((68, 2))
    ring = np.linspace(0, 2 * np.pi, 68, endpoint=False)
    points[:] = np.column_stack([50 * np.cos(ring), 20 + 50 * np.sin(ring)])
    points[36:42] = [-20, 0]
    points[42:48] = [20, 0]
    points[48], points[54] = [-15, 40], [15, 40]
    theta = np.deg2rad(angle_deg)
    rotation = np.array([[np.cos(theta), -np.sin(theta)], [np.sin(theta), np.cos(theta)]])
    return (points @ rotation.T) * scale + np.asarray(centre)


def dot_image(height: int, width: int, x: float, y: float) -> np.ndarray:
    frame = np.zeros((height, width, 3), np.uint8)
    cv2.circle(frame, (round(x * 16), round(y * 16)), 48, (255, 255, 255), -1, cv2.LINE_AA, 4)
    return frame


def bright_centroid(image: np.ndarray) -> np.ndarray:
    weight = image[..., 0].astype(float)
    yy, xx = np.mgrid[: image.shape[0], : image.shape[1]]
    return np.array([(xx * weight).sum(), (yy * weight).sum()]) / weight.sum()


@pytest.mark.parametrize(
    ("mode", "window"),
    [
        ("similarity", (150.0, 110.0, 60.0, 0.3)),
        ("official", (150.7, 110.2, 60.9, 0.0)),
        ("official", (30.0, 35.0, 40.0, 0.0)),
    ],
)
def test_crop_matrix_predicts_where_points_land(mode, window):
    window = np.array(window)
    for dx, dy in [(0.0, 0.0), (0.33, -0.25), (-0.31, 0.3)]:  # shares of the half-side
        x, y = window[0] + dx * window[2], window[1] + dy * window[2]
        crop = align.crop_frame(dot_image(240, 320, x, y), window, mode, 224)
        predicted = align.to_crop_coords(np.array([x, y]), align.crop_matrix(window, mode, 224))
        assert np.abs(bright_centroid(crop) - predicted).max() < 0.3  # half a pixel would show


def test_official_crop_is_the_literal_rule_with_zero_padding():
    rng = np.random.default_rng(0)
    frame = rng.integers(0, 255, (100, 120, 3), dtype=np.uint8)
    box = np.array([[-10.0, 30.0, 50.0, 95.0]])  # sticks out left: padded with zeros
    crop = align.crop_frame(frame, align.official_windows(box)[0], "official", 224)
    cx, cy, m = int(20.0), int(62.5), int(65 / 2)  # centre int((x1+x2)/2), half-side int(max/2)
    padded = np.zeros((2 * m, 2 * m, 3), np.uint8)
    y1 = min(cy + m, 100)
    padded[: y1 - (cy - m), m - cx :] = frame[cy - m : y1, 0 : cx + m]
    assert np.array_equal(crop, cv2.resize(padded, (224, 224), interpolation=cv2.INTER_LINEAR))
    assert crop[:, :40].max() == 0  # 12 of 64 columns left of the image: black


@pytest.mark.parametrize(("scale", "angle"), [(1.0, 0.0), (2.5, 25.0), (0.7, -40.0)])
def test_similarity_alignment_is_pose_invariant(scale, angle):
    landmarks = canonical_landmarks((200, 150), scale, angle)[None]
    window = align.similarity_windows(landmarks)[0]
    in_crop = align.to_crop_coords(landmarks[0], align.crop_matrix(window, "similarity", 224))
    reference = align.to_crop_coords(
        canonical_landmarks()[None][0],
        align.crop_matrix(
            align.similarity_windows(canonical_landmarks()[None])[0], "similarity", 224
        ),
    )
    assert np.degrees(window[3]) == pytest.approx(angle, abs=1e-6)
    assert np.allclose(in_crop, reference, atol=1e-6)
    assert in_crop[36, 1] == pytest.approx(in_crop[45, 1])  # eyes level
    assert abs(in_crop.mean(axis=0) - 112).max() < 0.15 * 224  # face centred


def test_margin_widens_the_crop():
    landmarks = canonical_landmarks((100, 100))[None]
    tight, loose = (
        align.similarity_windows(landmarks, 0.0),
        align.similarity_windows(landmarks, 0.5),
    )
    assert loose[0, 2] == pytest.approx(1.5 * tight[0, 2])
    assert np.allclose(loose[0, :2], tight[0, :2])
