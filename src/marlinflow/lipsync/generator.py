"""A Wav2Lip-style talking-face generator (Prajwal et al. 2020, §3.3), and its losses.

Each frame is generated from three inputs: the frame itself with its lower half blanked (the
pose, and where the mouth must go), a reference frame of the same video from another time
(the identity and the mouth's appearance: stacked with the first, 6 channels), and the mel
window around the frame (what the mouth must say). An identity encoder reduces the 6-channel
image to a 1×1 code through a pyramid of strided convolutions; an audio encoder reduces the mel
window to a code of the same width; a face decoder grows the two codes back to a face, taking
the identity encoder's maps of each scale as skip connections (a U-Net whose bottleneck is
shared with the sound). The output is the whole face in [0, 1]; only its lower half is new.

The generator works on windows of the expert's length (``T`` frames), so that the frozen expert
can score what it generates: the loss is the L1 reconstruction plus ``sync_weight`` times the
expert's BCE on the generated window against "in sync" (Wav2Lip: 0.03), and optionally a visual
quality discriminator on the lower halves (Wav2Lip's second model; ``disc_weight`` 0.07).
Wav2Lip's face is 96×96 with widths 16 to 512; ``face_size`` and ``width`` scale the pyramid
(a face of 32 px and width 4 trains on a CPU in seconds).
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

from marlinflow.lipsync.expert import AudioEncoder, SyncExpert, conv_block, sync_loss

MAX_WIDTH_FACTOR = 32  # channels stop doubling at 32 × width (Wav2Lip: 16 -> 512)


def pyramid(face_size: int) -> list[int]:
    """Sides of the identity encoder's maps, finest first: halved until at most 4 px (96: 96,
    48, 24, 12, 6, 3); a last convolution as large as the smallest map makes the 1×1 code."""
    sides = [face_size]
    while sides[-1] > 4:
        sides.append(math.ceil(sides[-1] / 2))
    return sides


class Residual(nn.Module):
    def __init__(self, channels: int):
        super().__init__()
        self.conv = conv_block(channels, channels, (1, 1))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.conv(x)


def stage(c_in: int, c_out: int, stride: int) -> nn.Sequential:
    return nn.Sequential(conv_block(c_in, c_out, (stride, stride)), Residual(c_out))


class Generator(nn.Module):
    """(B, T, 3, S, S) faces, (B, T, 3, S, S) references, (B, T, n_mels, m) mel windows ->
    (B, T, 3, S, S) generated faces in [0, 1]."""

    def __init__(
        self,
        face_size: int = 96,
        width: int = 16,
        n_mels: int = 80,
        window: int = 16,
        audio_frames: int = 5,
    ):
        super().__init__()
        self.face_size, self.width, self.n_mels = face_size, width, n_mels
        # what it was trained on, for generating with it: frames a window, frames of sound a frame
        self.window, self.audio_frames = window, audio_frames
        sides = pyramid(face_size)
        chans = [width * min(2**i, MAX_WIDTH_FACTOR) for i in range(len(sides))]
        code = chans[-1]
        strides = [1] + [2] * (len(sides) - 1)
        self.down = nn.ModuleList(
            stage(c_in, c_out, s)
            for c_in, c_out, s in zip([6, *chans[:-1]], chans, strides, strict=True)
        )
        self.squeeze = nn.Sequential(nn.Conv2d(code, code, sides[-1]), nn.ReLU(inplace=True))
        self.audio = AudioEncoder(code, width=max(8, width * 2))
        self.expand = nn.Sequential(
            nn.ConvTranspose2d(2 * code, code, sides[-1]), nn.BatchNorm2d(code), nn.ReLU(True)
        )
        ins = [code, *chans[:0:-1]]  # what each up stage receives besides its skip
        self.up = nn.ModuleList(
            stage(c_prev + c_skip, c_skip, 1)
            for c_prev, c_skip in zip(ins, chans[::-1], strict=True)
        )
        self.out = nn.Sequential(nn.Conv2d(chans[0], 3, 1), nn.Sigmoid())
        self.sides = sides

    def forward(self, faces, references, mels) -> torch.Tensor:
        b, t = faces.shape[:2]
        x = torch.cat([blank_lower_half(faces), references], dim=2).flatten(0, 1)  # (BT, 6, S, S)
        skips = []
        for block in self.down:
            x = block(x)
            skips.append(x)
        identity = self.squeeze(x)  # (BT, C, 1, 1)
        voice = self.audio(mels.flatten(0, 1))[..., None, None]  # (BT, C, 1, 1)
        x = self.expand(torch.cat([voice, identity], dim=1))  # (BT, C, s, s)
        for block, skip in zip(self.up, skips[::-1], strict=True):
            if x.shape[-1] != skip.shape[-1]:
                x = F.interpolate(x, size=skip.shape[-2:], mode="nearest")
            x = block(torch.cat([x, skip], dim=1))
        return self.out(x).unflatten(0, (b, t))  # (B, T, 3, S, S)


def blank_lower_half(faces: torch.Tensor) -> torch.Tensor:
    """The faces with the rows of their lower half set to 0 (what the generator must draw)."""
    side = faces.shape[-2]
    return torch.cat([faces[..., : side // 2, :], torch.zeros_like(faces[..., side // 2 :, :])], -2)


class QualityDiscriminator(nn.Module):
    """(N, 3, S/2, S) lower halves of faces -> (N,) logits of "real" (Wav2Lip's visual quality
    discriminator: strided convolutions with leaky ReLUs, pooled to one score)."""

    def __init__(self, face_size: int = 96, width: int = 16):
        super().__init__()
        layers, c_in = [], 3
        for i in range(len(pyramid(face_size // 2)) - 1):
            c_out = width * min(2**i, MAX_WIDTH_FACTOR)
            layers += [nn.Conv2d(c_in, c_out, 3, 2 if i else 1, 1), nn.LeakyReLU(0.2, True)]
            c_in = c_out
        self.convs = nn.Sequential(*layers)
        self.score = nn.Linear(c_in, 1)

    def forward(self, lower: torch.Tensor) -> torch.Tensor:
        return self.score(self.convs(lower).amax(dim=(2, 3))).squeeze(1)


def lower_halves(faces: torch.Tensor) -> torch.Tensor:
    """(B, T, 3, S, S) -> (B·T, 3, S/2, S)."""
    return faces[..., faces.shape[-2] // 2 :, :].flatten(0, 1)


def expert_view(faces: torch.Tensor, img_size: int) -> torch.Tensor:
    """(B, T, 3, S, S) generated faces -> (B, 3, T, I, I) the expert's clips (differentiable)."""
    b, t = faces.shape[:2]
    frames = faces.flatten(0, 1)
    if frames.shape[-1] != img_size:
        frames = F.interpolate(frames, size=(img_size, img_size), mode="bilinear")
    return frames.unflatten(0, (b, t)).transpose(1, 2)


def expert_sync_loss(expert: SyncExpert, faces: torch.Tensor, mel: torch.Tensor) -> torch.Tensor:
    """The frozen expert's BCE of generated windows (B, T, 3, S, S) with their mel (B, n_mels,
    M) against "in sync": low when the expert hears the faces' lips in the sound."""
    similarity = expert(expert_view(faces, expert.encoder.size.img_size), mel)
    return sync_loss(similarity, torch.ones_like(similarity))


def generator_loss(
    generated: torch.Tensor,
    target: torch.Tensor,
    sync: torch.Tensor,
    sync_weight: float,
    fooled: torch.Tensor | None = None,
    disc_weight: float = 0.0,
) -> torch.Tensor:
    """Wav2Lip's weighting: ``sync_weight`` × sync + ``disc_weight`` × the discriminator's BCE
    against "real" (when given) + the rest of the weight on the L1 reconstruction."""
    l1 = F.l1_loss(generated, target)
    if fooled is None:
        return sync_weight * sync + (1 - sync_weight) * l1
    return sync_weight * sync + disc_weight * fooled + (1 - sync_weight - disc_weight) * l1
