"""A video's audio, read with PyAV, on the frame clock of its face clip.

Times here are presentation times in seconds on the container's clock, as ffmpeg gives them:
the audio and video streams may start at different times (``stream.start_time``), and each
frame's time is its own. A clip frame's time is that of the source frame it shows: frame ``k``
of a constant-rate source is shown at ``video_start + k / fps``; a variable-frame-rate source's
clip was resampled on its frames' timestamps, and the face track records which source frame
(``source_frames``) each clip frame shows and when that frame came (``source_frame_times``).
Clip frame ``k`` then starts mel step ``round((time_k - audio_start) × 80)``: Wav2Lip's
indexing (``int(80 × frame / fps)``), measured from the audio's own start.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import av
import numpy as np

from marlinflow.atomic import atomic_path
from marlinflow.audio.mel import WAV2LIP, MelSpec, log_mel
from marlinflow.errors import Category, InputError, VideoError


@dataclass
class Audio:
    """Mono ``samples`` (float32) at ``sample_rate``; the first one plays at ``start`` seconds,
    and the video stream's first frame at ``video_start``."""

    samples: np.ndarray
    sample_rate: int
    start: float
    video_start: float

    @property
    def seconds(self) -> float:
        return len(self.samples) / self.sample_rate


def read_audio(path: str | Path, sample_rate: int = WAV2LIP.sample_rate) -> Audio:
    """Decode the first audio stream of ``path`` as mono at ``sample_rate``.

    Raises :class:`InputError` (``no_audio``) for a file without an audio stream or samples,
    and for a folder of frame images.
    """
    if Path(path).is_dir():
        raise InputError(path, "no audio stream: a folder of frame images", Category.NO_AUDIO)
    try:
        container = av.open(str(path))
    except (av.FFmpegError, OSError) as err:
        raise VideoError(path, f"not a readable video ({err})", Category.NOT_A_VIDEO) from err
    with container:
        if not container.streams.audio:
            raise InputError(path, "no audio stream", Category.NO_AUDIO)
        stream = container.streams.audio[0]
        video_start = _stream_start(container.streams.video[0]) if container.streams.video else 0.0
        start, chunks = _decode_mono(container, stream, sample_rate, path)
    if start is None or not chunks:
        raise InputError(path, "no audio samples in its audio stream", Category.NO_AUDIO)
    samples = np.concatenate(chunks).astype(np.float32)
    return Audio(samples, sample_rate, start, video_start)


def _stream_start(stream) -> float:
    return float(stream.start_time * stream.time_base) if stream.start_time is not None else 0.0


def _decode_mono(container, stream, sample_rate: int, path) -> tuple[float | None, list]:
    """(time of the first decoded sample, chunks of mono float samples at ``sample_rate``)."""
    resampler = av.AudioResampler(format="flt", layout="mono", rate=sample_rate)
    start, chunks = None, []
    try:
        for frame in container.decode(stream):
            if start is None:
                start = float(frame.time) if frame.time is not None else _stream_start(stream)
            chunks += [out.to_ndarray().reshape(-1) for out in resampler.resample(frame)]
        chunks += [out.to_ndarray().reshape(-1) for out in resampler.resample(None)]
    except av.FFmpegError as err:
        raise VideoError(path, f"corrupt or truncated audio ({err})", Category.CORRUPT) from err
    return start, chunks


def clip_frame_times(
    track_meta: Mapping[str, Any], n_frames: int, video_start: float
) -> np.ndarray:
    """(n_frames,) presentation time (s) of every clip frame, from the face track's ``meta``."""
    if track_meta.get("variable_frame_rate"):
        times = np.asarray(track_meta["source_frame_times"], dtype=np.float64)
        return times[np.asarray(track_meta["source_frames"], dtype=np.int64)][:n_frames]
    return video_start + np.arange(n_frames) / float(track_meta["fps"])


def clip_samples(audio: Audio, frame_times: np.ndarray) -> np.ndarray:
    """The mono samples from clip frame 0's time on (silence where the sound starts later):
    the sound of a clip written with its frames, or scored with them."""
    first = int(round((float(frame_times[0]) - audio.start) * audio.sample_rate))
    if first < 0:
        return np.concatenate([np.zeros(-first, np.float32), audio.samples])
    return audio.samples[first:]


@dataclass
class AlignedMel:
    """A clip's mel spectrogram (n_mels, T) and the mel step each clip frame starts at (N,)."""

    mel: np.ndarray
    frame_steps: np.ndarray
    fps: float
    spec: MelSpec = WAV2LIP

    def window_steps(self, n_frames: int) -> int:
        return self.spec.steps(n_frames, self.fps)

    def window(self, start: int, n_frames: int) -> np.ndarray:
        """(n_mels, steps) of the span of clip frames [start, start + n_frames)."""
        first = int(self.frame_steps[start])
        return self.mel[:, first : first + self.window_steps(n_frames)]

    def n_windows(self, n_frames: int) -> int:
        """How many starts have both their frames and a full mel window."""
        steps = self.window_steps(n_frames)
        starts = np.arange(max(0, len(self.frame_steps) - n_frames + 1))
        return int(np.sum(self.frame_steps[starts] + steps <= self.mel.shape[1]))

    def save(self, path: str | Path) -> None:
        with atomic_path(path) as tmp, open(tmp, "wb") as f:
            np.savez_compressed(f, mel=self.mel, frame_steps=self.frame_steps, fps=self.fps)

    @classmethod
    def load(cls, path: str | Path) -> AlignedMel:
        try:
            with np.load(path) as data:
                return cls(data["mel"], data["frame_steps"], float(data["fps"]))
        except (OSError, ValueError, KeyError) as err:
            raise InputError(path, f"not a readable mel file ({err})") from err


def align_mel(
    audio: Audio, frame_times: np.ndarray, fps: float, source: str | Path, spec: MelSpec = WAV2LIP
) -> AlignedMel:
    """The mel spectrogram of ``audio`` and each frame's first step; ``no_audio`` when the
    sound does not cover the frames (it starts more than a frame late or ends early)."""
    mel = log_mel(audio.samples, spec)
    steps = np.round((np.asarray(frame_times) - audio.start) * spec.steps_per_second)
    per_frame = spec.steps(1, fps)
    last_needed = steps[-1] + per_frame  # the end of the last frame's span
    if steps[0] < -per_frame or last_needed > mel.shape[1] + per_frame:
        covered = audio.seconds
        span = frame_times[-1] - frame_times[0] + 1 / fps
        reason = (
            f"no audio for all frames: {covered:.2f} s of audio from {audio.start:.3f} s, "
            f"{span:.2f} s of frames from {frame_times[0]:.3f} s"
        )
        raise InputError(source, reason, Category.NO_AUDIO)
    return AlignedMel(mel, np.clip(steps, 0, mel.shape[1] - 1).astype(np.int64), fps, spec)
