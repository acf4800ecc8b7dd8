"""VideoMAE pretraining checkpoints, in the original release's layout and in Hugging Face's,
as the weights pretraining starts from."""

from __future__ import annotations

import hashlib
import re

import pytest
import torch

from marlinflow.errors import InputError
from marlinflow.models import MarlinModel, get_size, resolve_size
from marlinflow.pretrain.config import PretrainConfig
from marlinflow.pretrain.module import MarlinPretrain
from marlinflow.pretrain.train import start_point
from marlinflow.weights.videomae import POSITION_TABLES, init_from_videomae, videomae_key

TINY = get_size("tiny")

# Our names -> the original release's (MCG-NJU/VideoMAE; marlin.md §1.9).
ORIGINAL_NAMES = (
    ("mlp.layers.0.linear.", "mlp.fc1."),
    ("mlp.layers.1.linear.", "mlp.fc2."),
    ("patch_embedding.projection.", "patch_embed.proj."),
    ("enc_dec_proj.", "encoder_to_decoder."),
    ("decoder.mask_token", "mask_token"),
)
# Our names -> transformers' VideoMAEForPreTraining (modeling_videomae.py): the prefix of a
# part, then the name of a part inside a block.
HF_PREFIXES = (
    ("encoder.patch_embedding.projection.", "videomae.embeddings.patch_embeddings.projection."),
    ("encoder.blocks.", "videomae.encoder.layer."),
    ("encoder.norm.", "videomae.layernorm."),
    ("decoder.blocks.", "decoder.decoder_layers."),
    ("enc_dec_proj.", "encoder_to_decoder."),
    ("decoder.mask_token", "mask_token"),
)
HF_BLOCK = {
    "norm1": "layernorm_before",
    "norm2": "layernorm_after",
    "attn.q_bias": "attention.attention.q_bias",
    "attn.v_bias": "attention.attention.v_bias",
    "attn.proj": "attention.output.dense",
    "mlp.layers.0.linear": "intermediate.dense",
    "mlp.layers.1.linear": "output.dense",
}


def source_model(size=TINY, seed: int = 1) -> MarlinModel:
    """A model whose every weight is random, biases and norms included, so that each value
    shows where it landed."""
    torch.manual_seed(seed)
    model = MarlinModel(size)
    with torch.no_grad():
        for name, value in model.named_parameters():
            if "pos_embedding" not in name:
                value.copy_(torch.randn_like(value))
    return model


def weights(model: MarlinModel) -> dict[str, torch.Tensor]:
    """The weights a VideoMAE checkpoint can hold: all but the fixed position tables."""
    return {k: v.clone() for k, v in model.state_dict().items() if k not in POSITION_TABLES}


def original_layout(model: MarlinModel) -> dict[str, torch.Tensor]:
    state = {}
    for key, value in weights(model).items():
        for ours, theirs in ORIGINAL_NAMES:
            key = key.replace(ours, theirs)
        state[key] = value
    return state


def huggingface_layout(model: MarlinModel) -> dict[str, torch.Tensor]:
    state = {}
    for key, value in weights(model).items():
        for ours, theirs in HF_PREFIXES:
            if key.startswith(ours):
                key = theirs + key.removeprefix(ours)
                break
        match = re.match(r"^(.*\.(?:layer|decoder_layers)\.\d+)\.(.*)\.(weight|bias)$", key)
        if match:
            block, part, kind = match.groups()
            if part == "attn.qkv":  # fused (3D, D) -> separate query, key, value (D, D)
                for name, rows in zip(("query", "key", "value"), value.chunk(3), strict=True):
                    state[f"{block}.attention.attention.{name}.weight"] = rows
                continue
            key = f"{block}.{HF_BLOCK[part]}.{kind}"
        elif key.endswith(("q_bias", "v_bias")):
            block, _, name = key.rpartition(".attn.")
            key = f"{block}.{HF_BLOCK['attn.' + name]}"
        state[key] = value
    return state


def assert_same_weights(target: MarlinModel, source: MarlinModel) -> None:
    for key, value in weights(source).items():
        assert torch.equal(target.state_dict()[key], value), key


def test_original_release_layout(tmp_path):
    source = source_model()
    state = original_layout(source)
    assert "encoder.blocks.0.attn.qkv.weight" in state and "mask_token" in state
    state["encoder.head.weight"] = torch.zeros(1)  # a key MARLIN has no place for
    path = tmp_path / "checkpoint.pth"
    torch.save({"model": state}, path)
    target = MarlinModel(TINY)
    report = init_from_videomae(target, path)
    assert_same_weights(target, source)
    assert (report.layout, report.unexpected) == ("videomae", ["encoder.head.weight"])
    assert sorted(report.missing) == sorted(POSITION_TABLES)
    assert len(report.loaded) == len(state) - 1 and "enc_dec_proj.weight" in report.loaded
    assert report.sha256 == hashlib.sha256(path.read_bytes()).hexdigest()
    assert report.record()["from"] == "videomae" and report.path == str(path.resolve())
    assert (
        videomae_key("encoder.blocks.3.mlp.fc1.bias") == "encoder.blocks.3.mlp.layers.0.linear.bias"
    )


def test_huggingface_layout_fuses_query_key_value(tmp_path):
    source = source_model()
    state = huggingface_layout(source)
    layer = "videomae.encoder.layer.0.attention.attention"
    assert {f"{layer}.query.weight", f"{layer}.q_bias", "videomae.layernorm.weight"} <= set(state)
    assert not any("qkv" in key for key in state)
    torch.save(state, tmp_path / "pytorch_model.bin")  # save_pretrained: a plain state dict
    target = MarlinModel(TINY)
    report = init_from_videomae(target, tmp_path / "pytorch_model.bin")
    assert (report.layout, report.unexpected) == ("huggingface", [])
    assert sorted(report.missing) == sorted(POSITION_TABLES)
    assert_same_weights(target, source)
    # the fused weight stacks query, key and value, in that order; the biases are q's and v's
    attn = target.encoder.blocks[0].attn
    x = torch.randn(2, 5, TINY.enc_dim)
    q, k, v = attn.qkv_heads(x)  # each (B, heads, N, D/heads)
    expected = {
        "query": x @ state[f"{layer}.query.weight"].T + state[f"{layer}.q_bias"],
        "key": x @ state[f"{layer}.key.weight"].T,
        "value": x @ state[f"{layer}.value.weight"].T + state[f"{layer}.v_bias"],
    }
    for name, heads in zip(expected, (q, k, v), strict=True):
        assert torch.allclose(heads.transpose(1, 2).flatten(2), expected[name], atol=1e-5), name


def test_a_deeper_decoder_keeps_its_extra_blocks(tmp_path):
    """ViT-L's decoder has 12 blocks, VideoMAE-L's 4: the blocks the checkpoint lacks keep
    their initialisation and are reported missing."""
    torch.save({"model": original_layout(source_model())}, tmp_path / "videomae.pth")
    deeper = resolve_size({"name": "tiny", "dec_depth": 3})
    torch.manual_seed(5)
    target = MarlinModel(deeper)
    before = {k: v.clone() for k, v in target.state_dict().items() if "decoder.blocks.2." in k}
    report = init_from_videomae(target, tmp_path / "videomae.pth")
    extra = [key for key in report.missing if key not in POSITION_TABLES]
    assert extra and all(
        key.startswith(("decoder.blocks.1.", "decoder.blocks.2.")) for key in extra
    )
    for key, value in before.items():
        assert torch.equal(target.state_dict()[key], value), key


def test_what_is_not_a_fitting_checkpoint_is_refused(tmp_path):
    torch.save({"model": {"backbone.weight": torch.zeros(2)}}, tmp_path / "other.pth")
    with pytest.raises(InputError, match="not a VideoMAE pretraining checkpoint"):
        init_from_videomae(MarlinModel(TINY), tmp_path / "other.pth")
    torch.save({"model": original_layout(source_model())}, tmp_path / "tiny.pth")
    with pytest.raises(InputError, match="VideoMAE weights do not fit size 'mini'"):
        init_from_videomae(MarlinModel(get_size("mini")), tmp_path / "tiny.pth")


@pytest.mark.parametrize(
    ("layout", "write"),
    [
        ("videomae", lambda model, path: torch.save({"model": original_layout(model)}, path)),
        ("huggingface", lambda model, path: torch.save(huggingface_layout(model), path)),
    ],
)
def test_a_videomae_checkpoint_starts_pretraining(tmp_path, layout, write):
    source = source_model()
    write(source, tmp_path / "videomae.bin")
    config = PretrainConfig.from_dict(
        {"model": "tiny", "init": str(tmp_path / "videomae.bin"), "run_dir": str(tmp_path / "run")}
    )
    module = MarlinPretrain(config)
    assert start_point(config, module) is None  # a fresh run: nothing to resume
    assert_same_weights(module.model, source)
    assert module.start["from"] == "videomae" and module.start["layout"] == layout
    assert (
        module.start["sha256"]
        == hashlib.sha256((tmp_path / "videomae.bin").read_bytes()).hexdigest()
    )
    # the record travels with the run's checkpoints (a resumed run does not load init again)
    checkpoint: dict = {}
    module.on_save_checkpoint(checkpoint)
    resumed = MarlinPretrain(config)
    resumed.on_load_checkpoint(checkpoint)
    assert resumed.start == module.start
    resumed.on_load_checkpoint({})  # a checkpoint from before runs recorded their start
    assert resumed.start == {"from": "unrecorded"}
    scratch = MarlinPretrain(config.replace(init="scratch"))
    assert start_point(scratch.config, scratch) is None and scratch.start == {"from": "scratch"}
