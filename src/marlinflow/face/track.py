"""Follow every face through a video in one streaming pass: detect on key frames, follow between.

Detection (tens of ms) runs on every ``interval``-th frame, at scene cuts, and on the frame after
a face was lost. Between key frames each face is followed by re-fitting its landmarks from the
box of the previous frame (about 1 ms with dlib). A followed face whose landmarks jump or shrink
implausibly is lost. Tracks never continue across a scene cut, found by comparing colour
histograms of consecutive frames (a cut changes most of the histogram at once; motion does not).

Boxes are kept in the detector's own convention: each track learns how its detector boxes sit
around its landmarks and derives the box of followed frames from the landmarks the same way.

Detection is the costliest part, and its input for the next scheduled key frame is known early:
that frame, and the smallest face size sought (:meth:`FaceFollower._min_face`), which changes
only at a detection, a lost track or a cut. So after each key frame the detector starts on the
next scheduled one in a worker thread (dlib and torch release the GIL), read ahead of the
frames being followed; the result is used only where the size sought is still the same when
that frame comes, otherwise the frame is detected again. The tracks are those of one thread.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field

import cv2
import numpy as np

from marlinflow.face.detect import FaceDetector, Faces

MIN_MATCH = 0.5  # a detection continues a track at this IoU, or centres half a face apart
MAX_MISSED_DETECTIONS = 2  # key frames in a row a followed face may go undetected
MAX_SCALE_CHANGE = 1.3  # beyond this change of size since its detection a followed face is lost
MIN_FACE_SHARE = 0.75  # key frames ignore faces below this share of the followed ones' size
MAX_STEP = 0.5  # per frame, a followed face moving more than this share of its size is lost


@dataclass
class Track:
    """One face followed over consecutive frames ``start .. start + len - 1``."""

    start: int
    boxes: list[np.ndarray] = field(default_factory=list)
    landmarks: list[np.ndarray] = field(default_factory=list)
    scores: list[float] = field(default_factory=list)
    box_offset: np.ndarray | None = None  # detector box centre - landmark centroid, box w, h
    detected_span: float = 1.0  # landmark extent at the last detection
    missed: int = 0

    @property
    def end(self) -> int:
        """Index of the last frame (inclusive)."""
        return self.start + len(self.boxes) - 1

    def add(self, box: np.ndarray, landmarks: np.ndarray, score: float) -> None:
        self.boxes.append(np.asarray(box, np.float32))
        self.landmarks.append(np.asarray(landmarks, np.float32))
        self.scores.append(float(score))


def _learn_box_offset(track: Track, box: np.ndarray, landmarks: np.ndarray) -> None:
    """Remember the detector's box relative to the landmarks' centroid: the centre offset and
    the box size. Followed frames move the box with the landmarks but keep its size until the
    next detection: a size re-derived from fitted landmarks every frame feeds back on itself
    and can collapse within a few frames on an open mouth or a turned head."""
    centre = (box[:2] + box[2:]) / 2
    track.box_offset = np.concatenate([centre - landmarks.mean(axis=0), box[2:] - box[:2]])
    track.detected_span = _span(landmarks)


def _span(landmarks: np.ndarray) -> float:
    """Size of a face from its landmarks: the larger side of their extent."""
    return max(float(np.ptp(landmarks, axis=0).max()), 1.0)


def box_from_landmarks(track: Track, landmarks: np.ndarray) -> np.ndarray:
    centre = landmarks.mean(axis=0) + track.box_offset[:2]
    half = track.box_offset[2:] / 2
    return np.concatenate([centre - half, centre + half])


def same_face(a: np.ndarray, b: np.ndarray) -> float:
    """How well box b continues box a: IoU, or 1 - centre distance / size when that is higher
    (a small face moving fast overlaps its last box little but stays close to it)."""
    size = max(a[2] - a[0], a[3] - a[1], 1.0)
    closeness = 1 - np.abs((a[:2] + a[2:]) - (b[:2] + b[2:])).max() / 2 / size
    return max(iou(a, b), float(closeness))


def iou(a: np.ndarray, b: np.ndarray) -> float:
    inter = np.clip(np.minimum(a[2:], b[2:]) - np.maximum(a[:2], b[:2]), 0, None).prod()
    union = (a[2:] - a[:2]).prod() + (b[2:] - b[:2]).prod() - inter
    return float(inter / union) if union > 0 else 0.0


def colour_histogram(frame: np.ndarray) -> np.ndarray:
    """(512,) normalised 8x8x8 RGB histogram of a frame subsampled to about 64 px wide."""
    step = max(1, frame.shape[1] // 64)
    small = np.ascontiguousarray(frame[::step, ::step])
    hist = cv2.calcHist([small], [0, 1, 2], None, [8, 8, 8], [0, 256] * 3).ravel()
    return hist / max(hist.sum(), 1)


def is_cut(previous: np.ndarray | None, current: np.ndarray, threshold: float) -> bool:
    """True when more than ``threshold`` of the histogram mass moved (total variation)."""
    return previous is not None and 0.5 * np.abs(previous - current).sum() > threshold


def _plausible_step(track: Track, landmarks: np.ndarray, shape: tuple) -> bool:
    """A followed face keeps about the size it had when detected, moves less than half its size
    per frame, and stays in the frame; otherwise the landmarks slipped off it."""
    ratio = _span(landmarks) / track.detected_span
    centre = landmarks.mean(axis=0)
    step = np.abs(centre - track.landmarks[-1].mean(axis=0)).max() / track.detected_span
    inside = 0 <= centre[0] < shape[1] and 0 <= centre[1] < shape[0]
    return inside and 1 / MAX_SCALE_CHANGE < ratio < MAX_SCALE_CHANGE and step < MAX_STEP


class FaceFollower:
    """Consume frames one by one; ``tracks`` holds every track seen, finished or not."""

    def __init__(self, detector: FaceDetector, interval: int, cut_threshold: float):
        self.detector = detector
        self.interval = max(1, interval)
        self.cut_threshold = cut_threshold
        self.tracks: list[Track] = []
        self.cuts: list[int] = []
        self._active: list[Track] = []
        self._histogram: np.ndarray | None = None
        self._redetect = True
        self._ahead: tuple[int, float, Future] | None = None  # frame, size sought, detection

    def feed(self, index: int, frame: np.ndarray) -> bool:
        """Take the next frame; True when it was a key frame (faces detected)."""
        histogram = colour_histogram(frame)
        if is_cut(self._histogram, histogram, self.cut_threshold):
            self.cuts.append(index)
            self._active, self._redetect = [], True
        self._histogram = histogram
        key = self._redetect or index % self.interval == 0
        self._redetect = False
        if key:
            self._match_detections(index, frame)
        else:
            self._follow(frame)
        return key

    def next_key_frame(self, index: int) -> int:
        """The next scheduled key frame after ``index``."""
        return (index // self.interval + 1) * self.interval

    def detect_ahead(self, index: int, frame: np.ndarray, pool: ThreadPoolExecutor) -> None:
        """Start detecting key frame ``index`` in ``pool`` with the size sought now."""
        self.drop_ahead()
        min_face = self._min_face()
        self._ahead = (index, min_face, pool.submit(self.detector.detect, [frame], min_face))

    def _detect(self, index: int, frame: np.ndarray) -> Faces:
        """The faces of key frame ``index``: those found ahead where they were sought at the
        same size, else found now."""
        min_face = self._min_face()
        if self._ahead is not None and self._ahead[:2] == (index, min_face):
            faces, self._ahead = self._ahead[2].result()[0], None
            return faces
        self.drop_ahead()
        return self.detector.detect([frame], min_face)[0]

    def drop_ahead(self) -> None:
        """Forget the detection ahead, after it has stopped: a detector runs one frame at a time."""
        if self._ahead is not None and not self._ahead[2].cancel():
            self._ahead[2].exception()  # wait; its result is not used
        self._ahead = None

    def _follow(self, frame: np.ndarray) -> None:
        for track in list(self._active):
            self._follow_track(track, frame)

    def _follow_track(self, track: Track, frame: np.ndarray) -> None:
        """Re-fit the landmarks from the previous box; end the track if the result is implausible."""
        box = box_from_landmarks(track, track.landmarks[-1])
        landmarks = self.detector.landmarks(frame, box[None])[0]
        if _plausible_step(track, landmarks, frame.shape):
            track.add(box_from_landmarks(track, landmarks), landmarks, track.scores[-1])
        else:
            self._active.remove(track)
            self._redetect = True

    def _match_detections(self, index: int, frame: np.ndarray) -> None:
        faces = self._detect(index, frame)
        unmatched = set(range(len(faces)))
        for track in sorted(self._active, key=lambda t: -len(t.boxes)):  # older tracks choose first
            last_box = track.boxes[-1]
            overlaps = {k: same_face(last_box, faces.boxes[k]) for k in unmatched}
            best = max(overlaps, key=overlaps.get, default=None)
            if best is not None and overlaps[best] >= MIN_MATCH:
                unmatched.discard(best)
                track.missed = 0
                self._extend(track, faces.boxes[best], faces.landmarks[best], faces.scores[best])
            else:
                track.missed += 1
        for track in [t for t in self._active if t.missed]:
            if track.missed > MAX_MISSED_DETECTIONS:
                self._active.remove(track)
            else:  # the detector may miss a turned face for a moment: keep following it
                self._follow_track(track, frame)
        for k in sorted(unmatched):
            self._supersede(faces.boxes[k], index)
            track = Track(start=index)
            self._extend(track, faces.boxes[k], faces.landmarks[k], faces.scores[k])
            self.tracks.append(track)
            self._active.append(track)

    def _supersede(self, box: np.ndarray, index: int) -> None:
        """A new detection on top of an undetected, followed face means the following slipped:
        that track ends on the previous frame, so the new one can continue it without overlap."""
        for track in [t for t in self._active if t.missed and t.end == index]:
            if iou(track.boxes[-1], box) > 0:
                self._active.remove(track)
                for values in (track.boxes, track.landmarks, track.scores):
                    values.pop()

    def _min_face(self) -> float:
        """While faces are followed, look only for faces nearly as large as the smallest of them
        (the main face is chosen among the large ones): the detector then works on a smaller
        image. With none followed, look for every face."""
        if not self._active:
            return 0.0
        return MIN_FACE_SHARE * min(float(np.max(t.box_offset[2:])) for t in self._active)

    def _extend(self, track: Track, box, landmarks, score) -> None:
        _learn_box_offset(track, box, landmarks)
        track.add(box_from_landmarks(track, landmarks), landmarks, score)


def follow_faces(
    frames: Iterable[np.ndarray],
    detector: FaceDetector,
    interval: int,
    cut_threshold: float,
) -> tuple[list[Track], list[int], int]:
    """All tracks, the scene-cut frame indices, and the number of frames, in one pass; each key
    frame's detection starts after the previous key frame, in a worker thread."""
    follower = FaceFollower(detector, interval, cut_threshold)
    n_frames = 0
    frames = Lookahead(frames)
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="detect-ahead") as pool:
        try:
            for index, frame in frames:
                n_frames = index + 1
                if follower.feed(index, frame):
                    key = follower.next_key_frame(index)
                    ahead = frames.peek(key)
                    if ahead is not None:
                        follower.detect_ahead(key, ahead, pool)
        finally:
            follower.drop_ahead()
    return follower.tracks, follower.cuts, n_frames


class Lookahead:
    """Number the frames of a stream and let the consumer look ahead: :meth:`peek` reads on to a
    later frame and keeps those read meanwhile (memory: the frames between)."""

    def __init__(self, frames: Iterable[np.ndarray]):
        self._frames = iter(frames)
        self._read: deque[np.ndarray] = deque()
        self._first = 0  # index of the first frame in ``_read``

    def __iter__(self) -> Iterator[tuple[int, np.ndarray]]:
        while self._read or self._read_one():
            self._first += 1
            yield self._first - 1, self._read.popleft()

    def peek(self, index: int) -> np.ndarray | None:
        """Frame ``index`` (not yet consumed), or None past the end of the stream."""
        while len(self._read) <= index - self._first:
            if not self._read_one():
                return None
        return self._read[index - self._first]

    def _read_one(self) -> bool:
        frame = next(self._frames, None)
        if frame is not None:
            self._read.append(frame)
        return frame is not None
