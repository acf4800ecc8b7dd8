"""The MARLIN masked autoencoder: encoder, projection, decoder; and the pixel targets.

The mask is data: it is made in the data pipeline (``marlinflow.masking``) and handed to the
model as a (B, N) bool tensor, True = visible to the encoder.
"""

from __future__ import annotations

import torch
from torch import nn

from marlinflow.models.decoder import MarlinDecoder
from marlinflow.models.encoder import MarlinEncoder
from marlinflow.models.registry import ModelSize
from marlinflow.models.vit import init_outer_layers


def patchify(video: torch.Tensor, size: ModelSize) -> torch.Tensor:
    """(B, 3, T, H, W) -> (B, N, patch_dim): tokens in (t, h, w) order, each token's pixels in
    (c, pt, ph, pw) order, the order of the decoder's output."""
    batch, channels, frames, height, width = video.shape
    pt, p = size.tubelet, size.patch_size
    x = video.reshape(batch, channels, frames // pt, pt, height // p, p, width // p, p)
    x = x.permute(0, 2, 4, 6, 1, 3, 5, 7)  # (B, t, h, w, C, pt, ph, pw)
    return x.reshape(batch, -1, channels * pt * p * p)


def unpatchify(patches: torch.Tensor, size: ModelSize) -> torch.Tensor:
    """(B, N, patch_dim) -> (B, 3, T, H, W); the inverse of ``patchify``."""
    t, h, w = size.grid
    pt, p = size.tubelet, size.patch_size
    x = patches.reshape(patches.shape[0], t, h, w, 3, pt, p, p)
    x = x.permute(0, 4, 1, 5, 2, 6, 3, 7)  # (B, C, t, pt, h, ph, w, pw)
    return x.reshape(patches.shape[0], 3, t * pt, h * p, w * p)


class MarlinModel(nn.Module):
    """Encoder + bias-free ``enc_dec_proj`` + decoder, named as in the released weights.

    ``with_decoder=False`` builds the encoder alone, whose state dict is the layout of the
    released ``*.encoder.pt`` files. ``layer_init`` is how ``enc_dec_proj`` starts (see
    ``vit.LAYER_INITS``): PyTorch's default Linear init as in the official code, or Xavier.
    """

    def __init__(self, size: ModelSize, with_decoder: bool = True, layer_init: str = "official"):
        super().__init__()
        self.size = size
        self.encoder = MarlinEncoder(size)
        if with_decoder:
            self.enc_dec_proj = nn.Linear(size.enc_dim, size.dec_dim, bias=False)
            init_outer_layers(self.enc_dec_proj, layer_init)
            self.decoder = MarlinDecoder(size)

    @property
    def has_decoder(self) -> bool:
        return hasattr(self, "decoder")

    def forward(self, video: torch.Tensor, visible: torch.Tensor) -> torch.Tensor:
        """Clip (B, 3, T, H, W) in [0, 1] and mask (B, N) -> pixels of the masked tubelets
        (B, N_masked, patch_dim), in increasing token order."""
        if not self.has_decoder:
            raise RuntimeError("this MARLIN model was built without a decoder (encoder only)")
        visible_tokens = self.encoder(video, visible)  # (B, N_visible, D)
        return self.decoder(self.enc_dec_proj(visible_tokens), visible)

    def targets(self, video: torch.Tensor, visible: torch.Tensor) -> torch.Tensor:
        """The raw pixels (B, N_masked, patch_dim) that ``forward`` predicts; no normalisation."""
        patches = patchify(video, self.size)  # (B, N, patch_dim)
        return patches[~visible].reshape(video.shape[0], -1, patches.shape[-1])

    def reconstruct(self, video: torch.Tensor, visible: torch.Tensor) -> torch.Tensor:
        """The clip with its masked tubelets replaced by the predictions, (B, 3, T, H, W)."""
        patches = patchify(video, self.size).clone()
        patches[~visible] = self(video, visible).flatten(0, 1).to(patches.dtype)
        return unpatchify(patches, self.size)
