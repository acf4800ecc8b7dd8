"""Parsing maps drawn from real landmarks: parts where the landmarks are, LaPa's left/right, storage."""

from __future__ import annotations

import cv2
import numpy as np
import pytest
import skimage.data

from marlinflow.face.detect import landmarks_per_frame
from marlinflow.face.parsing import label_coverage, rasterize_parts
from marlinflow.face.store import PART_LABELS, load_parsing, save_parsing
from marlinflow.video.io import iter_frames, read_frames

L = PART_LABELS


def dlib_landmarks(frames, upsample: int = 0) -> np.ndarray:
    return landmarks_per_frame(frames, upsample)


def astronaut_crop() -> tuple[np.ndarray, np.ndarray]:
    """A 224x224 crop around the astronaut's face, with its landmarks in crop pixels."""
    image = skimage.data.astronaut()
    points = dlib_landmarks([image])[0]
    x0, y0 = (points.mean(0) - 112).round().astype(int)
    return np.ascontiguousarray(image[y0 : y0 + 224, x0 : x0 + 224]), points - (x0, y0)


def carphone_crops(carphone) -> tuple[list[np.ndarray], list[np.ndarray]]:
    """Frames of the carphone clip cut square around the face and scaled up to 224x224."""
    frames = read_frames(carphone, [0, 50, 100])
    crops, landmarks = [], []
    for frame, points in zip(frames, dlib_landmarks(frames, upsample=1), strict=True):
        half = 0.8 * np.ptp(points[:, 0])
        x0, y0 = (points.mean(0) - half).round().astype(int)
        side = int(round(2 * half))
        square = frame[max(y0, 0) : y0 + side, max(x0, 0) : x0 + side]
        scale = 224 / side
        crops.append(cv2.resize(square, (224, 224), interpolation=cv2.INTER_LINEAR))
        landmarks.append((points - (max(x0, 0), max(y0, 0))) * scale)
    return crops, landmarks


@pytest.fixture(scope="module")
def faces(request, carphone):
    """Real crops (N, 224, 224, 3) with landmarks: the astronaut, carphone and, where the
    samples are present, frames of two 224x224 face clips."""
    crop, points = astronaut_crop()
    crops, landmarks = carphone_crops(carphone)
    crops, landmarks = [crop, *crops], [points, *landmarks]
    try:
        samples_dir = request.getfixturevalue("samples_dir")
    except pytest.skip.Exception:
        samples_dir = None
    for name in ("cropped01.mp4", "cropped03.mp4") if samples_dir else ():
        frames = read_frames(samples_dir / name, [0, 40, 80, 120])
        crops.extend(frames)
        landmarks.extend(dlib_landmarks(frames))
    landmarks = np.stack(landmarks)
    assert np.isfinite(landmarks).all(), "dlib found a face in every test frame"
    return np.stack(crops), landmarks


@pytest.fixture(scope="module")
def labels(faces):
    return rasterize_parts(faces[1], 224)


def centroid(mask: np.ndarray) -> np.ndarray:
    ys, xs = np.nonzero(mask)
    return np.array([xs.mean(), ys.mean()])


def test_every_part_is_drawn_on_every_face(labels):
    for frame in labels:
        missing = set(L.values()) - set(np.unique(frame).tolist())
        # inner mouth is empty when the lips are closed; hair may fall outside a tight crop
        assert missing <= {L["inner_mouth"], L["hair"]}, missing


@pytest.mark.parametrize(
    ("part", "points"), [("right_eye", slice(36, 42)), ("left_eye", slice(42, 48))]
)
def test_eye_labels_sit_on_the_eye_landmarks(labels, faces, part, points):
    for frame, lm in zip(labels, faces[1], strict=True):
        offset = centroid(frame == L[part]) - lm[points].mean(0)
        assert np.hypot(*offset) < 2.0, offset


def test_subjects_right_is_on_the_image_left(labels):
    for frame in labels:
        assert centroid(frame == L["right_eye"])[0] < centroid(frame == L["left_eye"])[0]
        assert centroid(frame == L["right_brow"])[0] < centroid(frame == L["left_brow"])[0]


def test_brows_lie_above_the_eyes(labels):
    for frame in labels:
        assert centroid(frame == L["right_brow"])[1] < centroid(frame == L["right_eye"])[1]
        assert centroid(frame == L["left_brow"])[1] < centroid(frame == L["left_eye"])[1]


def at(frame: np.ndarray, points: np.ndarray) -> np.ndarray:
    xs, ys = np.clip(points.round().astype(int), 0, 223).T
    return frame[ys, xs]


def near(frame: np.ndarray, points: np.ndarray, wanted: list[int]) -> np.ndarray:
    """Whether each point has one of the ``wanted`` labels within a pixel (points on a polygon's
    edge may round to the pixel just outside it)."""
    return np.stack([np.isin(at(frame, points + d), wanted) for d in np.ndindex(3, 3)]).any(0)


def test_mouth_covers_the_lip_landmarks_and_nose_the_nose_landmarks(labels, faces):
    mouth = [L["upper_lip"], L["inner_mouth"], L["lower_lip"]]
    for frame, lm in zip(labels, faces[1], strict=True):
        assert near(frame, lm[48:68] - 1, mouth).all()
        assert (at(frame, lm[48:60]) != L["inner_mouth"]).all()  # lips ring the inner mouth
        assert (at(frame, lm[[28, 29, 30, 33]]) == L["nose"]).all()


def test_skin_surrounds_the_inner_parts(labels, faces):
    inner = [L[k] for k in ("right_brow", "left_brow", "right_eye", "left_eye", "nose")]
    for frame, lm in zip(labels, faces[1], strict=True):
        part = np.isin(frame, inner + [L["upper_lip"], L["lower_lip"], L["inner_mouth"]])
        ring = np.zeros_like(part)  # pixels next to a part that are not part themselves
        ring[1:] |= part[:-1]
        ring[:-1] |= part[1:]
        ring[:, 1:] |= part[:, :-1]
        ring[:, :-1] |= part[:, 1:]
        assert not (frame[ring & ~part] == L["background"]).any()
        cheeks = (lm[[2, 14]] + lm[30]) / 2  # halfway from the jaw to the nose tip
        assert (at(frame, cheeks) == L["skin"]).all()


def test_corners_of_a_face_crop_are_background(labels):
    assert (labels[:, [0, 0, -1, -1], [0, -1, 0, -1]] == L["background"]).all()


def test_frames_without_a_face_are_background(faces):
    landmarks = faces[1][:3].copy()
    landmarks[2] = np.nan  # a tracker may also leave NaN where it lost the face
    labels = rasterize_parts(landmarks, 224, present=np.array([True, False, True]))
    assert labels[0].any()
    assert not labels[1].any() and not labels[2].any()
    assert rasterize_parts(landmarks[:0], 224).shape == (0, 224, 224)


def test_the_map_takes_the_size_it_is_given(faces):
    labels = rasterize_parts(faces[1][:1] * 0.5, 112)
    assert labels.shape == (1, 112, 112)
    assert (labels == L["left_eye"]).any()


def test_coverage_sums_to_one_over_frames_with_a_face(labels):
    coverage = label_coverage(labels, np.ones(len(labels), bool))
    assert set(coverage) == set(L)
    assert sum(coverage.values()) == pytest.approx(1.0, abs=1e-3)
    assert coverage["skin"] > coverage["nose"] > 0


def test_a_real_sequence_stores_in_under_3kb_per_frame(samples_dir, tmp_path):
    frames = list(iter_frames(samples_dir / "cropped02.mp4"))
    landmarks = dlib_landmarks(frames)
    present = np.isfinite(landmarks).all(axis=(1, 2))
    assert present.mean() > 0.9
    labels = rasterize_parts(landmarks, 224, present)
    save_parsing(tmp_path / "c.npz", labels, present)
    assert (tmp_path / "c.npz").stat().st_size / len(frames) <= 3000
    loaded, loaded_present = load_parsing(tmp_path / "c.npz")
    assert np.array_equal(loaded, labels) and np.array_equal(loaded_present, present)
