"""The one registry of model sizes: the official MARLIN ViT-S/B/L and tiny sizes for CPU runs.

Official sizes (reference: marlin.md §1.1) take 16-frame 224×224 clips cut into 2×16×16
tubelets, 8×14×14 = 1568 tokens. The tiny sizes keep the architecture and change only the
geometry and the widths, so that pretraining runs in minutes on a CPU:

- ``tiny``: 8 frames of 64×64 cut into 2×8×8 tubelets, a 4×8×8 grid of 256 tokens. The patch
  is 8 px, not 16, so that a 64 px face crop still has an 8×8 grid in which facial parts
  (eyes, nose, mouth) occupy distinct cells; Fasking needs that. Encoder 96 wide, 4 deep,
  3 heads; decoder 48 / 1 / 3 (head width 32 and 16). About 0.5 M parameters.
- ``mini``: the official clip (16 frames, tubelet 2, patch 16) at 112×112, a 8×7×7 grid of
  392 tokens, so that windowing and masking behave exactly as with the official clip length.
  Encoder 192 / 6 / 3, decoder 96 / 2 / 3. About 3 M parameters.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class ModelSize:
    """Geometry and widths of one MARLIN encoder + decoder."""

    name: str
    img_size: int = 224
    patch_size: int = 16
    n_frames: int = 16
    tubelet: int = 2
    enc_dim: int = 384
    enc_depth: int = 12
    enc_heads: int = 6
    dec_dim: int = 192
    dec_depth: int = 4
    dec_heads: int = 3
    mlp_ratio: float = 4.0

    def __post_init__(self) -> None:
        problems = []
        if self.img_size % self.patch_size:
            problems.append(f"img_size {self.img_size} is not a multiple of patch_size")
        if self.n_frames % self.tubelet:
            problems.append(f"n_frames {self.n_frames} is not a multiple of tubelet")
        if self.enc_dim % self.enc_heads:
            problems.append(f"enc_dim {self.enc_dim} is not a multiple of enc_heads")
        if self.dec_dim % self.dec_heads:
            problems.append(f"dec_dim {self.dec_dim} is not a multiple of dec_heads")
        if problems:
            raise ValueError(f"model size {self.name!r}: " + "; ".join(problems))

    @property
    def grid(self) -> tuple[int, int, int]:
        """Token grid (t, h, w); tokens are flattened with t slowest and w fastest."""
        side = self.img_size // self.patch_size
        return (self.n_frames // self.tubelet, side, side)

    @property
    def n_tokens(self) -> int:
        t, h, w = self.grid
        return t * h * w

    @property
    def patch_dim(self) -> int:
        """Pixel values per token: 3 channels × tubelet × patch × patch."""
        return 3 * self.tubelet * self.patch_size**2

    @property
    def clip_shape(self) -> tuple[int, int, int, int]:
        """One input clip's shape (C, T, H, W)."""
        return (3, self.n_frames, self.img_size, self.img_size)


SIZES: dict[str, ModelSize] = {
    size.name: size
    for size in (
        ModelSize(
            "small", enc_dim=384, enc_depth=12, enc_heads=6, dec_dim=192, dec_depth=4, dec_heads=3
        ),
        ModelSize(
            "base", enc_dim=768, enc_depth=12, enc_heads=12, dec_dim=384, dec_depth=4, dec_heads=6
        ),
        # ViT-L's decoder is 12 deep in MARLIN (VideoMAE-L's is 4).
        ModelSize(
            "large",
            enc_dim=1024,
            enc_depth=24,
            enc_heads=16,
            dec_dim=512,
            dec_depth=12,
            dec_heads=8,
        ),
        ModelSize(
            "mini",
            img_size=112,
            enc_dim=192,
            enc_depth=6,
            enc_heads=3,
            dec_dim=96,
            dec_depth=2,
            dec_heads=3,
        ),
        ModelSize(
            "tiny",
            img_size=64,
            patch_size=8,
            n_frames=8,
            enc_dim=96,
            enc_depth=4,
            enc_heads=3,
            dec_dim=48,
            dec_depth=1,
            dec_heads=3,
        ),
    )
}

# The released weights' names (marlin_vit_<size>_ytf) map onto the official sizes.
RELEASED = {f"marlin_vit_{name}_ytf": name for name in ("small", "base", "large")}


def get_size(name: str) -> ModelSize:
    """The registered size called ``name`` (or a released model's name, e.g. marlin_vit_base_ytf)."""
    key = RELEASED.get(name, name)
    if key not in SIZES:
        known = ", ".join(list(SIZES) + list(RELEASED))
        raise KeyError(f"unknown model size {name!r}; known sizes: {known}")
    return SIZES[key]


def resolve_size(spec: str | Mapping[str, Any] | ModelSize) -> ModelSize:
    """A size from a name, a ModelSize, or a mapping ``{"name": <registered>, **overrides}``.

    Config files use the mapping form, e.g. ``{"name": "tiny", "n_frames": 16}``.
    """
    if isinstance(spec, ModelSize):
        return spec
    if isinstance(spec, str):
        return get_size(spec)
    if not isinstance(spec, Mapping) or "name" not in spec:
        raise ValueError(f"a model size is a name or a mapping with a 'name' key, not {spec!r}")
    overrides = {key: value for key, value in spec.items() if key != "name"}
    fields = {field.name for field in dataclasses.fields(ModelSize)} - {"name"}
    unknown = sorted(set(overrides) - fields)
    if unknown:
        raise ValueError(f"unknown model size fields {unknown}; valid: {sorted(fields)}")
    return dataclasses.replace(get_size(spec["name"]), **overrides)
