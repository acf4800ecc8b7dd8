"""Weights in the official layout: strict loading, export, Lightning files."""

from __future__ import annotations

import collections
import dataclasses

import pytest
import torch

from marlinflow import Marlin, cli
from marlinflow.errors import InputError
from marlinflow.models import MarlinModel, PatchCritic, get_size, resolve_size
from marlinflow.weights import checkpoints
from marlinflow.weights.checkpoints import export_official, load_model


def test_official_encoder_file_loads_strictly(tmp_path):
    original = MarlinModel(get_size("small"))
    path = export_official(original, tmp_path / "marlin_vit_small_ytf.encoder.pt", full=False)
    state = torch.load(path, weights_only=True)
    assert len(state) == 161 and all(key.startswith("encoder.") for key in state)
    loaded = Marlin.from_file(path)
    assert loaded.size == get_size("small") and not loaded.has_decoder
    for key, value in loaded.state_dict().items():
        assert torch.equal(value, state[key]), key


def test_exported_weights_give_identical_features(tmp_path):
    original = MarlinModel(get_size("mini"), with_decoder=False).eval()
    loaded = Marlin.from_file(export_official(original, tmp_path / "mini.encoder.pt")).eval()
    clip = torch.rand(2, *get_size("mini").clip_shape)
    with torch.no_grad():
        expected = original.encoder.extract_features(clip, keep_seq=True)
        assert torch.equal(loaded.extract_features(clip, keep_seq=True), expected)


def test_full_file_round_trip_and_encoder_only_view(tmp_path):
    original = MarlinModel(get_size("tiny"))
    path = export_official(original, tmp_path / "tiny.full.pt")
    assert len(torch.load(path, weights_only=True)) == 77
    full = Marlin.from_file(path)
    assert full.has_decoder
    for key, value in original.state_dict().items():
        assert torch.equal(full.state_dict()[key], value), key
    assert not Marlin.from_file(path, full=False).has_decoder
    encoder_path = full.save(tmp_path / "tiny.encoder.pt", full=False)
    with pytest.raises(InputError, match="encoder weights only"):
        Marlin.from_file(encoder_path, full=True)


def lightning_checkpoint(model: MarlinModel, critic: PatchCritic, hparams: dict) -> dict:
    state = {f"model.{key}": value for key, value in model.state_dict().items()}
    state.update({f"critic.{key}": value for key, value in critic.state_dict().items()})
    return {"epoch": 3, "global_step": 12, "state_dict": state, "hyper_parameters": hparams}


def test_our_lightning_checkpoint_drops_the_critic(tmp_path):
    size = resolve_size({"name": "tiny", "n_frames": 16})
    model = MarlinModel(size)
    ckpt = lightning_checkpoint(
        model, PatchCritic(size), {"size": {"name": "tiny", "n_frames": 16}}
    )
    torch.save(ckpt, tmp_path / "last.ckpt")
    loaded = load_model(tmp_path / "last.ckpt")
    assert loaded.size == size
    assert torch.equal(loaded.decoder.head.weight, model.decoder.head.weight)
    # Without the recorded size, 512 tokens fit 16 frames of 64 px as well as 4 frames of
    # 128 px: the file is refused rather than guessed, and loads once the size is given.
    ckpt["hyper_parameters"] = {}
    torch.save(ckpt, tmp_path / "bare.ckpt")
    with pytest.raises(InputError, match="n_frames=4, img_size=128; n_frames=16, img_size=64"):
        load_model(tmp_path / "bare.ckpt", full=False)
    assert load_model(tmp_path / "bare.ckpt", size=size, full=False).size == size


def test_checkpoint_written_by_lightning(tmp_path, capsys):
    import pytorch_lightning as pl

    from marlinflow.pretrain.config import PretrainConfig
    from marlinflow.pretrain.module import MarlinPretrain

    module = MarlinPretrain(PretrainConfig(model={"name": "tiny", "n_frames": 16}))
    trainer = pl.Trainer(logger=False, enable_checkpointing=False, accelerator="cpu")
    trainer.strategy.connect(module)
    trainer.save_checkpoint(tmp_path / "last.ckpt")
    loaded = load_model(tmp_path / "last.ckpt")  # weights_only: no trusted=True needed
    assert loaded.size == module.size and loaded.has_decoder
    for key, value in module.model.state_dict().items():
        assert torch.equal(loaded.state_dict()[key], value), key

    ours, official = tmp_path / "last.ckpt", tmp_path / "encoder.pt"
    assert cli.main(["export-weights", str(ours), str(official)]) == 0
    assert len(torch.load(official, weights_only=True)) == 57
    missing = tmp_path / "missing.ckpt"
    assert cli.main(["export-weights", str(missing), str(tmp_path / "x.pt")]) == 2
    assert not (tmp_path / "x.pt").exists()
    error = capsys.readouterr().err
    assert error == f"marlinflow export-weights: error: {missing}: no such checkpoint file\n"


def test_official_lightning_layout_with_discriminator(tmp_path):
    model = MarlinModel(get_size("tiny"))
    state = collections.OrderedDict(model.state_dict())
    state["discriminator.layers.0.weight"] = torch.zeros(3, 3)
    torch.save({"state_dict": state}, tmp_path / "official.ckpt")
    assert load_model(tmp_path / "official.ckpt").has_decoder
    # the Hugging Face port keeps the same weights under a "marlin." prefix
    torch.save({f"marlin.{key}": value for key, value in state.items()}, tmp_path / "hf.bin")
    assert load_model(tmp_path / "hf.bin").size == get_size("tiny")


def write_bytes(path, data: bytes):
    path.write_bytes(data)
    return path


class NotATensor:
    pass


def test_bad_files_raise_input_error_naming_the_file(tmp_path):
    tiny = MarlinModel(get_size("tiny"), with_decoder=False).state_dict()
    torch.save([1, 2, 3], tmp_path / "list.pt")
    torch.save({"weight": torch.zeros(2)}, tmp_path / "foreign.pt")
    torch.save({"state_dict": [1, 2]}, tmp_path / "odd.ckpt")
    torch.save({"obj": NotATensor()}, tmp_path / "pickled.pt")
    torch.save(tiny, tmp_path / "tiny.pt")
    cases = {
        tmp_path / "missing.pt": "no such checkpoint file",
        write_bytes(tmp_path / "empty.pt", b""): "not a readable PyTorch checkpoint",
        write_bytes(tmp_path / "junk.pt", b"\x00garbage" * 50): "not a readable PyTorch",
        tmp_path / "list.pt": "not a state dict",
        tmp_path / "foreign.pt": "no MARLIN encoder weights",
        tmp_path / "odd.ckpt": "holds no state dict",
        tmp_path / "pickled.pt": "trusted=True",
    }
    for path, reason in cases.items():
        with pytest.raises(InputError, match=reason) as caught:
            load_model(path)
        assert caught.value.path == str(path)
    with pytest.raises(InputError, match="do not fit model size 'small'") as caught:
        load_model(tmp_path / "tiny.pt", size="small")
    assert "shape: encoder.patch_embedding.projection.weight (96, 3, 2, 8, 8)" in str(caught.value)
    assert "missing: encoder.blocks.4" in caught.value.reason


def test_truncated_official_file(tmp_path):
    path = export_official(MarlinModel(get_size("tiny")), tmp_path / "tiny.full.pt")
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])
    with pytest.raises(InputError, match="not a readable PyTorch checkpoint"):
        Marlin.from_file(path)


def test_unknown_architecture_asks_for_the_size(tmp_path):
    state = MarlinModel(resolve_size({"name": "tiny", "enc_dim": 120, "enc_heads": 4})).state_dict()
    torch.save(state, tmp_path / "wide.pt")
    with pytest.raises(InputError, match="match no registered model size"):
        load_model(tmp_path / "wide.pt")
    size = resolve_size({"name": "tiny", "enc_dim": 120, "enc_heads": 4})
    assert load_model(tmp_path / "wide.pt", size=size).size.enc_dim == 120


def test_registered_sizes_alike_are_refused(tmp_path, monkeypatch):
    torch.save(MarlinModel(get_size("tiny")).state_dict(), tmp_path / "tiny.pt")
    twin = dataclasses.replace(get_size("tiny"), name="tiny_twin", enc_heads=6)  # same shapes
    monkeypatch.setitem(checkpoints.SIZES, "tiny_twin", twin)
    with pytest.raises(InputError, match="several registered sizes alike \\(tiny, tiny_twin\\)"):
        load_model(tmp_path / "tiny.pt")
    assert load_model(tmp_path / "tiny.pt", size="tiny").size == get_size("tiny")


def test_recorded_geometry_wins_and_contradictions_are_refused(tmp_path):
    size = resolve_size({"name": "tiny", "img_size": 128})
    path = checkpoints.save_encoder(MarlinModel(size, with_decoder=False), tmp_path / "e.pt")
    assert load_model(path).size == size
    assert load_model(path, size={"name": "tiny", "img_size": 128}).size == size
    with pytest.raises(
        InputError, match="saved with geometry .*img_size: 128.*passed is"
    ) as caught:
        load_model(path, size="tiny")
    assert "img_size: 64" in caught.value.reason and caught.value.path == str(path)
