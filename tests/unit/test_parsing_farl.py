"""The FaRL backend's contract: weights errors, alignment onto the template, warp and way back.

The real weights cannot be fetched here, so the network is replaced by small TorchScript modules
with the same input/output contract; everything around the network is the real code.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch

from marlinflow.errors import InputError
from marlinflow.face.parsing import rasterize_parts
from marlinflow.face.parsing_farl import (
    WEIGHTS_NAME,
    FarlParser,
    five_points,
    load_farl,
    preprocess,
    similarity,
    template_points,
)
from marlinflow.face.store import PART_LABELS

from .test_parsing import astronaut_crop

# The released parser is a TorchScript file, so TorchScript it is, deprecated or not.
pytestmark = pytest.mark.filterwarnings("ignore:`torch.jit.*:DeprecationWarning")


class LabelEcho(torch.nn.Module):
    """Logits that make the arg-max the label written as red = 25 * label in an RGB input."""

    def forward(self, images: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        levels = torch.arange(11, dtype=images.dtype).view(1, 11, 1, 1)
        red = images[:, 0:1] * 255.0 / 25.0  # (B, 1, H, W)
        return -(red - levels).abs(), images.mean()


def script(module: torch.nn.Module, path) -> str:
    torch.jit.script(module).save(str(path))
    return str(path)


@pytest.fixture(scope="module")
def face():
    return astronaut_crop()


def test_missing_weights_say_which_file_and_where_to_get_it(tmp_path):
    missing = tmp_path / "nowhere" / WEIGHTS_NAME
    with pytest.raises(InputError) as err:
        load_farl(missing)
    assert err.value.path == str(missing)
    assert WEIGHTS_NAME in err.value.reason and "releases/download" in err.value.reason


def test_unreadable_weights_are_an_input_error(tmp_path):
    bad = tmp_path / WEIGHTS_NAME
    bad.write_bytes(b"not a torchscript archive")
    with pytest.raises(InputError, match="not a loadable TorchScript"):
        FarlParser(bad)


def test_five_points_put_the_image_left_eye_first(face):
    points = five_points(face[1][None])[0]
    assert points[0, 0] < points[1, 0] and points[3, 0] < points[4, 0]
    assert points[2, 1] < points[3, 1]  # nose tip above the mouth corners


def test_similarity_recovers_a_known_rotation_scale_and_shift():
    template = template_points()
    angle, scale, shift = 0.3, 0.4, np.array([20.0, -7.0])
    rot = scale * np.array([[np.cos(angle), -np.sin(angle)], [np.sin(angle), np.cos(angle)]])
    src = template @ rot.T + shift  # (5, 2)
    matrix = similarity(src[None], template)[0]
    mapped = src @ matrix[:2, :2].T + matrix[:2, 2]
    assert np.allclose(mapped, template, atol=1e-9)


def squash(x: np.ndarray, size: int = 448, warp: float = 0.8) -> np.ndarray:
    """Where a template pixel lands after the tanh warp (normalise, bend the outer part, back)."""
    u = x / size * 2 - 1
    outer = np.abs(u) - (1 - warp)
    bent = np.sign(u) * (np.tanh(outer / warp) * warp + 1 - warp)
    return (np.where(outer > 0, bent, u) + 1) / 2 * size


def test_the_five_points_land_on_the_template_of_the_warped_input(face):
    crop, landmarks = face
    points = five_points(landmarks[None])[0]
    ys, xs = np.mgrid[:224, :224]
    dots = np.zeros((5, *crop.shape), np.uint8)  # one Gaussian dot per frame, at a point
    for k, (x, y) in enumerate(points):
        dots[k] = (255 * np.exp(-((xs - x) ** 2 + (ys - y) ** 2) / 8.0))[..., None].round()
    warped, _ = preprocess(dots, np.repeat(landmarks[None], 5, 0))
    assert warped.shape == (5, 3, 448, 448) and warped.dtype == torch.float32
    assert warped.min() >= 0.0 and warped.max() <= 1.0
    matrix = similarity(points[None], template_points())[0]
    # where the warp must put them: like facer, the grids treat pixel i as spanning [i, i + 1)
    fitted = squash((points + 0.5) @ matrix[:2, :2].T + matrix[:2, 2]) - 0.5
    template = squash(template_points())
    ys, xs = np.mgrid[:448, :448]
    for k in range(5):
        weight = warped[k, 0].numpy()
        found = np.array([(xs * weight).sum(), (ys * weight).sum()]) / weight.sum()
        assert np.hypot(*(found - fitted[k])) < 0.3, (k, found, fitted[k])
        if k < 2:  # a least-squares fit of a smiling face: eyes near the template, not on it
            assert np.hypot(*(found - template[k])) < 12.0, (k, found, template[k])


def test_labels_survive_the_warp_the_network_and_the_way_back(face, tmp_path):
    crop, landmarks = face
    labels = rasterize_parts(landmarks[None], 224)[0]
    frames = np.zeros((2, 224, 224, 3), np.uint8)
    frames[..., 0] = labels * 25  # red carries the label; green and blue stay 0 (BGR would fail)
    parser = FarlParser(script(LabelEcho(), tmp_path / "echo.pt"))
    out = parser(frames, np.stack([landmarks, landmarks]), np.array([True, False]))
    assert out.shape == (2, 224, 224) and out.dtype == np.uint8
    assert not out[1].any()  # no face: background, the network is not run
    assert (out[0] == labels).mean() > 0.95
    for part in ("right_eye", "left_eye", "nose", "upper_lip"):
        assert ((out[0] == PART_LABELS[part]) & (labels == PART_LABELS[part])).sum() > 0.7 * (
            labels == PART_LABELS[part]
        ).sum(), part


class WrongClasses(torch.nn.Module):
    def forward(self, images: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        return images.repeat(1, 6, 1, 1)[:, :19], images.mean()


def test_a_network_with_other_classes_is_refused_naming_the_weights(face, tmp_path):
    weights = script(WrongClasses(), tmp_path / "celebm.pt")
    parser = FarlParser(weights)
    crop, landmarks = face
    with pytest.raises(InputError, match=r"expected logits \(B, 11, H, W\)") as err:
        parser(crop[None], landmarks[None], np.array([True]))
    assert err.value.path == weights


@pytest.mark.gpu
def test_the_network_on_cuda_gives_the_labels_it_gives_on_cpu(face, tmp_path):
    crop, landmarks = face
    weights = script(LabelEcho(), tmp_path / "echo.pt")
    frames = np.zeros((1, 224, 224, 3), np.uint8)
    frames[..., 0] = rasterize_parts(landmarks[None], 224)[0] * 25
    on_cpu = FarlParser(weights)(frames, landmarks[None], np.array([True]))
    on_gpu = FarlParser(weights, device="cuda")(frames, landmarks[None], np.array([True]))
    assert (on_cpu == on_gpu).mean() > 0.999
