"""SyncNet (Chung & Zisserman 2016) and the lip-sync metrics LSE-D and LSE-C.

Wav2Lip's evaluation (and the MARLIN paper's LS table after it) scores a generated video with
the public SyncNet model of ``syncnet_python`` (its ``syncnet_v2.model``, which the user
supplies: :func:`load_syncnet`). Its two streams, with the layer shapes of that model so that
its state dict loads strictly:

- the face stream reads 5 consecutive frames, 224×224, in OpenCV's BGR order with values 0-255
  (no normalisation): a 3-D convolution over the 5 frames, then 2-D ones, to a 1024-d vector;
- the audio stream reads 20 steps (0.2 s) of 13 MFCCs at 100 steps a second
  (``python_speech_features.mfcc``'s defaults on 16 kHz audio read as 16-bit integers:
  :func:`mfcc` here, in NumPy), to a 1024-d vector.

Window ``i`` is frames ``[i, i + 5)`` and MFCC steps ``[4i, 4i + 20)`` (at 25 fps; ``100 / fps``
steps a frame otherwise: SyncNet was trained at 25 fps, LRS2's rate). A video has
``min(frames, ⌊samples / (rate / fps)⌋) - 5`` windows.

The metrics, as ``SyncNetInstance.evaluate`` computes them and Wav2Lip reports them:

1. for every window ``i`` and offset ``d`` in ``[-max_offset, max_offset]`` (15), the Euclidean
   distance between the face feature of window ``i`` and the audio feature of window ``i + d``;
   an audio window outside the video counts as the zero vector (SyncNet pads its audio
   features with zeros);
2. each offset's distance is averaged over the windows: ``D(d) = mean_i dist(i, d)``;
3. **LSE-D** is the smallest of them, ``min_d D(d)``: the mean distance at the best offset
   (not the mean over windows of each window's own minimum);
4. **LSE-C** is ``median_d D(d) - min_d D(d)``: how far the best offset stands out;
5. the AV offset is the best ``d``, in :mod:`~marlinflow.lipsync.offset`'s convention (faces of
   window ``i`` with the sound of window ``i + d``; ``syncnet_python`` prints ``-d``).

A data set's LSE-D and LSE-C are the means over its videos. Lower LSE-D and higher LSE-C are
better.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
from scipy.fft import dct
from torch import nn

from marlinflow.compute.devices import device_of
from marlinflow.errors import Category, InputError
from marlinflow.features import resize_frames
from marlinflow.weights.checkpoints import read_checkpoint

FRAMES, STEPS, SIDE = 5, 20, 224  # a window: 5 frames of 224², 20 MFCC steps
MFCC_RATE = 100  # steps a second
MAX_OFFSET = 15
INT16 = 32768.0  # syncnet_python reads 16-bit PCM as integers: MFCC energies on that scale


def _stack(layers: list[tuple]) -> nn.Sequential:
    """Layers from (kind, *args): "conv2"/"conv3" (c_in, c_out, kernel, stride, padding) each
    with its batch norm and ReLU, "pool2"/"pool3" (kernel, stride[, padding])."""
    modules: list[nn.Module] = []
    for kind, *args in layers:
        if kind.startswith("conv"):
            conv, norm = (
                (nn.Conv2d, nn.BatchNorm2d) if kind == "conv2" else (nn.Conv3d, nn.BatchNorm3d)
            )
            c_in, c_out, kernel, stride, padding = args
            modules += [conv(c_in, c_out, kernel, stride, padding), norm(c_out), nn.ReLU(True)]
        else:
            pool = nn.MaxPool2d if kind == "pool2" else nn.MaxPool3d
            modules.append(pool(*args))
    return nn.Sequential(*modules)


def _head(dim: int) -> nn.Sequential:
    return nn.Sequential(nn.Linear(512, 512), nn.BatchNorm1d(512), nn.ReLU(), nn.Linear(512, dim))


class SyncNet(nn.Module):
    """Audio (B, 1, 13, 20) MFCC windows and faces (B, 3, 5, 224, 224) BGR 0-255 -> (B, 1024)."""

    def __init__(self, dim: int = 1024):
        super().__init__()
        self.netcnnaud = _stack(
            [
                ("conv2", 1, 64, 3, 1, 1),
                ("pool2", 1, 1),
                ("conv2", 64, 192, 3, 1, 1),
                ("pool2", 3, (1, 2)),
                ("conv2", 192, 384, 3, 1, 1),
                ("conv2", 384, 256, 3, 1, 1),
                ("conv2", 256, 256, 3, 1, 1),
                ("pool2", 3, 2),
                ("conv2", 256, 512, (5, 4), 1, 0),  # 13×20 has become 5×4: now 1×1
            ]
        )
        self.netfcaud = _head(dim)
        self.netfclip = _head(dim)
        self.netcnnlip = _stack(
            [
                ("conv3", 3, 96, (5, 7, 7), (1, 2, 2), 0),  # the 5 frames become one
                ("pool3", (1, 3, 3), (1, 2, 2)),
                ("conv3", 96, 256, (1, 5, 5), (1, 2, 2), (0, 1, 1)),
                ("pool3", (1, 3, 3), (1, 2, 2), (0, 1, 1)),
                ("conv3", 256, 256, (1, 3, 3), 1, (0, 1, 1)),
                ("conv3", 256, 256, (1, 3, 3), 1, (0, 1, 1)),
                ("conv3", 256, 256, (1, 3, 3), 1, (0, 1, 1)),
                ("pool3", (1, 3, 3), (1, 2, 2)),
                ("conv3", 256, 512, (1, 6, 6), 1, 0),  # 6×6 -> 1×1
            ]
        )

    def embed_audio(self, mfccs: torch.Tensor) -> torch.Tensor:
        return self.netfcaud(self.netcnnaud(mfccs).flatten(1))

    def embed_faces(self, faces: torch.Tensor) -> torch.Tensor:
        return self.netfclip(self.netcnnlip(faces).flatten(1))


def load_syncnet(path: str | Path) -> SyncNet:
    """The SyncNet of a weights file (``syncnet_python``'s ``syncnet_v2.model``: its state dict),
    in evaluation mode; a missing file or one of other weights is an :class:`InputError`."""
    path = Path(path)
    if not path.is_file():
        raise InputError(path, "no such SyncNet weights file (syncnet_python's syncnet_v2.model)")
    state = read_checkpoint(path)
    net = SyncNet()
    # the released file predates batch norms' step counters: those alone may be missing
    try:
        missing, unexpected = net.load_state_dict(state, strict=False)
    except RuntimeError as err:  # shapes that do not fit
        raise InputError(path, f"not SyncNet's weights ({str(err).splitlines()[1:2]})") from err
    missing = [key for key in missing if not key.endswith("num_batches_tracked")]
    if missing or unexpected:
        keys = (missing + unexpected)[:3]
        reason = (
            f"not SyncNet's weights ({len(missing)} missing, {len(unexpected)} unknown: {keys})"
        )
        raise InputError(path, reason)
    return net.eval()


def mfcc(samples: np.ndarray, sample_rate: int = 16000) -> np.ndarray:
    """(13, steps) MFCCs of mono float ``samples`` in [-1, 1], as ``python_speech_features.mfcc``
    computes them with its defaults on the 16-bit integers: 0.97 pre-emphasis; 25 ms frames every
    10 ms (rectangular, the last zero-padded); the power spectrum of a 512-point FFT; 26
    triangular mel filters over 0 Hz to half the rate (HTK's mel scale, on FFT bins); the log;
    an orthonormal DCT-II kept to 13; a sine lifter of 22; coefficient 0 replaced by the log
    of the frame's energy."""
    signal = np.asarray(samples, dtype=np.float64) * INT16
    signal = np.append(signal[0], signal[1:] - 0.97 * signal[:-1])
    length, step, n_fft = int(0.025 * sample_rate + 0.5), int(0.01 * sample_rate + 0.5), 512
    n = 1 if len(signal) <= length else 1 + int(np.ceil((len(signal) - length) / step))
    padded = np.pad(signal, (0, (n - 1) * step + length - len(signal)))
    frames = np.lib.stride_tricks.sliding_window_view(padded, length)[::step][:n]
    power = np.abs(np.fft.rfft(frames, n_fft)) ** 2 / n_fft
    eps = np.finfo(np.float64).eps
    energy = np.maximum(power.sum(axis=1), eps)
    banks = np.maximum(power @ _mel_filters(26, n_fft, sample_rate).T, eps)
    ceps = dct(np.log(banks), type=2, axis=1, norm="ortho")[:, :13]
    ceps *= 1 + 11 * np.sin(np.pi * np.arange(13) / 22)
    ceps[:, 0] = np.log(energy)
    return ceps.T.astype(np.float32)


def _mel_filters(n_filters: int, n_fft: int, sample_rate: int) -> np.ndarray:
    """(n_filters, n_fft // 2 + 1) triangles between FFT bins equally spaced in HTK mels."""
    top = 2595 * np.log10(1 + (sample_rate / 2) / 700)
    hz = 700 * (10 ** (np.linspace(0, top, n_filters + 2) / 2595) - 1)
    bins = np.floor((n_fft + 1) * hz / sample_rate)
    k = np.arange(n_fft // 2 + 1)[None, :]
    low, mid, high = bins[:-2, None], bins[1:-1, None], bins[2:, None]
    rising = np.where((k >= low) & (k < mid), (k - low) / np.maximum(mid - low, 1), 0)
    falling = np.where((k >= mid) & (k < high), (high - k) / np.maximum(high - mid, 1), 0)
    return rising + falling


def windows(n_frames: int, n_samples: int, fps: float, sample_rate: int = 16000) -> int:
    """SyncNet's window count: ``min(frames, ⌊samples / samples-a-frame⌋) - 5``."""
    return min(n_frames, int(n_samples // (sample_rate / fps))) - FRAMES


@torch.no_grad()
def syncnet_features(
    net: SyncNet,
    frames: np.ndarray,
    samples: np.ndarray,
    fps: float,
    sample_rate: int = 16000,
    batch_size: int = 32,
) -> tuple[torch.Tensor, torch.Tensor]:
    """(face features, audio features), (W, 1024) each, of a video's W windows: ``frames``
    (N, H, W, 3) RGB uint8 (resized to 224²) and mono ``samples`` starting with its first
    frame."""
    count = windows(len(frames), len(samples), fps, sample_rate)
    if count < 1:
        raise InputError(
            "(video)", "shorter than one SyncNet window of 5 frames", Category.TOO_SHORT
        )
    bgr = resize_frames(np.asarray(frames), SIDE)[..., ::-1]
    video = torch.from_numpy(np.ascontiguousarray(bgr)).float().permute(3, 0, 1, 2)  # (3, N, S, S)
    coefficients = torch.from_numpy(mfcc(samples, sample_rate))  # (13, steps)
    coefficients = torch.nn.functional.pad(coefficients, (0, STEPS))  # the last windows' tails
    per_frame = MFCC_RATE / fps
    device = device_of(net)
    faces, audio = [], []
    for first in range(0, count, batch_size):
        idx = range(first, min(count, first + batch_size))
        clips = torch.stack([video[:, i : i + FRAMES] for i in idx])
        steps = [int(round(i * per_frame)) for i in idx]
        mfccs = torch.stack([coefficients[None, :, s : s + STEPS] for s in steps])
        faces.append(net.embed_faces(clips.to(device)).cpu())
        audio.append(net.embed_audio(mfccs.to(device)).cpu())
    return torch.cat(faces), torch.cat(audio)


def offset_distances(
    faces: torch.Tensor, audio: torch.Tensor, max_offset: int = MAX_OFFSET
) -> tuple[np.ndarray, np.ndarray]:
    """(offsets, (W, offsets) distances): face window ``i`` against audio window ``i + d``,
    audio outside the video taken as zero features (SyncNet's padding)."""
    offsets = np.arange(-max_offset, max_offset + 1)
    padded = torch.nn.functional.pad(audio, (0, 0, max_offset, max_offset))
    index = torch.arange(len(faces))[:, None] + torch.from_numpy(offsets + max_offset)[None]
    dist = torch.linalg.vector_norm(faces[:, None] - padded[index], dim=-1)
    return offsets, dist.numpy()


def lse(distances: np.ndarray, offsets: np.ndarray) -> dict[str, float]:
    """LSE-D, LSE-C and the AV offset of one video from its (W, offsets) distances."""
    mean = distances.mean(axis=0)  # D(d)
    best = int(np.argmin(mean))
    return {
        "lse_d": float(mean[best]),
        "lse_c": float(np.median(mean) - mean[best]),
        "offset": int(offsets[best]),
    }


def score_video(
    net: SyncNet,
    frames: np.ndarray,
    samples: np.ndarray,
    fps: float,
    sample_rate: int = 16000,
    max_offset: int = MAX_OFFSET,
    batch_size: int = 32,
) -> dict[str, float]:
    """LSE-D, LSE-C and AV offset of one video's frames and its sound."""
    faces, audio = syncnet_features(net, frames, samples, fps, sample_rate, batch_size)
    offsets, distances = offset_distances(faces, audio, max_offset)
    return lse(distances, offsets)
