"""Reconstruction grids: input, masked input and reconstruction of one clip, frame by frame."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

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


def reconstruction_grid(video: torch.Tensor, visible: torch.Tensor, recon: torch.Tensor,
                        size: ModelSize) -> np.ndarray:  # fmt: skip
    """Rows input / masked / reconstruction, one column per frame: (3H, T*W, 3) uint8."""
    rows = [video, masked_view(video, visible, size), recon]  # each (3, T, H, W)
    grid = torch.stack(rows).detach().float().cpu().clamp(0, 1)  # (3, C, T, H, W)
    grid = grid.permute(0, 3, 2, 4, 1)  # (rows, H, T, W, C)
    n_rows, height, frames, width, channels = grid.shape
    image = grid.reshape(n_rows * height, frames * width, channels)
    return (image.numpy() * 255).round().astype(np.uint8)


def log_reconstruction(path: str | Path, video: torch.Tensor, visible: torch.Tensor,
                       recon: torch.Tensor, size: ModelSize, loggers: Sequence = (),
                       step: int = 0) -> Path:  # fmt: skip
    """Write the grid as PNG (atomically) and hand it to every logger that takes images."""
    image = reconstruction_grid(video, visible, recon, size)
    path = Path(path)
    with atomic_path(path) as tmp:
        Image.fromarray(image).save(tmp, format="PNG")
    for logger in loggers:
        if hasattr(logger, "log_image"):  # e.g. WandbLogger
            logger.log_image(key="reconstruction", images=[image], step=step,
                             caption=["input / masked / reconstruction"])  # fmt: skip
    return path
