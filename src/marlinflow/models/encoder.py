"""The MARLIN encoder: a ViT over tubelet tokens with a fixed 1-D sinusoid position table."""

from __future__ import annotations

import torch
from torch import nn

from marlinflow.models.registry import ModelSize
from marlinflow.models.vit import (
    LAYER_NORM_EPS,
    PatchEmbedding,
    SinusoidPositionEmbedding,
    init_weights,
    make_blocks,
)


def gather_tokens(tokens: torch.Tensor, keep: torch.Tensor, checked: bool = False) -> torch.Tensor:
    """Tokens (B, N, D) at the True positions of ``keep`` (B, N), in increasing token order.

    Every row must keep the same number of tokens, so the result stays a dense tensor; the
    check costs a device sync, so callers that already made it pass ``checked=True``.
    """
    if not checked:
        counts = keep.sum(dim=1)
        if bool((counts != counts[0]).any()):
            raise ValueError(
                f"each sample must keep the same number of tokens, got {counts.tolist()}"
            )
    return tokens[keep].reshape(tokens.shape[0], -1, tokens.shape[-1])  # (B, N_keep, D)


class MarlinEncoder(nn.Module):
    """Patch embedding -> position table -> (visible tokens) -> blocks -> LayerNorm."""

    def __init__(self, size: ModelSize):
        super().__init__()
        self.size = size
        self.patch_embedding = PatchEmbedding(size.enc_dim, size.patch_size, size.tubelet)
        self.pos_embedding = SinusoidPositionEmbedding(size.n_tokens, size.enc_dim)
        self.blocks = make_blocks(size.enc_dim, size.enc_depth, size.enc_heads, size.mlp_ratio)
        self.norm = nn.LayerNorm(size.enc_dim, eps=LAYER_NORM_EPS)
        self.apply(init_weights)

    def check_clip(self, video: torch.Tensor) -> None:
        expected = self.size.clip_shape
        if video.ndim != 5 or tuple(video.shape[1:]) != expected:
            raise ValueError(
                f"model size {self.size.name!r} takes clips (B, {', '.join(map(str, expected))}),"
                f" got {tuple(video.shape)}"
            )

    def embed(self, video: torch.Tensor) -> torch.Tensor:
        """(B, 3, T, H, W) in [0, 1] -> (B, N, D) position-encoded tokens."""
        self.check_clip(video)
        return self.pos_embedding(self.patch_embedding(video))

    def run_blocks(self, tokens: torch.Tensor) -> torch.Tensor:
        for block in self.blocks:
            tokens = block(tokens)
        return tokens

    def forward(self, video: torch.Tensor, visible: torch.Tensor | None = None) -> torch.Tensor:
        """Normed tokens (B, N_visible, D) of the visible positions, or all N when visible is None.

        ``visible`` is a (B, N) bool mask, True = seen by the encoder, same count per row.
        """
        tokens = self.embed(video)  # (B, N, D)
        if visible is not None:
            tokens = gather_tokens(tokens, visible)  # (B, N_visible, D)
        return self.norm(self.run_blocks(tokens))

    def extract_features(self, video: torch.Tensor, *, keep_seq: bool) -> torch.Tensor:
        """Features of whole clips: (B, N, D) per-token with ``keep_seq``, else (B, D) pooled.
        (No default: ``Marlin.extract_features`` defaults to per-token, as the official package.)

        The pooled feature is LayerNorm(mean of the block outputs), as in the released model
        (marlin.md §1.5); it is not the mean of the per-token features. Gradients follow the
        caller's grad mode, in train and eval mode alike.
        """
        tokens = self.run_blocks(self.embed(video))  # (B, N, D)
        if keep_seq:
            return self.norm(tokens)
        return self.norm(tokens.mean(dim=1))  # (B, D)
