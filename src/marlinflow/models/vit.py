"""Vision-transformer parts shared by the MARLIN encoder and decoder.

Module and parameter names follow the official release (reference: marlin.md §1.2–1.4, §4.3) so
that its state dicts load strictly: ``patch_embedding.projection``, ``pos_embedding.emb``,
``blocks.{i}.{norm1,attn,norm2,mlp}``, ``attn.{qkv,q_bias,v_bias,proj}``,
``mlp.layers.{0,1}.linear``.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

LAYER_NORM_EPS = 1e-5  # PyTorch's default, as in MARLIN (VideoMAE uses 1e-6)


class PatchEmbedding(nn.Module):
    """Cut a clip into tubelets and embed each: one Conv3d with kernel = stride = tubelet."""

    def __init__(self, dim: int, patch_size: int, tubelet: int):
        super().__init__()
        kernel = (tubelet, patch_size, patch_size)
        self.projection = nn.Conv3d(3, dim, kernel_size=kernel, stride=kernel)

    def forward(self, video: torch.Tensor) -> torch.Tensor:
        # (B, 3, T, H, W) -> (B, D, t, h, w) -> (B, t*h*w, D), tokens in (t, h, w) order
        return self.projection(video).flatten(2).transpose(1, 2)


def sinusoid_table(n_positions: int, dim: int) -> torch.Tensor:
    """1-D sinusoid table (n_positions, dim): channel j of position p is sin (even j) or
    cos (odd j) of p / 10000^(2·floor(j/2)/dim), interleaved as in VideoMAE and MARLIN."""
    # Computed in float32 as p · (1 / 10000^x), the official code's arithmetic, so that the
    # table is bit-equal to the one stored in the released weights (an exact float64 table
    # differs from it by up to 1e-4 at p ~ 1500).
    position = torch.arange(n_positions, dtype=torch.float32)[:, None]  # (P, 1)
    pair = torch.div(torch.arange(dim), 2, rounding_mode="floor")  # (D,) int
    inverse_wavelength = torch.pow(torch.tensor(10000.0), 2 * pair / dim).reciprocal()  # (D,)
    angle = position * inverse_wavelength  # (P, D)
    table = torch.empty_like(angle)
    table[:, 0::2] = torch.sin(angle[:, 0::2])
    table[:, 1::2] = torch.cos(angle[:, 1::2])
    return table


class SinusoidPositionEmbedding(nn.Module):
    """A fixed table added to the tokens. It is a frozen parameter rather than a buffer because
    the released state dicts store it as ``pos_embedding.emb``."""

    def __init__(self, n_positions: int, dim: int):
        super().__init__()
        self.emb = nn.Parameter(sinusoid_table(n_positions, dim)[None], requires_grad=False)

    def forward(self, tokens: torch.Tensor) -> torch.Tensor:
        return tokens + self.emb  # (B, N, D) + (1, N, D)


class Attention(nn.Module):
    """Multi-head self-attention with a fused bias-free qkv projection and separate q and v
    biases (the k bias is fixed at zero, as in BEiT and VideoMAE)."""

    def __init__(self, dim: int, n_heads: int):
        super().__init__()
        self.n_heads = n_heads
        self.qkv = nn.Linear(dim, 3 * dim, bias=False)
        self.q_bias = nn.Parameter(torch.zeros(dim))
        self.v_bias = nn.Parameter(torch.zeros(dim))
        self.proj = nn.Linear(dim, dim)

    def qkv_heads(self, x: torch.Tensor) -> torch.Tensor:
        """(B, N, D) -> (3, B, heads, N, D/heads)"""
        k_bias = torch.zeros_like(self.v_bias, requires_grad=False)
        bias = torch.cat([self.q_bias, k_bias, self.v_bias])
        qkv = F.linear(x, self.qkv.weight, bias)  # (B, N, 3D)
        batch, n_tokens, _ = x.shape
        return qkv.reshape(batch, n_tokens, 3, self.n_heads, -1).permute(2, 0, 3, 1, 4)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        q, k, v = self.qkv_heads(x)  # each (B, heads, N, D/heads)
        out = F.scaled_dot_product_attention(q, k, v)  # softmax(q k^T / sqrt(D/heads)) v
        return self.proj(out.transpose(1, 2).flatten(2))  # (B, N, D)


class Dense(nn.Module):
    """A linear layer and its activation, named so the weights sit at ``layers.{i}.linear``."""

    def __init__(self, dim_in: int, dim_out: int, activation: nn.Module | None = None):
        super().__init__()
        self.linear = nn.Linear(dim_in, dim_out)
        self.activation = activation if activation is not None else nn.Identity()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.activation(self.linear(x))


class MLP(nn.Module):
    """Linear(D, r·D) -> exact GELU -> Linear(r·D, D)."""

    def __init__(self, dim: int, mlp_ratio: float):
        super().__init__()
        hidden = int(dim * mlp_ratio)
        self.layers = nn.Sequential(Dense(dim, hidden, nn.GELU()), Dense(hidden, dim))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.layers(x)


class Block(nn.Module):
    """Pre-norm transformer block: x + Attn(LN(x)), then x + MLP(LN(x))."""

    def __init__(self, dim: int, n_heads: int, mlp_ratio: float):
        super().__init__()
        self.norm1 = nn.LayerNorm(dim, eps=LAYER_NORM_EPS)
        self.attn = Attention(dim, n_heads)
        self.norm2 = nn.LayerNorm(dim, eps=LAYER_NORM_EPS)
        self.mlp = MLP(dim, mlp_ratio)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = x + self.attn(self.norm1(x))
        return x + self.mlp(self.norm2(x))


def make_blocks(dim: int, depth: int, n_heads: int, mlp_ratio: float) -> nn.ModuleList:
    return nn.ModuleList(Block(dim, n_heads, mlp_ratio) for _ in range(depth))


def init_weights(module: nn.Module) -> None:
    """MARLIN's initialisation of the transformer (marlin.md §1.4): Xavier-uniform Linear weights
    and zero biases, LayerNorm 1 and 0. Conv3d keeps PyTorch's default. Use with ``Module.apply``."""
    if isinstance(module, nn.Linear):
        nn.init.xavier_uniform_(module.weight)
        if module.bias is not None:
            nn.init.zeros_(module.bias)
    elif isinstance(module, nn.LayerNorm):
        nn.init.ones_(module.weight)
        nn.init.zeros_(module.bias)


# How the layers outside the transformers start (``enc_dec_proj`` and the critic's MLP):
# official - PyTorch's default Linear init, weights and biases U(±1/sqrt(fan_in)), as the
# official code leaves them; xavier - ``init_weights`` like the blocks (Xavier-uniform weights,
# zero biases).
LAYER_INITS = ("official", "xavier")


def init_outer_layers(module: nn.Module, layer_init: str) -> None:
    """Initialise a freshly built ``module``'s Linear layers the ``layer_init`` way (one of
    ``LAYER_INITS``); official leaves them as PyTorch built them."""
    if layer_init not in LAYER_INITS:
        raise ValueError(f"layer_init must be one of {LAYER_INITS}, not {layer_init!r}")
    if layer_init == "xavier":
        module.apply(init_weights)
