"""Crop faces to 224x224: landmark-based similarity alignment, or the official square-box rule.

A crop window is four numbers per frame, ``(cx, cy, half, angle)``: the centre and half-side of
a square in source pixels and its roll in radians. Windows are what the tracker smooths over
time; :func:`crop_matrix` turns one into the 2x3 affine map from source pixels to crop pixels.

- ``similarity`` mode: the square is placed and rotated from the eyes and the mouth, so the face
  sits upright at the same place and scale in every frame. Its size is
  ``max(1.5 * eye distance, 1.4 * eye-to-mouth distance) * (1 + margin)``: with margin 0 the
  eyes are as far apart as in the official crops (69-73 px of 224 on the samples' cropped0*.mp4;
  ours 66-74); the max keeps the size steady when the head turns (eye distance shrinks) or nods
  (eye-to-mouth distance shrinks). The face is centred (the official crops sit ~20 px lower).
- ``official`` mode: MARLIN's rule from a detection box: centre ``int((x1+x2)/2)``, half-side
  ``int(max(w, h)/2)``, zero padding outside the image, bilinear resize, no margin, no rotation.
  The rule is exact, the box is the backend's: dlib's HOG boxes are tighter than the official
  RetinaFace boxes, so with the dlib backend these crops are ~1.3x closer than the official ones.
"""

from __future__ import annotations

import cv2
import numpy as np

MODES = ("similarity", "official")
EYE_SCALE, MOUTH_SCALE = 1.5, 1.4
CENTRE_BELOW_EYES = 0.4  # fraction of the eye-to-mouth vector: between the eyes and the nose tip
BLACK_YUV = (16, 128, 128)  # Y, U, V of black at limited range: outside the source image


def eyes_and_mouth(landmarks: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Left-in-image eye, right-in-image eye and mouth centres, each (..., 2), of iBUG-68 points."""
    left_eye = landmarks[..., 36:42, :].mean(axis=-2)
    right_eye = landmarks[..., 42:48, :].mean(axis=-2)
    mouth = (landmarks[..., 48, :] + landmarks[..., 54, :]) / 2  # the mouth corners
    return left_eye, right_eye, mouth


def similarity_windows(landmarks: np.ndarray, margin: float = 0.0) -> np.ndarray:
    """(N, 68, 2) landmarks -> (N, 4) windows (cx, cy, half, angle)."""
    left_eye, right_eye, mouth = eyes_and_mouth(landmarks.astype(np.float64))
    eye_centre = (left_eye + right_eye) / 2
    eye_to_eye = right_eye - left_eye  # (N, 2)
    eye_to_mouth = mouth - eye_centre
    angle = np.arctan2(eye_to_eye[:, 1], eye_to_eye[:, 0])
    half = np.maximum(
        EYE_SCALE * np.linalg.norm(eye_to_eye, axis=1),
        MOUTH_SCALE * np.linalg.norm(eye_to_mouth, axis=1),
    ) * (1 + margin)
    centre = eye_centre + CENTRE_BELOW_EYES * eye_to_mouth
    return np.column_stack([centre, half, angle])


def official_windows(boxes: np.ndarray) -> np.ndarray:
    """(N, 4) boxes x1, y1, x2, y2 -> (N, 4) windows; the integer rounding happens at crop time."""
    boxes = boxes.astype(np.float64)
    centre = (boxes[:, :2] + boxes[:, 2:]) / 2
    half = np.maximum(boxes[:, 2] - boxes[:, 0], boxes[:, 3] - boxes[:, 1]) / 2
    return np.column_stack([centre, half, np.zeros(len(boxes))])


def _official_square(window: np.ndarray) -> tuple[int, int, int]:
    """Top-left corner and side of the official integer square [cx-m, cx+m) x [cy-m, cy+m)."""
    cx, cy, half = int(window[0]), int(window[1]), max(int(window[2]), 1)
    return cx - half, cy - half, 2 * half


def crop_matrix(window: np.ndarray, mode: str, size: int) -> np.ndarray:
    """The (2, 3) affine map from source pixel coordinates to crop pixel coordinates."""
    if mode == "official":
        x0, y0, side = _official_square(window)
        k = size / side  # cv2.resize's pixel-centre rule: dst = (src - x0 + 0.5) * k - 0.5
        return np.array([[k, 0, (0.5 - x0) * k - 0.5], [0, k, (0.5 - y0) * k - 0.5]])
    cx, cy, half, angle = window
    k = size / (2 * half)
    a, b = k * np.cos(angle), k * np.sin(angle)  # rotate by -angle: the eyes become level
    return np.array([[a, b, size / 2 - (a * cx + b * cy)], [-b, a, size / 2 - (-b * cx + a * cy)]])


def crop_frame(frame: np.ndarray, window: np.ndarray, mode: str, size: int) -> np.ndarray:
    """The (size, size, 3) crop of an RGB frame; outside the image is black."""
    if mode == "official":
        return _official_crop(frame, window, size)
    return cv2.warpAffine(
        frame,
        crop_matrix(window, mode, size),
        (size, size),
        flags=cv2.INTER_LINEAR,
        borderMode=cv2.BORDER_CONSTANT,
        borderValue=0,
    )


def crop_planes(
    planes: tuple[np.ndarray, np.ndarray, np.ndarray], window: np.ndarray, size: int
) -> np.ndarray:
    """The similarity crop of a YUV 4:2:0 frame's planes, as a (size * 3 / 2, size) I420 array
    (:mod:`marlinflow.video.yuv`): each plane warped once, outside the image black.

    Chroma sample (i, j) sits at luma position (2i + 0.5, 2j + 0.5), the centre of its 2x2
    block, in source and crop alike: where ffmpeg's swscale, which every reader here converts
    with (PyAV, decord), puts it. So the chroma map is the luma map's linear part A with the
    translation ``(A o + t - o) / 2``, o = (0.5, 0.5).
    """
    matrix = crop_matrix(window, "similarity", size)
    linear, offset = matrix[:, :2], np.array([0.5, 0.5])
    chroma = np.column_stack([linear, (linear @ offset + matrix[:, 2] - offset) / 2])
    maps = (matrix, chroma, chroma)
    sides = (size, size // 2, size // 2)
    warped = [
        cv2.warpAffine(
            plane,
            plane_matrix,
            (side, side),
            flags=cv2.INTER_LINEAR,
            borderMode=cv2.BORDER_CONSTANT,
            borderValue=black,
        )
        for plane, plane_matrix, side, black in zip(planes, maps, sides, BLACK_YUV, strict=True)
    ]
    return np.concatenate([plane.ravel() for plane in warped]).reshape(size * 3 // 2, size)


def _official_crop(frame: np.ndarray, window: np.ndarray, size: int) -> np.ndarray:
    """Cut the integer square with zero padding, then resize it bilinearly, as the official code."""
    x0, y0, side = _official_square(window)
    height, width = frame.shape[:2]
    square = np.zeros((side, side, frame.shape[2]), frame.dtype)
    sx0, sy0 = max(x0, 0), max(y0, 0)
    sx1, sy1 = min(x0 + side, width), min(y0 + side, height)
    if sx1 > sx0 and sy1 > sy0:
        square[sy0 - y0 : sy1 - y0, sx0 - x0 : sx1 - x0] = frame[sy0:sy1, sx0:sx1]
    return cv2.resize(square, (size, size), interpolation=cv2.INTER_LINEAR)


def to_crop_coords(points: np.ndarray, matrix: np.ndarray) -> np.ndarray:
    """Map (..., 2) source points through a (2, 3) crop matrix."""
    return points @ matrix[:, :2].T + matrix[:, 2]


def windows_for(mode: str, boxes: np.ndarray, landmarks: np.ndarray, margin: float) -> np.ndarray:
    """Crop windows (N, 4) of a track in the chosen mode."""
    if mode == "similarity":
        return similarity_windows(landmarks, margin)
    if mode == "official":
        return official_windows(boxes)
    raise ValueError(f"unknown crop mode {mode!r}; choose one of {', '.join(MODES)}")
