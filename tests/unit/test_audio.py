"""Audio on the face clip's frame clock: the log-mel spectrogram, decoding with the streams'
start times, each clip frame's mel step (constant and variable frame rate), and the audio
stage's records for videos without (enough) sound."""

from __future__ import annotations

import numpy as np
import pytest

from marlinflow.audio.clock import AlignedMel, align_mel, clip_frame_times, read_audio
from marlinflow.audio.mel import WAV2LIP, log_mel, mel_filters, periodic_hann, preemphasis
from marlinflow.audio.step import audio_step
from marlinflow.errors import InputError
from marlinflow.face.store import FaceTrack
from marlinflow.stages import StageRecord
from marlinflow.video.writer import add_audio, write_video

SR = WAV2LIP.sample_rate


def test_log_mel_matches_librosa_wav2lip_recipe():
    librosa = pytest.importorskip("librosa")
    from scipy import signal

    rng = np.random.default_rng(0)
    t = np.arange(SR) / SR
    wav = (0.3 * np.sin(2 * np.pi * 220 * t) + 0.05 * rng.standard_normal(SR)).astype(np.float32)
    # Wav2Lip's melspectrogram, spelled out with librosa's STFT and filter bank
    emphasised = signal.lfilter([1, -0.97], [1], wav)
    stft = librosa.stft(emphasised, n_fft=800, hop_length=200, win_length=800, pad_mode="constant")
    basis = librosa.filters.mel(sr=SR, n_fft=800, n_mels=80, fmin=55, fmax=7600)
    db = 20 * np.log10(np.maximum(1e-5, basis @ np.abs(stft))) - 20
    expected = np.clip(8 * (db + 100) / 100 - 4, -4, 4)
    np.testing.assert_allclose(mel_filters(), basis, atol=1e-6)
    np.testing.assert_allclose(log_mel(wav), expected, atol=2e-3)


def test_window_and_preemphasis_equal_scipy_signal():
    from scipy import signal

    wav = np.random.default_rng(1).standard_normal(1000).astype(np.float32)
    np.testing.assert_allclose(periodic_hann(800), signal.get_window("hann", 800), atol=1e-7)
    expected = signal.lfilter([1, -0.97], [1], wav)
    np.testing.assert_allclose(preemphasis(wav, 0.97), expected, rtol=1e-6, atol=1e-6)


def test_log_mel_shape_range_and_pitch():
    t = np.arange(SR // 2) / SR
    mel = log_mel(0.5 * np.sin(2 * np.pi * 1000 * t))
    assert mel.shape == (80, 1 + len(t) // 200)  # 80 steps a second, centred frames
    assert mel.min() >= -4 and mel.max() <= 4
    band = int(np.argmax(mel[:, 20]))
    centres = np.argmax(mel_filters(), axis=1) * SR / 800  # the bin each filter peaks at
    assert abs(centres[band] - 1000) < 60
    assert log_mel(np.zeros(SR // 4)).max() == -4  # silence is the floor
    assert WAV2LIP.steps(16, 25) == 51 and WAV2LIP.steps(5, 25) == 16


def _clicks(n_frames: int, fps: float, clicked: list[int], delay: float) -> np.ndarray:
    """Audio with a short click at the times of ``clicked`` frames, the track starting
    ``delay`` s after the video (so a click at frame k is at sample (k/fps - delay)·SR)."""
    samples = np.zeros(int((n_frames / fps - delay) * SR) + 800, dtype=np.float32)
    for k in clicked:
        at = int(round((k / fps - delay) * SR))
        samples[at : at + 160] = 0.8 * np.sin(2 * np.pi * 2000 * np.arange(160) / SR)
    return samples


@pytest.mark.parametrize("delay", [0.0, 0.2])
def test_frames_land_on_their_mel_steps_despite_the_audio_start(tmp_path, delay):
    fps, n = 25.0, 50
    frames = np.full((n, 32, 32, 3), 128, np.uint8)
    write_video(tmp_path / "v.mp4", frames, fps)
    clicked = [10, 23, 41]
    add_audio(tmp_path / "v.mp4", _clicks(n, fps, clicked, delay), SR, tmp_path / "av.mp4", delay)
    audio = read_audio(tmp_path / "av.mp4")
    assert audio.video_start == pytest.approx(0.0)
    assert audio.start <= delay + 1e-3  # the encoder's priming samples come first, in time
    first = 5  # the frames from 0.2 s on: the sound covers them whatever the delay
    times = clip_frame_times({"fps": fps}, n, audio.video_start)[first:]
    aligned = align_mel(audio, times, fps, "av.mp4")
    loudness = aligned.mel.mean(axis=0)
    for k in clicked:
        step = aligned.frame_steps[k - first]
        assert int(np.argmax(loudness[step - 6 : step + 7])) - 6 in (0, 1)  # within a hop
    quiet = aligned.frame_steps[30 - first]
    assert loudness[quiet] < loudness[aligned.frame_steps[23 - first]] - 2
    if delay:  # all 50 frames: the first 0.2 s have no sound
        with pytest.raises(InputError, match="no audio for all frames"):
            align_mel(audio, clip_frame_times({"fps": fps}, n, 0.0), fps, "av.mp4")


def test_variable_frame_rate_clips_take_their_source_frames_times():
    meta = {
        "fps": 25.0,
        "variable_frame_rate": True,
        "source_frame_times": [1.0, 1.04, 1.2, 1.24],
        "source_frames": [0, 1, 1, 1, 1, 2, 3],
    }
    times = clip_frame_times(meta, 7, video_start=1.0)
    np.testing.assert_allclose(times, [1.0, 1.04, 1.04, 1.04, 1.04, 1.2, 1.24])
    np.testing.assert_allclose(clip_frame_times({"fps": 25.0}, 3, 0.5), [0.5, 0.54, 0.58])


def test_mel_windows_and_saving(tmp_path):
    mel = np.arange(80 * 200, dtype=np.float32).reshape(80, 200)
    aligned = AlignedMel(mel, np.round(np.arange(60) * 3.2).astype(np.int64), 25.0)
    assert aligned.window(10, 16).shape == (80, 51)
    assert aligned.window(10, 16)[0, 0] == 32
    assert aligned.n_windows(16) == sum(round(k * 3.2) + 51 <= 200 for k in range(45))
    aligned.save(tmp_path / "a.npz")
    again = AlignedMel.load(tmp_path / "a.npz")
    np.testing.assert_array_equal(again.mel, mel)
    assert again.fps == 25.0


def _track(tmp_path, n: int, fps: float = 25.0):
    track = tmp_path / "faces" / "v.json"
    track.parent.mkdir(parents=True, exist_ok=True)
    FaceTrack(
        np.ones(n, bool),
        np.zeros((n, 4)),
        np.zeros((n, 68, 2)),
        np.ones(n),
        np.zeros(n, int),
        {"fps": fps},
    ).save(track)
    status = tmp_path / "faces" / "v.status.json"
    StageRecord("v", "track", True, outputs={"track": str(track)}).save(status)
    return status


def test_audio_step_writes_the_aligned_mel(tmp_path):
    n, fps = 40, 25.0
    write_video(tmp_path / "v.mp4", np.zeros((n, 32, 32, 3), np.uint8), fps)
    sound = 0.1 * np.random.default_rng(0).standard_normal(int(n / fps * SR)).astype(np.float32)
    add_audio(tmp_path / "v.mp4", sound, SR, tmp_path / "av.mp4")
    record = audio_step(tmp_path / "av.mp4", _track(tmp_path, n), tmp_path / "audio/v.status.json")
    assert record.ok, record.reason
    aligned = AlignedMel.load(record.outputs["mel"])
    assert len(aligned.frame_steps) == n and aligned.n_windows(16) == n - 16 + 1
    assert record.stats["audio_s"] == pytest.approx(n / fps, abs=0.1)


def test_the_audio_verb_reads_the_source_a_download_record_names(tmp_path):
    from marlinflow.cli import main

    n, fps = 30, 25.0
    write_video(tmp_path / "v.mp4", np.zeros((n, 32, 32, 3), np.uint8), fps)
    add_audio(
        tmp_path / "v.mp4", np.full(int(n / fps * SR), 0.1, np.float32), SR, tmp_path / "av.mp4"
    )
    download = tmp_path / "raw" / "v.status.json"
    StageRecord("v", "download", True, outputs={"video": str(tmp_path / "av.mp4")}).save(download)
    out = tmp_path / "audio" / "v.status.json"
    assert main(["audio", str(download), str(_track(tmp_path, n)), str(out)]) == 0
    record = StageRecord.load(out)
    assert record.ok and record.stage == "audio" and (tmp_path / "audio/v.npz").is_file()


def test_a_video_without_sound_gets_a_no_audio_record(tmp_path):
    write_video(tmp_path / "v.mp4", np.zeros((30, 32, 32, 3), np.uint8), 25.0)
    record = audio_step(tmp_path / "v.mp4", _track(tmp_path, 30), tmp_path / "a/v.status.json")
    assert not record.ok and record.category == "no_audio"
    assert "no audio stream" in record.reason
    with pytest.raises(InputError, match="no audio stream"):
        read_audio(tmp_path / "v.mp4")
    with pytest.raises(InputError, match="no audio stream: a folder") as err:
        read_audio(tmp_path / "a")  # frame folders (YouTube Faces) have no sound
    assert err.value.category.value == "no_audio"


def test_sound_shorter_than_the_frames_gets_a_no_audio_record(tmp_path):
    n, fps = 50, 25.0
    write_video(tmp_path / "v.mp4", np.zeros((n, 32, 32, 3), np.uint8), fps)
    add_audio(tmp_path / "v.mp4", np.full(SR // 2, 0.1, np.float32), SR, tmp_path / "av.mp4")
    record = audio_step(tmp_path / "av.mp4", _track(tmp_path, n), tmp_path / "a/v.status.json")
    assert not record.ok and record.category == "no_audio"
    assert "no audio for all frames" in record.reason


@pytest.mark.parametrize("name", ["video01.mp4", "video02.mp4", "video03.mp4"])
def test_real_speech_is_read_on_the_frame_clock(samples_dir, name):
    from marlinflow.video.io import probe

    info = probe(samples_dir / name)  # 30, 15 and 30 fps, AAC sound at 44.1 kHz
    audio = read_audio(samples_dir / name)
    assert audio.seconds == pytest.approx(info.n_frames / info.fps, abs=0.05)
    times = clip_frame_times({"fps": info.fps}, info.n_frames, audio.video_start)
    aligned = align_mel(audio, times, info.fps, name)
    assert aligned.mel.shape[0] == 80 and aligned.mel.shape[1] >= info.n_frames * 80 / info.fps
    last = info.n_frames - 1
    assert aligned.frame_steps[-1] == round(last / info.fps * 80)
    loudness = aligned.mel.mean(axis=0)
    assert loudness.std() > 0.3  # speech comes and goes: not silence, not steady noise
    assert aligned.n_windows(16) == info.n_frames - 15
