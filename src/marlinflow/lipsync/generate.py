"""Training the generator against a frozen expert, and generating whole videos with it.

The generator reads what the expert reads (:class:`~marlinflow.lipsync.pairs.SyncVideo`: a face
clip and its aligned mel). A training window is ``T`` consecutive frames (the expert's clip
length), the frames of another window of the same video as references (at least ``T`` frames
away where the video allows, as Wav2Lip draws them), each frame's mel window (``audio_frames``
frames of sound centred on it: Wav2Lip's 16 steps at 25 fps) and the window's mel for the
expert. At generation, each frame is its own reference (Wav2Lip's inference).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F

from marlinflow.compute.devices import device_of
from marlinflow.config.settings import settings_class
from marlinflow.errors import Category, InputError
from marlinflow.features import resize_frames
from marlinflow.lipsync.expert import SyncExpert
from marlinflow.lipsync.files import load_state, read_network, save_network
from marlinflow.lipsync.generator import (
    Generator,
    QualityDiscriminator,
    expert_sync_loss,
    generator_loss,
    lower_halves,
)
from marlinflow.lipsync.pairs import SyncVideo, _shifted

GeneratorSettings = settings_class("lipsync.generator", "GeneratorSettings")
GENERATOR_FORMAT = "marlinflow-lipsync-generator/1"


def generator_starts(video: SyncVideo, window: int, audio_frames: int) -> range:
    """The window starts whose frames all have their mel window (``audio_frames`` frames of
    sound, starting ``audio_frames // 2`` frames before the frame) and whose span has the
    expert's mel window."""
    before = audio_frames // 2
    last_sounded = video.mel.n_windows(audio_frames) - 1 + before  # the last frame with sound
    end = min(video.starts(window), last_sounded - window + 2)
    return range(before, max(before, end))


def frame_mels(video: SyncVideo, start: int, window: int, audio_frames: int) -> np.ndarray:
    """(T, n_mels, m) the mel window of each frame of [start, start + T)."""
    first = start - audio_frames // 2
    return np.stack([video.mel.window(first + i, audio_frames) for i in range(window)])


def to_faces(frames: np.ndarray, face_size: int) -> torch.Tensor:
    """(..., T, H, W, 3) uint8 -> (..., T, 3, S, S) float in [0, 1]."""
    lead = frames.shape[:-3]
    flat = resize_frames(frames.reshape(-1, *frames.shape[-3:]), face_size)
    faces = torch.from_numpy(np.ascontiguousarray(flat)).permute(0, 3, 1, 2).float() / 255.0
    return faces.reshape(*lead, 3, face_size, face_size)


def to_frames(faces: torch.Tensor) -> np.ndarray:
    """(..., 3, S, S) in [0, 1] -> (..., S, S, 3) uint8."""
    return (faces.detach().clamp(0, 1) * 255).round().byte().movedim(-3, -1).cpu().numpy()


@dataclasses.dataclass
class Batch:
    faces: torch.Tensor  # (B, T, 3, S, S)
    references: torch.Tensor  # (B, T, 3, S, S)
    frame_mels: torch.Tensor  # (B, T, n_mels, m)
    mel: torch.Tensor  # (B, n_mels, M): the window's, for the expert

    def to(self, device: torch.device) -> Batch:
        return Batch(*(getattr(self, f.name).to(device) for f in dataclasses.fields(self)))


def sample_batch(
    videos: Sequence[SyncVideo], n: int, window: int, cfg, rng: np.random.Generator
) -> Batch:
    """``n`` training windows drawn from ``videos`` (a video and a start at random)."""
    usable = [v for v in videos if len(generator_starts(v, window, cfg.audio_frames)) > 0]
    if not usable:
        names = ", ".join(v.name for v in videos[:3]) or "(no videos)"
        reason = f"no video has a window of {window} frames with {cfg.audio_frames} of sound around"
        raise InputError(names, reason, Category.TOO_SHORT)
    faces, refs, mels, windows = [], [], [], []
    for _ in range(n):
        video = usable[rng.integers(len(usable))]
        starts = generator_starts(video, window, cfg.audio_frames)
        k = int(rng.integers(len(starts)))
        faces.append(video.faces(starts[k], window))
        refs.append(video.faces(starts[_shifted(k, len(starts), window, rng)], window))
        mels.append(frame_mels(video, starts[k], window, cfg.audio_frames))
        windows.append(video.mel.window(starts[k], window))
    return Batch(
        to_faces(np.stack(faces), cfg.face_size),
        to_faces(np.stack(refs), cfg.face_size),
        torch.from_numpy(np.stack(mels)),
        torch.from_numpy(np.stack(windows)),
    )


def build_generator(cfg, window: int) -> Generator:
    """A new generator of ``cfg``'s size for windows of ``window`` frames (the expert's)."""
    torch.manual_seed(cfg.seed)
    return Generator(cfg.face_size, cfg.width, window=window, audio_frames=cfg.audio_frames)


def train_generator(
    generator: Generator, expert: SyncExpert, videos: Sequence[SyncVideo], cfg
) -> list[dict[str, float]]:
    """Adam on Wav2Lip's loss against the frozen ``expert`` (and the discriminator when
    ``cfg.discriminator``); returns every step's losses."""
    rng = np.random.default_rng(cfg.seed)
    torch.manual_seed(cfg.seed)
    expert.eval().requires_grad_(False)
    window = expert.encoder.size.n_frames
    if generator.window != window:
        raise ValueError(
            f"the generator makes {generator.window}-frame windows, the expert reads {window}"
        )
    optimiser = torch.optim.Adam(generator.parameters(), lr=cfg.lr, betas=(0.5, 0.999))
    device = device_of(generator)
    expert.to(device)
    critic = (
        QualityDiscriminator(cfg.face_size, cfg.width).to(device) if cfg.discriminator else None
    )
    critic_opt = critic and torch.optim.Adam(
        critic.parameters(), lr=cfg.disc_lr, betas=(0.5, 0.999)
    )
    generator.train()
    history = []
    for _ in range(cfg.steps):
        batch = sample_batch(videos, cfg.batch_size, window, cfg, rng).to(device)
        generated = generator(batch.faces, batch.references, batch.frame_mels)
        sync = expert_sync_loss(expert, generated, batch.mel)
        fooled = None if critic is None else _real_loss(critic, generated, True)
        loss = generator_loss(
            generated, batch.faces, sync, cfg.sync_weight, fooled, cfg.disc_weight
        )
        optimiser.zero_grad()
        loss.backward()
        optimiser.step()
        record = {
            "loss": float(loss.detach()),
            "l1": float(F.l1_loss(generated.detach(), batch.faces)),
            "sync": float(sync.detach()),
        }
        if critic is not None:
            record["critic"] = _critic_step(critic, critic_opt, generated.detach(), batch.faces)
        history.append(record)
    generator.eval()
    return history


def _real_loss(critic: QualityDiscriminator, faces: torch.Tensor, real: bool) -> torch.Tensor:
    logits = critic(lower_halves(faces))
    return F.binary_cross_entropy_with_logits(logits, torch.full_like(logits, float(real)))


def _critic_step(critic, optimiser, generated: torch.Tensor, real: torch.Tensor) -> float:
    loss = (_real_loss(critic, real, True) + _real_loss(critic, generated, False)) / 2
    optimiser.zero_grad()
    loss.backward()
    optimiser.step()
    return float(loss.detach())


@torch.no_grad()
def generate_video(generator: Generator, video: SyncVideo) -> tuple[int, np.ndarray]:
    """(first frame, (N, S, S, 3) uint8 generated faces) of every frame that has its sound: the
    windows tile the video, the last one moved back to end with it (its new frames kept)."""
    generator.eval()
    window, audio_frames = generator.window, generator.audio_frames
    device = device_of(generator)
    starts = generator_starts(video, window, audio_frames)
    if len(starts) == 0:
        reason = f"too short for a window of {window} frames with its sound"
        raise InputError(video.name, reason, Category.TOO_SHORT)
    end = starts[-1] + window
    out = np.zeros((end - starts[0], generator.face_size, generator.face_size, 3), np.uint8)
    for start in range(starts[0], end, window):
        start = min(start, starts[-1])
        faces = to_faces(video.faces(start, window)[None], generator.face_size).to(device)
        mels = torch.from_numpy(frame_mels(video, start, window, audio_frames)[None]).to(device)
        out[start - starts[0] : start - starts[0] + window] = to_frames(
            generator(faces, faces, mels)[0]
        )
    return starts[0], out


def save_generator(
    generator: Generator, path: str | Path, provenance: dict[str, Any] | None = None
) -> Path:
    names = ("face_size", "width", "n_mels", "window", "audio_frames")
    config = {name: getattr(generator, name) for name in names}
    return save_network(path, GENERATOR_FORMAT, generator, config, provenance)


def load_generator(path: str | Path) -> tuple[Generator, dict[str, Any]]:
    """(the generator of ``path``, its provenance)."""
    data = read_network(path, GENERATOR_FORMAT)
    generator = Generator(**data["config"])
    load_state(generator, data, path)
    return generator.eval(), data["provenance"]
