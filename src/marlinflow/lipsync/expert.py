"""The lip-sync expert: MARLIN face embedding · audio embedding, cosine similarity, BCE."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from marlinflow.models import MarlinEncoder

EPS = 1e-6


def conv_block(c_in: int, c_out: int, stride: tuple[int, int]) -> nn.Sequential:
    return nn.Sequential(
        nn.Conv2d(c_in, c_out, 3, stride, 1), nn.BatchNorm2d(c_out), nn.ReLU(inplace=True)
    )


class AudioEncoder(nn.Module):
    """(B, n_mels, steps) log-mel window -> (B, dim): a small conv stack, pooled over both axes."""

    def __init__(self, dim: int, width: int = 32):
        super().__init__()
        self.convs = nn.Sequential(
            conv_block(1, width, (1, 1)),
            conv_block(width, width * 2, (3, 1)),  # frequency shrinks faster than time
            conv_block(width * 2, width * 4, (3, 2)),
            conv_block(width * 4, width * 4, (3, 2)),
        )
        self.out = nn.Linear(width * 4, dim)

    def forward(self, mel: torch.Tensor) -> torch.Tensor:
        x = self.convs(mel.unsqueeze(1))  # (B, C, F', T')
        return self.out(x.mean(dim=(2, 3)))  # (B, dim)


class SyncExpert(nn.Module):
    """P(in sync) of a face clip (B, 3, T, S, S) and the mel window of its span (B, n_mels, M).

    Both embeddings go through a ReLU and are L2-normalised, so their cosine similarity lies in
    [0, 1] and is read directly as the probability (Wav2Lip's expert). With ``freeze_encoder``
    the encoder's weights never change and it runs without gradients (the frozen variant);
    otherwise it is fine-tuned with the heads.
    """

    def __init__(
        self,
        encoder: MarlinEncoder,
        dim: int = 128,
        freeze_encoder: bool = True,
        audio_width: int = 32,
    ):
        super().__init__()
        self.encoder = encoder
        self.freeze_encoder = freeze_encoder
        self.dim, self.audio_width = dim, audio_width
        encoder.requires_grad_(not freeze_encoder)
        # the pooled features of a frozen encoder vary little from clip to clip (they are the
        # LayerNorm of a mean over all tokens, the mouth a few of them): standardise them first
        self.face_head = nn.Sequential(
            nn.BatchNorm1d(encoder.size.enc_dim), nn.Linear(encoder.size.enc_dim, dim)
        )
        self.audio = AudioEncoder(dim, audio_width)

    def embed_face(self, clips: torch.Tensor) -> torch.Tensor:
        # a frozen encoder still passes gradients to clips that want them (generated faces)
        wanted = not self.freeze_encoder or clips.requires_grad
        with torch.set_grad_enabled(torch.is_grad_enabled() and wanted):
            features = self.encoder.extract_features(clips, keep_seq=False)  # (B, D)
        return F.normalize(F.relu(self.face_head(features)), dim=1, eps=EPS)

    def embed_audio(self, mels: torch.Tensor) -> torch.Tensor:
        return F.normalize(F.relu(self.audio(mels)), dim=1, eps=EPS)

    def forward(self, clips: torch.Tensor, mels: torch.Tensor) -> torch.Tensor:
        """(B,) cosine similarity of the two embeddings, in [0, 1]."""
        return (self.embed_face(clips) * self.embed_audio(mels)).sum(dim=1)


def sync_loss(similarity: torch.Tensor, in_sync: torch.Tensor) -> torch.Tensor:
    """Binary cross-entropy of the similarities (as probabilities) against 1 = in sync."""
    return F.binary_cross_entropy(similarity.clamp(EPS, 1 - EPS), in_sync.float())
