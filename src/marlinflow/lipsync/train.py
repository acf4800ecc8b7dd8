"""Training the lip-sync expert on in-sync and shifted pairs, and scoring it on held-out videos."""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch

from marlinflow.compute.devices import device_of
from marlinflow.config.settings import settings_class
from marlinflow.downstream.encoders import load_encoder
from marlinflow.errors import Category, InputError
from marlinflow.lipsync.expert import SyncExpert, sync_loss
from marlinflow.lipsync.files import load_state, read_network, save_network
from marlinflow.lipsync.offset import (
    MAX_OFFSET,
    ScoreFn,
    best_offset,
    offset_accuracy,
    offset_scores,
    sync_accuracy,
)
from marlinflow.lipsync.pairs import SyncVideo, sample_pairs, to_clips
from marlinflow.models import MarlinEncoder, resolve_size

ExpertTraining = settings_class("lipsync.expert", "ExpertTraining")
EXPERT_FORMAT = "marlinflow-lipsync-expert/1"


def build_expert(
    spec: str, freeze_encoder: bool = True, trusted: bool = False, **heads
) -> SyncExpert:
    """An expert around the encoder ``spec`` names, as every downstream protocol loads one
    (:func:`marlinflow.downstream.encoders.load_encoder`: an encoder file of ours, the released
    weights imported, ``random:<size>``, ``videomae:<size>:<path>``)."""
    encoder, _ = load_encoder(spec, trusted=trusted)
    return SyncExpert(encoder, freeze_encoder=freeze_encoder, **heads)


def window_of(expert: SyncExpert) -> int:
    """Frames a window: the encoder's clip length."""
    return expert.encoder.size.n_frames


def train_expert(
    expert: SyncExpert, videos: Sequence[SyncVideo], cfg: ExpertTraining
) -> list[float]:
    """Adam on the BCE of random in-sync / shifted pairs; returns the loss of every step."""
    rng = np.random.default_rng(cfg.seed)
    torch.manual_seed(cfg.seed)
    params = [p for p in expert.parameters() if p.requires_grad]
    optimiser = torch.optim.Adam(params, lr=cfg.lr)
    img_size, window = expert.encoder.size.img_size, window_of(expert)
    device = device_of(expert)
    expert.train()
    losses = []
    for _ in range(cfg.steps):
        faces, mels, labels = sample_pairs(videos, cfg.batch_size, window, rng, cfg.min_shift)
        similarity = expert(to_clips(faces, img_size).to(device), torch.from_numpy(mels).to(device))
        loss = sync_loss(similarity, torch.from_numpy(labels).to(device))
        optimiser.zero_grad()
        loss.backward()
        optimiser.step()
        losses.append(float(loss.detach()))
    recalibrate_norms(expert, videos, cfg, rng)
    expert.eval()
    return losses


@torch.no_grad()
def recalibrate_norms(
    expert: SyncExpert, videos: Sequence[SyncVideo], cfg: ExpertTraining, rng, batches: int = 8
) -> None:
    """Measure the batch norms' statistics afresh on the final weights (a plain average over
    ``batches`` batches). Their running averages trail the weights: harmless with a frozen
    encoder, but a fine-tuned encoder moves its pooled features by more than they vary between
    clips, and the lagging averages would push every evaluation score to one side."""
    norms = [m for m in expert.modules() if isinstance(m, torch.nn.modules.batchnorm._BatchNorm)]
    momenta = [norm.momentum for norm in norms]
    for norm in norms:
        norm.reset_running_stats()
        norm.momentum = None  # a cumulative average
    img_size, window = expert.encoder.size.img_size, window_of(expert)
    device = device_of(expert)
    expert.train()
    for _ in range(batches):
        faces, mels, _ = sample_pairs(videos, cfg.batch_size, window, rng, cfg.min_shift)
        expert(to_clips(faces, img_size).to(device), torch.from_numpy(mels).to(device))
    for norm, momentum in zip(norms, momenta, strict=True):
        norm.momentum = momentum


def expert_score(expert: SyncExpert) -> ScoreFn:
    """The expert as a score of windows (its similarity), evaluated without gradients: the faces
    are embedded once, the mel windows of every offset together."""
    img_size, device = expert.encoder.size.img_size, device_of(expert)

    @torch.no_grad()
    def score(faces: Sequence[np.ndarray], mels: np.ndarray) -> np.ndarray:
        expert.eval()
        face = expert.embed_face(to_clips(faces, img_size).to(device))  # (B, E)
        audio = expert.embed_audio(torch.from_numpy(mels).to(device).flatten(0, 1))  # (O·B, E)
        return (audio.unflatten(0, mels.shape[:2]) * face).sum(dim=-1).cpu().numpy()  # (O, B)

    return score


def evaluate_expert(
    expert: SyncExpert,
    videos: Sequence[SyncVideo],
    n_pairs: int = 64,
    max_offset: int = MAX_OFFSET,
    seed: int = 1,
    true_offsets: Sequence[int] | None = None,
) -> dict[str, Any]:
    """Sync accuracy on held-out in-sync / shifted pairs, and AV-offset accuracy (the offset
    found over ±``max_offset`` frames against the true one, 0 unless given), with each video's
    offset curve. A video too short for the offset search is left out of it and listed in
    ``skipped`` with the reason: one short video does not sink the evaluation."""
    window, score = window_of(expert), expert_score(expert)
    faces, mels, labels = sample_pairs(videos, n_pairs, window, np.random.default_rng(seed))
    true = [0] * len(videos) if true_offsets is None else list(true_offsets)
    found, expected, curves, skipped = [], [], {}, []
    offsets = np.arange(-max_offset, max_offset + 1)
    for video, offset in zip(videos, true, strict=True):
        try:
            offsets, scores = offset_scores(score, video, window, max_offset)
        except InputError as err:
            if err.category is not Category.TOO_SHORT:
                raise
            skipped.append({"id": video.name, "reason": err.reason})
            continue
        found.append(best_offset(offsets, scores))
        expected.append(offset)
        curves[video.name] = [round(float(value), 5) for value in scores]
    searched = bool(found)
    return {
        "sync_accuracy": sync_accuracy(score(faces, mels[None])[0], labels),
        "offset_accuracy": offset_accuracy(found, expected) if searched else None,
        "offset_accuracy_1": offset_accuracy(found, expected, tolerance=1) if searched else None,
        "videos": len(videos),
        "offsets": [int(o) for o in offsets],
        "curves": curves,
        "skipped": skipped,
    }


def save_expert(
    expert: SyncExpert, path: str | Path, provenance: dict[str, Any] | None = None
) -> Path:
    """Write ``expert`` (encoder and heads) as a self-describing file: the encoder's geometry
    and the heads' widths rebuild it (:func:`load_expert`)."""
    config = {
        "encoder": dataclasses.asdict(expert.encoder.size),
        "dim": expert.dim,
        "audio_width": expert.audio_width,
        "freeze_encoder": expert.freeze_encoder,
    }
    return save_network(path, EXPERT_FORMAT, expert, config, provenance)


def load_expert(path: str | Path) -> tuple[SyncExpert, dict[str, Any]]:
    """(the expert of ``path``, in evaluation mode, its provenance)."""
    data = read_network(path, EXPERT_FORMAT)
    config = data["config"]
    encoder = MarlinEncoder(resolve_size(config["encoder"]))
    expert = SyncExpert(
        encoder, config["dim"], bool(config["freeze_encoder"]), config["audio_width"]
    )
    load_state(expert, data, path)
    return expert.eval(), data["provenance"]
