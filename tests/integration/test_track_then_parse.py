"""The track stage's outputs feed the parse stage: its record names the clip and the track, and its
landmarks (in crop pixels) put the drawn face parts where the face is in the clip."""

from __future__ import annotations

import numpy as np

from marlinflow.face.parsing_step import parse_video
from marlinflow.face.store import PART_LABELS, FaceTrack, load_parsing
from marlinflow.face.track_step import track_step
from marlinflow.video.io import read_frames


def test_track_record_feeds_parse(carphone, tmp_path):
    tracked = track_step(carphone, tmp_path / "faces" / "car.status.json")
    parsed = parse_video(
        tmp_path / "faces" / "car.status.json", tmp_path / "parsing" / "car.status.json"
    )
    assert tracked.ok and parsed.ok, parsed.reason
    labels, present = load_parsing(parsed.outputs["labels"])
    track = FaceTrack.load(tracked.outputs["track"])
    assert labels.shape == (120, 224, 224) and present.mean() > 0.95
    # the nose tip (landmark 30) lies on the nose label, in the clip's own frame
    for i in np.flatnonzero(present)[::20]:
        x, y = np.round(track.landmarks[i, 30]).astype(int)
        assert labels[i, y, x] == PART_LABELS["nose"]
    # and the clip shows skin there: brighter and redder than the black padding
    frames = read_frames(tracked.outputs["video"], [0, 60])
    for frame, points in zip(frames, track.landmarks[[0, 60]], strict=True):
        x, y = np.round(points[30]).astype(int)
        red, _, blue = frame[y, x].astype(int)
        assert red > 80 and red > blue
