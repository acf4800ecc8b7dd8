"""Face detection and 68-point iBUG landmarks behind one interface, with interchangeable backends.

- ``dlib`` (default, CPU, offline): the HOG frontal-face detector and the 68-point shape predictor
  that ship with ``dlib-bin`` and ``face-recognition-models``. HOG runs on a frame resized so
  that its short side is ``detect_size`` pixels (it finds faces of >= 80 px there); the shape
  predictor runs on the full-resolution frame and costs ~1 ms per face, cheap enough to follow a
  face on every frame between detections.
- ``fan`` (face-alignment: S3FD detector + 2D-FAN landmarks, GPU-capable, batched detection). Its
  weight files must already be in ``torch.hub.get_dir()/checkpoints``; offline it cannot fetch them.

Boxes are (x1, y1, x2, y2) in source pixels; landmarks (68, 2) are (x, y) in source pixels.
"""

from __future__ import annotations

import functools
import importlib.util
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

import cv2
import numpy as np

BACKENDS = ("dlib", "fan")
HOG_MIN_FACE = 80  # pixels: dlib's HOG window
SFD_MIN_FACE = 32  # pixels: S3FD finds faces from about its second anchor size on


@dataclass
class Faces:
    """The faces found in one frame: boxes (K, 4), scores (K,), landmarks (K, 68, 2)."""

    boxes: np.ndarray
    scores: np.ndarray
    landmarks: np.ndarray

    @classmethod
    def none(cls) -> Faces:
        return cls(np.zeros((0, 4), np.float32), np.zeros(0, np.float32), np.zeros((0, 68, 2)))

    def __len__(self) -> int:
        return len(self.boxes)


class FaceDetector(Protocol):
    name: str

    def detect(self, frames: Sequence[np.ndarray], min_face: float = 0) -> list[Faces]:
        """The faces in each RGB uint8 frame (H, W, 3): all that the detector can find, or when
        ``min_face`` > 0 at least those of ``min_face`` pixels and larger (faster)."""
        ...

    def landmarks(self, frame: np.ndarray, boxes: np.ndarray) -> np.ndarray:
        """(K, 68, 2) landmarks of the faces in ``boxes`` (K, 4) (detector-style boxes)."""
        ...


class MissingWeightsError(RuntimeError):
    """A face model's weight files are not where the backend looks for them (no download offline)."""


def _resize_for_detection(
    frame: np.ndarray, detect_size: int, min_face: float, smallest_found: float
) -> tuple[np.ndarray, float]:
    """Shrink the frame so its short side is ``detect_size``; shrink it further when only faces
    of at least ``min_face`` source pixels are wanted (the detector still sees them at its
    ``smallest_found`` size). Detection cost grows with the pixel count."""
    scale = detect_size / min(frame.shape[:2])
    if min_face > 0:
        scale = min(scale, smallest_found / min_face)
    if abs(scale - 1) < 0.05:
        return frame, 1.0
    interpolation = cv2.INTER_AREA if scale < 1 else cv2.INTER_LINEAR
    return cv2.resize(frame, None, fx=scale, fy=scale, interpolation=interpolation), scale


def dlib_model_path(name: str) -> Path:
    """A model file shipped by face-recognition-models (found without importing pkg_resources)."""
    spec = importlib.util.find_spec("face_recognition_models")
    if spec is None or spec.origin is None:
        raise MissingWeightsError("the dlib backend needs the face-recognition-models package")
    return Path(spec.origin).parent / "models" / name


def landmarks_per_frame(frames, upsample: int = 0) -> np.ndarray:
    """(N, 68, 2) iBUG points of the largest face in each frame, found on its own (no tracking,
    no smoothing: for checks and quick looks); NaN where dlib finds no face."""
    import dlib

    detector = dlib.get_frontal_face_detector()
    predictor = dlib.shape_predictor(str(dlib_model_path("shape_predictor_68_face_landmarks.dat")))
    points = np.full((len(frames), 68, 2), np.nan)
    for i, frame in enumerate(frames):
        faces = detector(frame, upsample)  # upsample: find faces under ~80 px
        if len(faces):
            shape = predictor(frame, max(faces, key=lambda r: r.area()))
            points[i] = [(p.x, p.y) for p in shape.parts()]
    return points


class DlibDetector:
    name = "dlib"

    def __init__(self, detect_size: int, threshold: float = 0.0):
        import dlib

        self._dlib = dlib
        self.detect_size = detect_size
        self.threshold = threshold
        self._hog = dlib.get_frontal_face_detector()
        self._shape = dlib.shape_predictor(
            str(dlib_model_path("shape_predictor_68_face_landmarks.dat"))
        )

    def detect(self, frames: Sequence[np.ndarray], min_face: float = 0) -> list[Faces]:
        return [self._detect_one(frame, min_face) for frame in frames]  # HOG has no batch mode

    def _detect_one(self, frame: np.ndarray, min_face: float) -> Faces:
        small, scale = _resize_for_detection(frame, self.detect_size, min_face, HOG_MIN_FACE)
        rects, scores, _ = self._hog.run(small, 0, self.threshold)
        if not rects:
            return Faces.none()
        boxes = np.array([[r.left(), r.top(), r.right() + 1, r.bottom() + 1] for r in rects])
        boxes = boxes.astype(np.float32) / scale
        return Faces(boxes, np.asarray(scores, np.float32), self.landmarks(frame, boxes))

    def landmarks(self, frame: np.ndarray, boxes: np.ndarray) -> np.ndarray:
        points = np.zeros((len(boxes), 68, 2), np.float32)
        for k, (x1, y1, x2, y2) in enumerate(np.round(boxes).astype(int)):
            shape = self._shape(frame, self._dlib.rectangle(x1, y1, x2 - 1, y2 - 1))
            points[k] = [(p.x, p.y) for p in shape.parts()]
        return points


FAN_WEIGHTS = ("s3fd-619a316812.pth", "2DFAN4-11f355bf06.pth.tar")


def fan_weights_folder() -> Path:
    import torch

    return Path(torch.hub.get_dir()) / "checkpoints"


def check_fan_weights() -> None:
    """Raise, naming the files and the folder, unless face-alignment's weights are in place."""
    folder = fan_weights_folder()
    missing = [name for name in FAN_WEIGHTS if not (folder / name).is_file()]
    if missing:
        raise MissingWeightsError(
            f"the fan backend needs {', '.join(missing)} in {folder} (face-alignment's release "
            "files from https://www.adrianbulat.com/downloads/python-fan/; copy them there, or set "
            "TORCH_HOME to a folder whose hub/checkpoints holds them)"
        )


class FanDetector:
    name = "fan"

    def __init__(self, detect_size: int, device: str | None = None):
        check_fan_weights()
        import face_alignment

        from marlinflow.compute.devices import resolve_device

        self.device = resolve_device(device or "auto")
        self.detect_size = detect_size
        self._fa = face_alignment.FaceAlignment(
            face_alignment.LandmarksType.TWO_D, device=self.device, flip_input=False, compile=False
        )

    def detect(self, frames: Sequence[np.ndarray], min_face: float = 0) -> list[Faces]:
        import torch

        resized = [
            _resize_for_detection(frame, self.detect_size, min_face, SFD_MIN_FACE)
            for frame in frames
        ]
        batch = torch.from_numpy(np.stack([small for small, _ in resized]))  # (B, h, w, 3) RGB
        found = self._fa.face_detector.detect_from_batch(batch.permute(0, 3, 1, 2).float())
        faces = []
        for frame, (_, scale), rows in zip(frames, resized, found, strict=True):
            rows = np.asarray(rows, np.float32).reshape(-1, 5)
            boxes = rows[:, :4] / scale
            landmarks = self.landmarks(frame, boxes) if len(boxes) else np.zeros((0, 68, 2))
            faces.append(Faces(boxes, rows[:, 4], landmarks))
        return faces

    def landmarks(self, frame: np.ndarray, boxes: np.ndarray) -> np.ndarray:
        points = self._fa.get_landmarks_from_image(frame, detected_faces=list(boxes))
        return np.asarray(points, np.float32).reshape(len(boxes), 68, 2)


def make_detector(backend: str, detect_size: int) -> FaceDetector:
    """A detector of the named backend, built once per process and setting (loading dlib's
    models takes 0.5-2 s; the detectors keep no state between calls)."""
    if backend not in BACKENDS:
        raise ValueError(f"unknown face backend {backend!r}; choose one of {', '.join(BACKENDS)}")
    return _cached_detector(backend, int(detect_size))


@functools.lru_cache(maxsize=2)
def _cached_detector(backend: str, detect_size: int) -> FaceDetector:
    return DlibDetector(detect_size) if backend == "dlib" else FanDetector(detect_size)
