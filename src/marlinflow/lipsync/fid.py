"""FID of generated faces against the real ones: torchmetrics' Fréchet distance on the features
of FID's Inception network.

The Fréchet distance itself is torchmetrics' ``FrechetInceptionDistance`` (maintained, and it
runs beside our torch without torchvision). Its own Inception comes from torch-fidelity, which
cannot be imported here: ``import torch_fidelity`` loads its CLIP, VGG and DINOv2 extractors,
which import torchvision, and torchvision does not import beside torch 2.13 (nor clean-fid or
pytorch-fid, which need torchvision too). So the network is ours, handed to torchmetrics as its
``feature`` module: FID's Inception v3 (the TensorFlow graph of 2015-12-05 that every FID
implementation reproduces: ``pytorch-fid``'s ``FIDInceptionA/C/E`` blocks, whose pooling differs
from torchvision's Inception v3), 2048 pooled features before the classifier. Its weights are
the user's ``pt_inception-2015-12-05-6726825d.pth`` (pytorch-fid's file: the same state dict
layout), loaded by :func:`load_inception`. Images are resized to 299² bilinearly and scaled to
[-1, 1], as pytorch-fid does (torch-fidelity's TensorFlow-exact resize differs in the last
digits).
"""

from __future__ import annotations

from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn

from marlinflow.errors import InputError
from marlinflow.weights.checkpoints import read_checkpoint

SIDE = 299
FEATURES = 2048


class Conv(nn.Module):
    """Convolution without bias, batch norm (eps 1e-3), ReLU: ``BasicConv2d``'s key layout."""

    def __init__(self, c_in: int, c_out: int, kernel, stride=1, padding=0):
        super().__init__()
        self.conv = nn.Conv2d(c_in, c_out, kernel, stride, padding, bias=False)
        self.bn = nn.BatchNorm2d(c_out, eps=0.001)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.relu(self.bn(self.conv(x)))


def _avg(x: torch.Tensor) -> torch.Tensor:
    return F.avg_pool2d(x, 3, 1, 1, count_include_pad=False)  # FID's blocks leave pads out


def _chain(x: torch.Tensor, *convs: nn.Module) -> torch.Tensor:
    for conv in convs:
        x = conv(x)
    return x


class BlockA(nn.Module):  # 35×35
    def __init__(self, c_in: int, pool: int):
        super().__init__()
        self.branch1x1 = Conv(c_in, 64, 1)
        self.branch5x5_1, self.branch5x5_2 = Conv(c_in, 48, 1), Conv(48, 64, 5, padding=2)
        self.branch3x3dbl_1 = Conv(c_in, 64, 1)
        self.branch3x3dbl_2 = Conv(64, 96, 3, padding=1)
        self.branch3x3dbl_3 = Conv(96, 96, 3, padding=1)
        self.branch_pool = Conv(c_in, pool, 1)

    def forward(self, x):
        return torch.cat(
            [
                self.branch1x1(x),
                _chain(x, self.branch5x5_1, self.branch5x5_2),
                _chain(x, self.branch3x3dbl_1, self.branch3x3dbl_2, self.branch3x3dbl_3),
                self.branch_pool(_avg(x)),
            ],
            1,
        )


class BlockB(nn.Module):  # 35 -> 17
    def __init__(self, c_in: int):
        super().__init__()
        self.branch3x3 = Conv(c_in, 384, 3, stride=2)
        self.branch3x3dbl_1 = Conv(c_in, 64, 1)
        self.branch3x3dbl_2 = Conv(64, 96, 3, padding=1)
        self.branch3x3dbl_3 = Conv(96, 96, 3, stride=2)

    def forward(self, x):
        dbl = _chain(x, self.branch3x3dbl_1, self.branch3x3dbl_2, self.branch3x3dbl_3)
        return torch.cat([self.branch3x3(x), dbl, F.max_pool2d(x, 3, 2)], 1)


class BlockC(nn.Module):  # 17×17, factorised 7×7
    def __init__(self, c_in: int, c7: int):
        super().__init__()
        row, col = ((1, 7), (0, 3)), ((7, 1), (3, 0))
        self.branch1x1 = Conv(c_in, 192, 1)
        self.branch7x7_1 = Conv(c_in, c7, 1)
        self.branch7x7_2 = Conv(c7, c7, row[0], padding=row[1])
        self.branch7x7_3 = Conv(c7, 192, col[0], padding=col[1])
        self.branch7x7dbl_1 = Conv(c_in, c7, 1)
        self.branch7x7dbl_2 = Conv(c7, c7, col[0], padding=col[1])
        self.branch7x7dbl_3 = Conv(c7, c7, row[0], padding=row[1])
        self.branch7x7dbl_4 = Conv(c7, c7, col[0], padding=col[1])
        self.branch7x7dbl_5 = Conv(c7, 192, row[0], padding=row[1])
        self.branch_pool = Conv(c_in, 192, 1)

    def forward(self, x):
        dbl = [getattr(self, f"branch7x7dbl_{i}") for i in range(1, 6)]
        return torch.cat(
            [
                self.branch1x1(x),
                _chain(x, self.branch7x7_1, self.branch7x7_2, self.branch7x7_3),
                _chain(x, *dbl),
                self.branch_pool(_avg(x)),
            ],
            1,
        )


class BlockD(nn.Module):  # 17 -> 8
    def __init__(self, c_in: int):
        super().__init__()
        self.branch3x3_1, self.branch3x3_2 = Conv(c_in, 192, 1), Conv(192, 320, 3, stride=2)
        self.branch7x7x3_1 = Conv(c_in, 192, 1)
        self.branch7x7x3_2 = Conv(192, 192, (1, 7), padding=(0, 3))
        self.branch7x7x3_3 = Conv(192, 192, (7, 1), padding=(3, 0))
        self.branch7x7x3_4 = Conv(192, 192, 3, stride=2)

    def forward(self, x):
        seven = [getattr(self, f"branch7x7x3_{i}") for i in range(1, 5)]
        three = _chain(x, self.branch3x3_1, self.branch3x3_2)
        return torch.cat([three, _chain(x, *seven), F.max_pool2d(x, 3, 2)], 1)


class BlockE(nn.Module):  # 8×8, expanded; the last one max-pools its pool branch (FID's graph)
    def __init__(self, c_in: int, max_pool: bool):
        super().__init__()
        self.max_pool = max_pool
        self.branch1x1 = Conv(c_in, 320, 1)
        self.branch3x3_1 = Conv(c_in, 384, 1)
        self.branch3x3_2a = Conv(384, 384, (1, 3), padding=(0, 1))
        self.branch3x3_2b = Conv(384, 384, (3, 1), padding=(1, 0))
        self.branch3x3dbl_1 = Conv(c_in, 448, 1)
        self.branch3x3dbl_2 = Conv(448, 384, 3, padding=1)
        self.branch3x3dbl_3a = Conv(384, 384, (1, 3), padding=(0, 1))
        self.branch3x3dbl_3b = Conv(384, 384, (3, 1), padding=(1, 0))
        self.branch_pool = Conv(c_in, 192, 1)

    def forward(self, x):
        a = self.branch3x3_1(x)
        b = _chain(x, self.branch3x3dbl_1, self.branch3x3dbl_2)
        pooled = F.max_pool2d(x, 3, 1, 1) if self.max_pool else _avg(x)
        return torch.cat(
            [
                self.branch1x1(x),
                self.branch3x3_2a(a),
                self.branch3x3_2b(a),
                self.branch3x3dbl_3a(b),
                self.branch3x3dbl_3b(b),
                self.branch_pool(pooled),
            ],
            1,
        )


class FIDInception(nn.Module):
    """(N, 3, H, W) RGB in [0, 1] -> (N, 2048) pooled features of FID's Inception v3."""

    num_features = FEATURES  # read by torchmetrics instead of a trial forward pass

    def __init__(self):
        super().__init__()
        self.Conv2d_1a_3x3 = Conv(3, 32, 3, stride=2)
        self.Conv2d_2a_3x3 = Conv(32, 32, 3)
        self.Conv2d_2b_3x3 = Conv(32, 64, 3, padding=1)
        self.Conv2d_3b_1x1 = Conv(64, 80, 1)
        self.Conv2d_4a_3x3 = Conv(80, 192, 3)
        self.Mixed_5b, self.Mixed_5c, self.Mixed_5d = (
            BlockA(192, 32),
            BlockA(256, 64),
            BlockA(288, 64),
        )
        self.Mixed_6a = BlockB(288)
        self.Mixed_6b, self.Mixed_6c = BlockC(768, 128), BlockC(768, 160)
        self.Mixed_6d, self.Mixed_6e = BlockC(768, 160), BlockC(768, 192)
        self.Mixed_7a = BlockD(768)
        self.Mixed_7b, self.Mixed_7c = BlockE(1280, max_pool=False), BlockE(2048, max_pool=True)
        self.fc = nn.Linear(FEATURES, 1008)  # the classifier: in the weights file, unused here

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        x = F.interpolate(images.float(), size=(SIDE, SIDE), mode="bilinear", align_corners=False)
        x = 2 * x - 1
        x = _chain(x, self.Conv2d_1a_3x3, self.Conv2d_2a_3x3, self.Conv2d_2b_3x3)
        x = _chain(F.max_pool2d(x, 3, 2), self.Conv2d_3b_1x1, self.Conv2d_4a_3x3)
        x = F.max_pool2d(x, 3, 2)
        blocks = ("5b", "5c", "5d", "6a", "6b", "6c", "6d", "6e", "7a", "7b", "7c")
        x = _chain(x, *(getattr(self, f"Mixed_{b}") for b in blocks))
        return x.mean(dim=(2, 3))  # (N, 2048)


def load_inception(path: str | Path) -> FIDInception:
    """FID's Inception with the weights of ``path`` (pytorch-fid's
    ``pt_inception-2015-12-05-6726825d.pth``), in evaluation mode."""
    path = Path(path)
    if not path.is_file():
        raise InputError(path, "no such Inception weights file (pt_inception-2015-12-05)")
    net = FIDInception()
    try:
        net.load_state_dict(read_checkpoint(path), strict=True)
    except RuntimeError as err:
        reason = f"not FID's Inception weights ({str(err).splitlines()[1:2]})"
        raise InputError(path, reason) from err
    return net.eval()


def frechet_metric(inception: nn.Module):
    """torchmetrics' FID over ``inception``'s features: ``update(images, real=...)`` with
    (N, 3, H, W) floats in [0, 1], then ``compute()``."""
    from torchmetrics.image.fid import FrechetInceptionDistance

    inception.eval()
    return FrechetInceptionDistance(feature=inception, normalize=True)
