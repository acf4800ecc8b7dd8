"""The official ControlNet/MARLIN code, imported from a checkout kept outside this repository
(its licence, CC BY-NC, keeps it out), for benchmarks that run it side by side with ours."""

from __future__ import annotations

import sys
import types
from pathlib import Path

from marlinflow.models import ModelSize


def add_to_path(src: Path) -> None:
    """Make ``marlin_pytorch.model.*`` and the training code's ``model.*`` importable from
    ``src``. The package folders are registered without running their ``__init__`` files,
    which import video-reading and face-detection dependencies that neither benchmark uses."""
    for name, folder in (
        ("marlin_pytorch", "src/marlin_pytorch"),
        ("marlin_pytorch.model", "src/marlin_pytorch/model"),
    ):
        package = types.ModuleType(name)
        package.__path__ = [str(src / folder)]
        sys.modules[name] = package
    if str(src) not in sys.path:
        sys.path.insert(0, str(src))


def encoder(src: Path, size: ModelSize):
    """The official ``MarlinEncoder`` at ``size``'s geometry (the release's other settings:
    q/v bias, no dropout, LayerNorm, no layer scale); its state dict has our layout."""
    add_to_path(src)
    from marlin_pytorch.model.encoder import MarlinEncoder

    return MarlinEncoder(
        img_size=size.img_size,
        patch_size=size.patch_size,
        n_frames=size.n_frames,
        embed_dim=size.enc_dim,
        depth=size.enc_depth,
        num_heads=size.enc_heads,
        mlp_ratio=size.mlp_ratio,
        qkv_bias=True,
        qk_scale=None,
        drop_rate=0.0,
        attn_drop_rate=0.0,
        norm_layer="LayerNorm",
        init_values=0.0,
        tubelet_size=size.tubelet,
    )
