"""Is the face after a scene cut (or a long absence) the same person as the main face before it?

Uses dlib's face-recognition network (shipped by face-recognition-models): a 128-d descriptor
per face, where the same person lies within 0.6 (dlib's documented threshold). On the sample
videos the same person measured 0.22-0.48 apart and different people 0.62-0.87.

Descriptors cost about 0.1 s each, so they are computed only when a video has more than one
candidate segment, on frames fetched again by index (exact seeking), never on every track.
"""

from __future__ import annotations

from itertools import islice
from pathlib import Path

import numpy as np

from marlinflow.errors import VideoError
from marlinflow.face.detect import dlib_model_path
from marlinflow.face.track import Track
from marlinflow.video.io import iter_frames, read_frames

SAME_PERSON = 0.6


class IdentityCheck:
    """``check(chain_a, chain_b)``: whether two linked tracks of one video show the same person."""

    def __init__(self, source: str | Path):
        import dlib

        self._dlib = dlib
        self.source = source
        self._model = dlib.face_recognition_model_v1(
            str(dlib_model_path("dlib_face_recognition_resnet_model_v1.dat"))
        )
        self._cache: dict[int, np.ndarray] = {}

    def descriptor(self, track: Track) -> np.ndarray:
        """(128,) descriptor of the track's first frame (a detection frame)."""
        if id(track) not in self._cache:
            frame = self._frame(track.start)
            x1, y1, x2, y2 = np.round(track.boxes[0]).astype(int)
            points = [self._dlib.point(int(x), int(y)) for x, y in np.round(track.landmarks[0])]
            shape = self._dlib.full_object_detection(self._dlib.rectangle(x1, y1, x2, y2), points)
            self._cache[id(track)] = np.asarray(self._model.compute_face_descriptor(frame, shape))
        return self._cache[id(track)]

    def _frame(self, index: int) -> np.ndarray:
        try:
            return read_frames(self.source, [index])[0]
        except VideoError:  # no random access to this file: stream up to the frame
            return next(islice(iter_frames(self.source), index, None))

    def __call__(self, chain_a: list[Track], chain_b: list[Track]) -> bool:
        distance = np.linalg.norm(self.descriptor(chain_a[0]) - self.descriptor(chain_b[0]))
        return bool(distance < SAME_PERSON)
