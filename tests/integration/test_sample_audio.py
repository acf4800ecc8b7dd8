"""The sample's sound: made from the mouth opening the tracker measures, muxed beside the
unchanged video stream, and read back by the audio stage on the clip's frame clock."""

from __future__ import annotations

import numpy as np

from marlinflow import sample
from marlinflow.audio.clock import AlignedMel
from marlinflow.audio.step import audio_step
from marlinflow.face.store import FaceTrack
from marlinflow.face.track_step import track_step
from marlinflow.stages import StageRecord
from marlinflow.video.io import iter_frames
from marlinflow.video.writer import write_video


def test_sample_sound_follows_the_tracked_mouth(tmp_path):
    talking = next(v for v in sample.sample_plan(4) if v.face == "carphone")
    source = tmp_path / f"{talking.id}.mp4"
    write_video(source, sample.render(talking), sample.FPS)
    record = track_step(source, tmp_path / "faces" / f"{talking.id}.status.json")
    assert record.ok, record.reason
    with_sound = tmp_path / "audio" / f"{talking.id}.mp4"
    stats = sample.add_sample_audio(source, record.outputs["track"], with_sound)
    assert stats["opening_max"] > stats["opening_min"]  # the carphone speaker's mouth moves
    # the video stream is copied, not re-encoded: the frames are the sample's own
    for ours, theirs in zip(iter_frames(with_sound), iter_frames(source), strict=True):
        np.testing.assert_array_equal(ours, theirs)

    track_status = tmp_path / "faces" / f"{talking.id}.status.json"
    heard = audio_step(with_sound, track_status, tmp_path / "audio" / f"{talking.id}.status.json")
    assert heard.ok, heard.reason
    aligned = AlignedMel.load(heard.outputs["mel"])
    track = FaceTrack.load(record.outputs["track"])
    opening = sample.mouth_opening(track.landmarks, track.present)
    loud = aligned.mel.mean(axis=0)
    per_frame = np.array([loud[s : s + 3].mean() for s in aligned.frame_steps])  # 3.2 steps
    # log-mel loudness against a linear gap (0.81 here): clearly together, not identical
    assert np.corrcoef(opening, per_frame)[0, 1] > 0.7


def test_real_speech_goes_with_the_tracked_mouth_near_offset_zero(samples_dir, tmp_path):
    """On a real talking head, the tracker's inner-lip gap and the decoded sound's loudness
    correlate best within a few frames of no shift (lips lead speech a little: 2 frames here
    at 30 fps), which a wrong clock (a start time, a rate) would move far away."""
    source = samples_dir / "video03.mp4"
    track_status = tmp_path / "faces" / "video03.status.json"
    assert track_step(source, track_status).ok
    heard = audio_step(source, track_status, tmp_path / "audio" / "video03.status.json")
    assert heard.ok, heard.reason
    aligned = AlignedMel.load(heard.outputs["mel"])
    track = FaceTrack.load(StageRecord.load(track_status).outputs["track"])
    opening = sample.mouth_opening(track.landmarks, track.present)
    loud = aligned.mel.mean(axis=0)
    per_frame = np.array([loud[s : s + 2].mean() for s in aligned.frame_steps])  # 2.7 a frame
    core = opening[15:-15]
    by_shift = [np.corrcoef(core, np.roll(per_frame, -d)[15:-15])[0, 1] for d in range(-15, 16)]
    assert abs(int(np.argmax(by_shift)) - 15) <= 3
