"""The log-mel spectrogram of the lip-sync protocol, in NumPy/SciPy.

Wav2Lip's expert and generator read 16 kHz mono audio as an 80-band mel spectrogram: a 0.97
pre-emphasis, an 800-point STFT (Hann window of 800, hop 200, frames centred on their hop), the
magnitude through a Slaney-style mel filter bank from 55 to 7600 Hz, then decibels
(``20 log10``, floored at -100 dB, less a 20 dB reference) mapped linearly onto [-4, 4] and
clipped. Mel step ``m`` is centred on sample ``m × hop``: at 80 steps a second, 3.2 steps per
video frame at 25 fps. The filter bank follows librosa's default (``htk=False``,
``norm="slaney"``); ``tests/unit/test_audio.py`` checks the whole spectrogram against librosa's
where librosa is installed.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class MelSpec:
    """The spectrogram's parameters (Wav2Lip's ``hparams``; fixed by the protocol)."""

    sample_rate: int = 16000
    n_fft: int = 800
    hop: int = 200
    n_mels: int = 80
    fmin: float = 55.0
    fmax: float = 7600.0
    preemphasis: float = 0.97
    min_level_db: float = -100.0
    ref_level_db: float = 20.0
    max_abs: float = 4.0

    @property
    def steps_per_second(self) -> float:
        return self.sample_rate / self.hop

    def steps(self, n_frames: int, fps: float) -> int:
        """Mel steps spanning ``n_frames`` video frames at ``fps`` (16 frames at 25 fps: 51)."""
        return int(round(n_frames * self.steps_per_second / fps))


WAV2LIP = MelSpec()


def hz_to_mel(hz: np.ndarray) -> np.ndarray:
    """Slaney's mel scale: linear below 1 kHz (3 mels per 200 Hz), logarithmic above."""
    hz = np.asarray(hz, dtype=np.float64)
    log_step = np.log(6.4) / 27.0
    return np.where(
        hz < 1000.0, hz * 3.0 / 200.0, 15.0 + np.log(np.maximum(hz, 1e-9) / 1000.0) / log_step
    )


def mel_to_hz(mel: np.ndarray) -> np.ndarray:
    mel = np.asarray(mel, dtype=np.float64)
    log_step = np.log(6.4) / 27.0
    return np.where(mel < 15.0, mel * 200.0 / 3.0, 1000.0 * np.exp(log_step * (mel - 15.0)))


def mel_filters(spec: MelSpec = WAV2LIP) -> np.ndarray:
    """(n_mels, n_fft // 2 + 1) triangular filters, each of unit area (Slaney normalisation)."""
    bins = np.linspace(0.0, spec.sample_rate / 2, spec.n_fft // 2 + 1)
    edges = mel_to_hz(np.linspace(hz_to_mel(spec.fmin), hz_to_mel(spec.fmax), spec.n_mels + 2))
    low, centre, high = edges[:-2, None], edges[1:-1, None], edges[2:, None]
    rising = (bins - low) / (centre - low)
    falling = (high - bins) / (high - centre)
    triangles = np.maximum(0.0, np.minimum(rising, falling))
    return (triangles * (2.0 / (high - low))).astype(np.float32)


def periodic_hann(n: int) -> np.ndarray:
    """The periodic Hann window of ``n`` points (scipy's ``get_window("hann", n)``)."""
    return (0.5 - 0.5 * np.cos(2 * np.pi * np.arange(n) / n)).astype(np.float32)


def preemphasis(samples: np.ndarray, coefficient: float) -> np.ndarray:
    """``y[n] = x[n] - coefficient · x[n - 1]`` (scipy's ``lfilter([1, -c], [1], x)``)."""
    x = np.asarray(samples, dtype=np.float64)
    return np.concatenate([x[:1], x[1:] - coefficient * x[:-1]]).astype(np.float32)


def stft_magnitude(samples: np.ndarray, spec: MelSpec = WAV2LIP) -> np.ndarray:
    """(n_fft // 2 + 1, 1 + len // hop) magnitudes of frames centred on every hop (zero padded)."""
    padded = np.pad(np.asarray(samples, dtype=np.float32), spec.n_fft // 2)
    if len(padded) < spec.n_fft:
        padded = np.pad(padded, (0, spec.n_fft - len(padded)))
    frames = np.lib.stride_tricks.sliding_window_view(padded, spec.n_fft)[:: spec.hop]  # (T, n)
    window = periodic_hann(spec.n_fft)
    return np.abs(np.fft.rfft(frames * window, axis=1)).T.astype(np.float32)


def log_mel(samples: np.ndarray, spec: MelSpec = WAV2LIP) -> np.ndarray:
    """(n_mels, T) float32 in [-max_abs, max_abs] of mono ``samples`` at ``spec.sample_rate``;
    T = 1 + len(samples) // hop."""
    emphasised = preemphasis(samples, spec.preemphasis)
    mel = mel_filters(spec) @ stft_magnitude(emphasised, spec)
    floor = 10.0 ** (spec.min_level_db / 20.0)
    db = 20.0 * np.log10(np.maximum(floor, mel)) - spec.ref_level_db
    scaled = 2 * spec.max_abs * (db - spec.min_level_db) / -spec.min_level_db - spec.max_abs
    return np.clip(scaled, -spec.max_abs, spec.max_abs).astype(np.float32)
