"""Reconstruction grids: input, masked input and reconstruction of one clip, frame by frame."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import torch
from PIL import Image

from marlinflow.atomic import atomic_path
from marlinflow.models import ModelSize, patchify, unpatchify

MASK_GREY = 0.5


def masked_view(video: torch.Tensor, visible: torch.Tensor, size: ModelSize) -> torch.Tensor:
    """The clip (3, T, H, W) with its masked tubelets painted grey."""
    patches = patchify(video[None], size).clone()  # (1, N, P)
    patches[0, ~visible] = MASK_GREY
    return unpatchify(patches, size)[0]


def reconstruction_grid(
    video: torch.Tensor, visible: torch.Tensor, recon: torch.Tensor, size: ModelSize
) -> np.ndarray:
    """Rows input / masked / reconstruction, one column per frame: (3H, T*W, 3) uint8."""
    rows = [video, masked_view(video, visible, size), recon]  # each (3, T, H, W)
    grid = torch.stack(rows).detach().float().cpu().clamp(0, 1)  # (3, C, T, H, W)
    grid = grid.permute(0, 3, 2, 4, 1)  # (rows, H, T, W, C)
    n_rows, height, frames, width, channels = grid.shape
    image = grid.reshape(n_rows * height, frames * width, channels)
    return (image.numpy() * 255).round().astype(np.uint8)


def log_reconstruction(
    path: str | Path,
    video: torch.Tensor,
    visible: torch.Tensor,
    recon: torch.Tensor,
    size: ModelSize,
    wandb_run: Any = None,
) -> Path:
    """Write the grid as PNG (atomically) and, when a W&B run is given, log it there too."""
    image = reconstruction_grid(video, visible, recon, size)
    path = Path(path)
    with atomic_path(path) as tmp:
        Image.fromarray(image).save(tmp, format="PNG")
    if wandb_run is not None:
        import wandb

        # No step of its own: it joins the step the trainer logged last (W&B takes steps in
        # increasing order only, and the trainer numbers them).
        picture = wandb.Image(image, caption="input / masked / reconstruction")
        wandb_run.log({"val/reconstruction": picture}, commit=False)
    return path
