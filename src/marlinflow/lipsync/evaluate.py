"""Scoring a generator on held-out videos: LSE-D and LSE-C of what it generates (SyncNet), and
FID of its faces against the real ones, as Wav2Lip's LRS2 table reports them.

Each held-out video is regenerated from its own frames and its own sound (every frame its own
reference, Wav2Lip's inference); the span of frames that have their sound is scored. The real
frames of the same span are scored with SyncNet too (``lse_d_real``, ``lse_c_real``): the row
"real videos" of the table, the level a perfect generator reaches.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

from marlinflow.audio.clock import clip_frame_times, clip_samples, read_audio
from marlinflow.compute.devices import device_of
from marlinflow.config.settings import settings_class
from marlinflow.face.store import FaceTrack
from marlinflow.lipsync.generate import generate_video, to_faces
from marlinflow.lipsync.generator import Generator
from marlinflow.lipsync.pairs import SyncVideo
from marlinflow.lipsync.syncnet import SyncNet, score_video

EvalSettings = settings_class("lipsync.eval", "LipsyncEvalSettings")


@dataclass
class HeldOut:
    """A held-out video and its sound from its first frame on (mono, ``sample_rate``)."""

    video: SyncVideo
    samples: np.ndarray
    sample_rate: int

    @classmethod
    def from_files(
        cls, clip: str | Path, mel: str | Path, source: str | Path, track: str | Path
    ) -> HeldOut:
        """A face clip and its mel file (as training reads them), the video the clip was cut
        from (its sound) and the clip's face track (its frames' times)."""
        video = SyncVideo.from_files(clip, mel)
        audio = read_audio(source)
        times = clip_frame_times(FaceTrack.load(track).meta, video.n_frames, audio.video_start)
        return cls(video, clip_samples(audio, times), audio.sample_rate)


def evaluate_generator(
    generator: Generator,
    held_out: Sequence[HeldOut],
    syncnet: SyncNet,
    cfg,
    inception: torch.nn.Module | None = None,
) -> dict[str, Any]:
    """Mean LSE-D / LSE-C of the generated and the real videos, FID when ``inception`` is
    given, and each video's scores."""
    fid = None
    if inception is not None:
        from marlinflow.lipsync.fid import frechet_metric

        fid = frechet_metric(inception).to(device_of(generator))
    per_video = []
    for item in held_out:
        fps = item.video.mel.fps
        first, generated = generate_video(generator, item.video)
        real = item.video.faces(first, len(generated))
        sound = item.samples[int(round(first / fps * item.sample_rate)) :]
        score = {"id": item.video.name, "frames": len(generated)}
        for name, frames in (("", generated), ("_real", real)):
            found = score_video(
                syncnet, frames, sound, fps, item.sample_rate, cfg.max_offset, cfg.batch_size
            )
            score |= {f"{key}{name}": value for key, value in found.items()}
        if fid is not None:
            _update_fid(fid, real, generated, generator.face_size, cfg.batch_size)
        per_video.append(score)
    summary = {
        key: float(np.mean([v[key] for v in per_video]))
        for key in ("lse_d", "lse_c", "lse_d_real", "lse_c_real")
    }
    summary["fid"] = None if fid is None else float(fid.compute())
    return {
        **summary,
        "videos": len(per_video),
        "max_offset": cfg.max_offset,
        "per_video": per_video,
    }


@torch.no_grad()
def _update_fid(fid, real: np.ndarray, generated: np.ndarray, face_size: int, batch: int) -> None:
    """Add a video's real and generated faces, both at the generator's size, to the FID."""
    for at in range(0, len(real), batch):
        fid.update(to_faces(real[at : at + batch], face_size).to(fid.device), real=True)
        fid.update(to_faces(generated[at : at + batch], face_size).to(fid.device), real=False)
