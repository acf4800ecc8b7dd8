"""The learned parser: FaRL's LaPa face-parsing network (TorchScript), run on the aligned crops.

This is the network the official MARLIN preprocessing uses. Its weights are not shipped with
the official code and cannot be fetched by this package; a user who has them passes their path.

The network's contract (as the FacePerceiver ``facer`` toolkit calls it):
- input: RGB images as float in [0, 1], (B, 3, 448, 448), warped around five facial points;
- warp: a similarity transform taking the eye centres, nose tip and mouth corners onto a fixed
  template (``target_face_scale`` 1.0), then a tanh warp (``warp_factor`` 0.8) that compresses
  the image's outer part so that the whole head fits;
- output: a tuple whose first item is the logits (B, 11, 448, 448) in FaRL-LaPa label order;
- the logits are warped back onto the crop with the inverse transform, then arg-maxed.
The official MARLIN code feeds the network BGR images; this one feeds RGB, as it was trained.
"""

from __future__ import annotations

import functools
import os
import warnings
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from marlinflow.errors import InputError
from marlinflow.face.store import PART_LABELS

WEIGHTS_NAME = "face_parsing.farl.lapa.main_ema_136500_jit191.pt"
WEIGHTS_URL = f"https://github.com/FacePerceiver/facer/releases/download/models-v1/{WEIGHTS_NAME}"
WARPED_SIZE = 448
WARP_FACTOR = 0.8
FACE_SCALE = 1.0
# Template of the five points in a 512x512 frame: image-left eye, image-right eye, nose tip,
# image-left and image-right mouth corners.
TEMPLATE_512 = np.array(
    [[196.0, 226.0], [316.0, 226.0], [256.0, 286.0], [220.0, 360.4], [292.0, 360.4]]
)


def default_weights_path() -> Path:
    """``$MARLINFLOW_FARL_WEIGHTS``, else ``~/.cache/marlinflow/<weights name>``."""
    env = os.environ.get("MARLINFLOW_FARL_WEIGHTS")
    return Path(env) if env else Path.home() / ".cache" / "marlinflow" / WEIGHTS_NAME


def load_farl(path: str | Path | None = None, device: str = "cpu") -> torch.jit.ScriptModule:
    """Load the TorchScript parser, or raise an :class:`InputError` that says how to get it."""
    path = Path(path) if path is not None else default_weights_path()
    if not path.is_file():
        raise InputError(
            path,
            f"FaRL-LaPa face-parsing weights not found: download {WEIGHTS_URL} and save it "
            f"at this path (or pass its path with --weights, or set MARLINFLOW_FARL_WEIGHTS)",
        )
    try:
        with warnings.catch_warnings():  # the released file is TorchScript, deprecated or not
            warnings.simplefilter("ignore", DeprecationWarning)
            net = torch.jit.load(str(path), map_location=device)
    except (RuntimeError, ValueError, OSError) as err:
        raise InputError(
            path, f"not a loadable TorchScript file; expected {WEIGHTS_NAME} ({err})"
        ) from err
    return net.eval()


def five_points(landmarks: np.ndarray) -> np.ndarray:
    """(N, 5, 2) eye centres, nose tip and mouth corners, image-left first, from iBUG-68 points."""
    lm = np.asarray(landmarks, dtype=np.float64)
    return np.stack(
        [lm[:, 36:42].mean(1), lm[:, 42:48].mean(1), lm[:, 30], lm[:, 48], lm[:, 54]], axis=1
    )


def template_points(size: int = WARPED_SIZE, scale: float = FACE_SCALE) -> np.ndarray:
    """The five template points (5, 2) in the pixels of a ``size`` square aligned image."""
    unit = TEMPLATE_512 / 256.0 - 1.0  # [-1, 1]
    return (unit * scale + 1.0) * (size - 1) / 2.0


def similarity(src: np.ndarray, dst: np.ndarray) -> np.ndarray:
    """Least-squares similarity (N, 3, 3) taking points src (N, K, 2) onto dst (K, 2).

    The transform is [[a, b, tx], [-b, a, ty]]: rotation, uniform scale, translation, no flip.
    """
    s = src - src.mean(1, keepdims=True)  # (N, K, 2)
    d = dst[None] - dst.mean(0)
    norm = (s**2).sum((1, 2))
    a = (s * d).sum((1, 2)) / norm
    b = (d[..., 0] * s[..., 1] - d[..., 1] * s[..., 0]).sum(1) / norm
    lin = np.stack([np.stack([a, b], -1), np.stack([-b, a], -1)], 1)  # (N, 2, 2)
    shift = dst.mean(0)[None] - np.einsum("nij,nj->ni", lin, src.mean(1))
    matrix = np.zeros((len(src), 3, 3))
    matrix[:, :2, :2], matrix[:, :2, 2], matrix[:, 2, 2] = lin, shift, 1.0
    return matrix


def _tanh_squash(u: torch.Tensor, inverse: bool = False) -> torch.Tensor:
    """Compress normalised coordinates beyond +-(1 - w) with tanh (or undo it); linear inside."""
    w, inner = WARP_FACTOR, 1.0 - WARP_FACTOR
    outer = u.abs() - inner
    if inverse:
        bent = torch.atanh((outer / w).clamp(-1 + 1e-3, 1 - 1e-3)) * w + inner
    else:
        bent = torch.tanh(outer / w) * w + inner
    return torch.where(outer > 0, bent * u.sign(), u)


@functools.lru_cache(maxsize=8)
def _pixel_centres(h: int, w: int) -> torch.Tensor:
    """(h*w, 3) homogeneous (x, y, 1) of pixel centres, pixel i spanning [i, i + 1)."""
    ys, xs = torch.meshgrid(torch.arange(h) + 0.5, torch.arange(w) + 0.5, indexing="ij")
    return torch.stack([xs.ravel(), ys.ravel(), torch.ones(h * w)], -1)


@functools.lru_cache(maxsize=1)
def _unbent_warped_centres() -> torch.Tensor:
    """(S*S, 3) where each pixel of the warped S x S input lies before the tanh warp: the same
    for every face, so it is computed once."""
    size = WARPED_SIZE
    pts = _pixel_centres(size, size)[:, :2] / size * 2 - 1  # (S*S, 2) in [-1, 1]
    aligned = (_tanh_squash(pts, inverse=True) + 1) / 2 * size
    return torch.cat([aligned, torch.ones(len(aligned), 1)], -1)


def warp_grid(matrix: np.ndarray, crop_hw: tuple[int, int]) -> torch.Tensor:
    """Sampling grid (N, S, S, 2) reading the warped S x S input from the crop."""
    h, w = crop_hw
    inv = torch.linalg.inv(torch.from_numpy(matrix)).float()  # (N, 3, 3)
    src = _unbent_warped_centres() @ inv.transpose(1, 2)  # (N, S*S, 3)
    grid = src[..., :2] / torch.tensor([w, h]) * 2 - 1
    return grid.reshape(-1, WARPED_SIZE, WARPED_SIZE, 2)


def unwarp_grid(matrix: np.ndarray, crop_hw: tuple[int, int]) -> torch.Tensor:
    """Sampling grid (N, H, W, 2) reading the crop-sized result back from the warped output."""
    h, w = crop_hw
    forward = torch.from_numpy(matrix).float().transpose(1, 2)
    aligned = _pixel_centres(h, w) @ forward  # (N, H*W, 3)
    pts = aligned[..., :2] / WARPED_SIZE * 2 - 1
    return _tanh_squash(pts).reshape(-1, h, w, 2)


def preprocess(frames: np.ndarray, landmarks: np.ndarray) -> tuple[torch.Tensor, torch.Tensor]:
    """Warped network input (N, 3, 448, 448) float RGB in [0, 1] and the way back (N, H, W, 2).

    ``frames`` (N, H, W, 3) uint8 RGB crops, ``landmarks`` (N, 68, 2) in their pixels.
    """
    matrix = similarity(five_points(landmarks), template_points())
    crop_hw = frames.shape[1:3]
    images = torch.from_numpy(np.ascontiguousarray(frames)).permute(0, 3, 1, 2).float() / 255.0
    warped = F.grid_sample(images, warp_grid(matrix, crop_hw), "bilinear", align_corners=False)
    return warped, unwarp_grid(matrix, crop_hw)


def postprocess(logits: torch.Tensor, back: torch.Tensor) -> np.ndarray:
    """Labels (N, H, W) uint8 from warped logits (N, 11, 448, 448) and the way back."""
    if logits.shape[1] != len(PART_LABELS):
        raise ValueError(f"expected {len(PART_LABELS)} LaPa classes, got {logits.shape[1]}")
    crop_logits = F.grid_sample(
        logits.float(), back.to(logits.device), "bilinear", align_corners=False
    )
    return crop_logits.argmax(1).to(torch.uint8).cpu().numpy()


class FarlParser:
    """Runs the network on batches of aligned crops; frames without a face stay background."""

    def __init__(self, weights: str | Path | None = None, device: str = "cpu", batch: int = 8):
        self.weights = Path(weights) if weights is not None else default_weights_path()
        self.device, self.batch = device, batch
        self.net = load_farl(self.weights, device)

    @torch.inference_mode()
    def __call__(
        self, frames: np.ndarray, landmarks: np.ndarray, present: np.ndarray
    ) -> np.ndarray:
        """Labels (N, H, W) uint8 for crops (N, H, W, 3) RGB with landmarks (N, 68, 2)."""
        labels = np.zeros(frames.shape[:3], np.uint8)
        rows = np.flatnonzero(np.asarray(present, bool) & np.isfinite(landmarks).all((1, 2)))
        for start in range(0, len(rows), self.batch):
            chunk = rows[start : start + self.batch]
            images, back = preprocess(frames[chunk], landmarks[chunk])
            labels[chunk] = postprocess(self._logits(images.to(self.device)), back)
        return labels

    def _logits(self, images: torch.Tensor) -> torch.Tensor:
        out = self.net(images)
        logits = out[0] if isinstance(out, (tuple, list)) else out
        if logits.ndim != 4 or logits.shape[1] != len(PART_LABELS):
            raise InputError(
                self.weights, f"expected logits (B, 11, H, W), got {tuple(logits.shape)}"
            )
        return logits
