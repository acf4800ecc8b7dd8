"""The MARLIN decoder: predicts the raw pixels of the masked tubelets from the visible tokens."""

from __future__ import annotations

import torch
from torch import nn

from marlinflow.models.encoder import gather_tokens
from marlinflow.models.registry import ModelSize
from marlinflow.models.vit import (
    LAYER_NORM_EPS,
    SinusoidPositionEmbedding,
    init_weights,
    make_blocks,
)


class MarlinDecoder(nn.Module):
    """[visible + pos ; mask_token + pos] -> blocks -> last N_masked tokens -> LN -> pixels."""

    def __init__(self, size: ModelSize):
        super().__init__()
        self.size = size
        self.mask_token = nn.Parameter(torch.zeros(1, 1, size.dec_dim))
        self.pos_embedding = SinusoidPositionEmbedding(size.n_tokens, size.dec_dim)
        self.blocks = make_blocks(size.dec_dim, size.dec_depth, size.dec_heads, size.mlp_ratio)
        self.norm = nn.LayerNorm(size.dec_dim, eps=LAYER_NORM_EPS)
        self.head = nn.Linear(size.dec_dim, size.patch_dim)
        self.apply(init_weights)
        nn.init.trunc_normal_(self.mask_token, std=0.02, a=-0.02, b=0.02)

    def forward(self, visible_tokens: torch.Tensor, visible: torch.Tensor) -> torch.Tensor:
        """Visible tokens (B, N_visible, d) already projected to the decoder width, and the
        (B, N) visibility mask -> predictions (B, N_masked, patch_dim) for the masked positions
        in increasing token order, each in (c, pt, ph, pw) order like ``patchify``."""
        pos = self.pos_embedding.emb.expand(visible.shape[0], -1, -1)  # (B, N, d)
        # the encoder has checked that every row has the same number of visible tokens
        seen = visible_tokens + gather_tokens(pos, visible, checked=True)  # (B, N_visible, d)
        masked = self.mask_token + gather_tokens(pos, ~visible, checked=True)  # (B, N_masked, d)
        tokens = torch.cat([seen, masked], dim=1)  # (B, N, d)
        for block in self.blocks:
            tokens = block(tokens)
        return self.head(self.norm(tokens[:, seen.shape[1] :]))  # (B, N_masked, patch_dim)
