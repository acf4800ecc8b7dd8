"""Encoders under evaluation and their baselines: weights files, random init, VideoMAE init."""

from __future__ import annotations

import pytest
import torch

from marlinflow.downstream.encoders import load_encoder, write_random_weights
from marlinflow.errors import InputError
from marlinflow.models import MarlinModel, get_size


def same_weights(first: torch.nn.Module, second: torch.nn.Module) -> bool:
    pairs = zip(first.state_dict().values(), second.state_dict().values(), strict=True)
    return all(torch.equal(a, b) for a, b in pairs)


def test_random_weights_file_matches_the_random_baseline(tmp_path):
    path = write_random_weights("tiny", tmp_path / "random.pt", seed=7)
    from_file, name = load_encoder(str(path))
    assert name == "random"
    assert same_weights(from_file, load_encoder("random:tiny", seed=7)[0])
    assert not same_weights(from_file, load_encoder("random:tiny", seed=8)[0])


def test_videomae_checkpoint_hook(tmp_path):
    torch.manual_seed(1)
    source = MarlinModel(get_size("tiny"), with_decoder=False)
    state = {
        key.replace("mlp.layers.0.linear.", "mlp.fc1.")
        .replace("mlp.layers.1.linear.", "mlp.fc2.")
        .replace("patch_embedding.projection.", "patch_embed.proj."): value
        for key, value in source.state_dict().items()
        if "pos_embedding" not in key  # VideoMAE stores no position table
    }
    torch.save({"model": state}, tmp_path / "videomae.pth")
    encoder, name = load_encoder(f"videomae:tiny:{tmp_path / 'videomae.pth'}")
    assert name == "videomae-tiny"
    assert same_weights(encoder, source.encoder)


def test_unreadable_weights_name_the_file(tmp_path):
    (tmp_path / "broken.pt").write_bytes(b"not a checkpoint")
    with pytest.raises(InputError, match="broken.pt"):
        load_encoder(str(tmp_path / "broken.pt"))
