"""The per-patch critic of MARLIN's adversarial loss (marlin.md §1.8)."""

from __future__ import annotations

import torch
from torch import nn

from marlinflow.models.registry import ModelSize
from marlinflow.models.vit import init_outer_layers


class PatchCritic(nn.Module):
    """Scores each pixel patch independently: MLP patch_dim -> 4·dec_dim -> 1, LeakyReLU(0.01).

    The official critic has no Lipschitz constraint (no gradient penalty, no clipping); the
    training loop decides whether to add one. ``layer_init``: see ``vit.LAYER_INITS`` (the
    official critic keeps PyTorch's default Linear init).
    """

    def __init__(self, size: ModelSize, layer_init: str = "official"):
        super().__init__()
        hidden = int(size.dec_dim * 4)
        self.layers = nn.Sequential(
            nn.Linear(size.patch_dim, hidden), nn.LeakyReLU(0.01), nn.Linear(hidden, 1)
        )
        init_outer_layers(self, layer_init)

    def forward(self, patches: torch.Tensor) -> torch.Tensor:
        return self.layers(patches).squeeze(-1)  # (..., patch_dim) -> (...)
