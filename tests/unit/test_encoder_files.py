"""Self-describing encoder files: geometry recorded, never guessed; provenance; import-encoder."""

from __future__ import annotations

import dataclasses
import hashlib
import re

import numpy as np
import pytest
import torch

from marlinflow import Marlin, __version__, cli
from marlinflow.downstream.encoders import write_random_weights
from marlinflow.errors import InputError
from marlinflow.models import MarlinModel, get_size, resolve_size
from marlinflow.weights.checkpoints import (
    ENCODER_FORMAT,
    export_official,
    load_model,
    read_encoder_info,
    save_encoder,
)

# Sizes whose token count is not tiny's own 256: the shapes alone cannot tell their geometry.
NON_DEFAULT = [
    {"name": "tiny", "img_size": 128},  # 1024 tokens, also 32 frames of 64 px
    {"name": "tiny", "n_frames": 16, "img_size": 32},  # 128 tokens, also 4 frames of 64 px
]
CANDIDATES = {
    128: ["n_frames=8, img_size=128", "n_frames=32, img_size=64"],
    32: ["n_frames=16, img_size=32", "n_frames=4, img_size=64"],
}


def same_weights(first: torch.nn.Module, second: torch.nn.Module) -> bool:
    a, b = first.state_dict(), second.state_dict()
    return a.keys() == b.keys() and all(torch.equal(a[key], b[key]) for key in a)


@pytest.mark.parametrize("spec", NON_DEFAULT)
def test_non_default_geometry_round_trips_exactly(spec, tmp_path):
    size = resolve_size(spec)
    original = MarlinModel(size, with_decoder=False)
    path = save_encoder(original, tmp_path / "encoder.pt", {"kind": "test"})
    loaded = load_model(path)
    for field in dataclasses.fields(size):
        assert getattr(loaded.size, field.name) == getattr(size, field.name), field.name
    assert same_weights(loaded, original)


@pytest.mark.parametrize("spec", NON_DEFAULT)
def test_bare_state_dict_of_ambiguous_geometry_is_refused(spec, tmp_path):
    size = resolve_size(spec)
    original = MarlinModel(size, with_decoder=False)
    path = export_official(original, tmp_path / "bare.encoder.pt")
    with pytest.raises(InputError) as caught:
        load_model(path)
    assert caught.value.path == str(path)
    for candidate in CANDIDATES[size.img_size]:
        assert candidate in caught.value.reason
    assert "pass the size" in caught.value.reason and "model:" in caught.value.reason
    loaded = load_model(path, size=spec)
    assert loaded.size == size and same_weights(loaded, original)


def test_official_small_file_loads_without_a_size(tmp_path):
    path = export_official(MarlinModel(get_size("small"), with_decoder=False), tmp_path / "s.pt")
    assert load_model(path).size == get_size("small") and get_size("small").n_tokens == 1568
    assert read_encoder_info(path) is None  # a foreign file


def test_file_holds_only_plain_values(tmp_path):
    size = resolve_size({"name": "tiny", "img_size": 128})
    provenance = {"kind": "test", "betas": (0.9, 0.95), "n": np.int64(3), "x": np.float32(0.5)}
    path = save_encoder(MarlinModel(size), tmp_path / "e.pt", provenance)
    data = torch.load(path, weights_only=True)
    assert data["format"] == ENCODER_FORMAT == "marlinflow-encoder/1"
    assert all(key.startswith("encoder.") for key in data["state_dict"])
    assert data["geometry"] == dataclasses.asdict(size)
    stamp = data["provenance"]
    assert stamp["betas"] == [0.9, 0.95] and stamp["n"] == 3 and stamp["x"] == 0.5
    assert stamp["marlinflow_version"] == __version__
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\+00:00", stamp["created"])
    commit = stamp["code_commit"]
    assert commit is None or re.fullmatch(r"[0-9a-f]{40}", commit)
    assert read_encoder_info(path) == {"geometry": data["geometry"], "provenance": stamp}
    with pytest.raises(TypeError, match="JSON values"):
        save_encoder(MarlinModel(size), tmp_path / "odd.pt", {"model": MarlinModel})
    assert not (tmp_path / "odd.pt").exists()


def test_full_file_and_marlin_save(tmp_path):
    original = Marlin(resolve_size({"name": "tiny", "n_frames": 16, "img_size": 32}))
    path = original.save(tmp_path / "full.pt")
    assert read_encoder_info(path)["provenance"]["kind"] == "saved"
    full = Marlin.from_file(path)
    assert full.has_decoder and full.size == original.size and same_weights(full, original)
    encoder = Marlin.from_file(original.save(tmp_path / "enc.pt", full=False))
    assert not encoder.has_decoder and encoder.size == original.size


def test_other_format_versions_and_broken_geometry_are_refused(tmp_path):
    path = save_encoder(MarlinModel(get_size("tiny"), with_decoder=False), tmp_path / "e.pt")
    data = torch.load(path, weights_only=True)
    torch.save({**data, "format": "marlinflow-encoder/9"}, tmp_path / "newer.pt")
    with pytest.raises(InputError, match="marlinflow-encoder/9"):
        load_model(tmp_path / "newer.pt")
    geometry = {key: value for key, value in data["geometry"].items() if key != "img_size"}
    torch.save({**data, "geometry": geometry}, tmp_path / "partial.pt")
    with pytest.raises(InputError, match="geometry must have the fields"):
        read_encoder_info(tmp_path / "partial.pt")


def sha256(path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_import_encoder_verb(tmp_path, capsys):
    original = MarlinModel(get_size("tiny"))
    source = export_official(original, tmp_path / "tiny.full.pt")  # a bare official-layout file
    out = tmp_path / "imported.pt"
    assert cli.main(["import-encoder", str(source), "--out", str(out), "--model", "tiny"]) == 0
    info = read_encoder_info(out)
    assert info["provenance"]["kind"] == "external"
    assert info["provenance"]["source"] == str(source.resolve())
    assert info["provenance"]["source_sha256"] == sha256(source)
    assert info["geometry"] == dataclasses.asdict(get_size("tiny"))
    imported = load_model(out)
    assert not imported.has_decoder  # the encoder only
    assert same_weights(imported.encoder, original.encoder)
    # tiny's default geometry is unambiguous (256 tokens are tiny's own): no --model needed
    again = tmp_path / "again.pt"
    assert cli.main(["import-encoder", str(source), "--out", str(again)]) == 0
    assert read_encoder_info(again)["geometry"] == info["geometry"]
    # one of ours keeps its own provenance under source_provenance
    assert cli.main(["import-encoder", str(out), "--out", str(tmp_path / "third.pt")]) == 0
    third = read_encoder_info(tmp_path / "third.pt")["provenance"]
    assert third["source_provenance"] == info["provenance"]
    assert "wrote" in capsys.readouterr().out


def test_import_encoder_with_a_mapping_size_and_errors(tmp_path, capsys):
    size = resolve_size({"name": "tiny", "img_size": 128})
    source = export_official(MarlinModel(size, with_decoder=False), tmp_path / "bare.pt")
    out = tmp_path / "out.pt"
    assert cli.main(["import-encoder", str(source), "--out", str(out)]) == 2
    error = capsys.readouterr().err
    assert error.startswith(f"marlinflow import-encoder: error: {source}:")
    assert "n_frames=8, img_size=128" in error
    assert not out.exists()
    spec = "{name: tiny, img_size: 128}"
    assert cli.main(["import-encoder", str(source), "--out", str(out), "--model", spec]) == 0
    assert load_model(out).size == size
    assert cli.main(["import-encoder", str(source), "--out", str(out), "--model", "huge"]) == 2
    error = capsys.readouterr().err
    assert error.startswith("marlinflow import-encoder: error: --model: not a model size")
    assert "(unknown model size 'huge'" in error
    missing = tmp_path / "missing.pt"
    assert cli.main(["import-encoder", str(missing), "--out", str(out)]) == 2
    error = capsys.readouterr().err
    assert error == f"marlinflow import-encoder: error: {missing}: no such checkpoint file\n"


@pytest.mark.parametrize("size", ["tiny", {"name": "tiny", "img_size": 128}])
def test_random_weights_record_their_seed(size, tmp_path):
    path = write_random_weights(size, tmp_path / "random.pt", seed=5)
    info = read_encoder_info(path)
    assert info["provenance"]["kind"] == "random" and info["provenance"]["seed"] == 5
    assert info["geometry"] == dataclasses.asdict(resolve_size(size))
    torch.manual_seed(5)
    expected = MarlinModel(resolve_size(size), with_decoder=False)
    assert same_weights(load_model(path), expected)


def test_export_weights_writes_the_official_layout_of_our_file(tmp_path):
    original = MarlinModel(resolve_size({"name": "tiny", "img_size": 128}), with_decoder=False)
    ours = save_encoder(original, tmp_path / "ours.pt")
    official = tmp_path / "official.encoder.pt"
    assert cli.main(["export-weights", str(ours), str(official)]) == 0  # geometry from the file
    state = torch.load(official, weights_only=True)
    assert state.keys() == original.state_dict().keys()  # a plain state dict, as released
