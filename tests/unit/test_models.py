"""MARLIN networks: official key layout and sizes, position table, attention, patch order."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from marlinflow.models import (
    MarlinEncoder,
    MarlinModel,
    ModelSize,
    PatchCritic,
    get_size,
    patchify,
    resolve_size,
    unpatchify,
)
from marlinflow.models.vit import Attention, sinusoid_table

# reference/marlin.md §1.1 and §4.3: keys (encoder-only, full) and millions of parameters
# (encoder including the position table, full model, critic).
OFFICIAL = {
    "small": ((161, 220), (22.48, 24.93, 1.18), 21.88),
    "base": ((161, 220), (87.43, 96.02, 2.36), 86.23),
    "large": ((317, 480), (305.47, 345.41, 3.15), 303.86),
}


def millions(module: torch.nn.Module, trainable_only: bool = False) -> float:
    params = [p for p in module.parameters() if p.requires_grad or not trainable_only]
    return round(sum(p.numel() for p in params) / 1e6, 2)


@pytest.mark.parametrize("name", OFFICIAL)
def test_official_key_counts_and_parameter_counts(name):
    (enc_keys, full_keys), (enc_m, full_m, critic_m), trainable_m = OFFICIAL[name]
    with torch.device("meta"):  # shapes only: no memory, no init cost
        encoder_only = MarlinModel(get_size(name), with_decoder=False)
        full = MarlinModel(get_size(name))
        critic = PatchCritic(get_size(name))
    assert len(encoder_only.state_dict()) == enc_keys
    assert len(full.state_dict()) == full_keys
    assert (millions(encoder_only), millions(full), millions(critic)) == (enc_m, full_m, critic_m)
    assert millions(encoder_only, trainable_only=True) == trainable_m


def expected_small_shapes() -> dict[str, tuple[int, ...]]:
    """The ViT-S full-model listing of marlin.md §4.3."""
    shapes = {
        "encoder.patch_embedding.projection.weight": (384, 3, 2, 16, 16),
        "encoder.patch_embedding.projection.bias": (384,),
        "encoder.pos_embedding.emb": (1, 1568, 384),
        "encoder.norm.weight": (384,),
        "encoder.norm.bias": (384,),
        "decoder.mask_token": (1, 1, 192),
        "decoder.pos_embedding.emb": (1, 1568, 192),
        "decoder.norm.weight": (192,),
        "decoder.norm.bias": (192,),
        "decoder.head.weight": (1536, 192),
        "decoder.head.bias": (1536,),
        "enc_dec_proj.weight": (192, 384),
    }
    for part, depth, dim in (("encoder", 12, 384), ("decoder", 4, 192)):
        for i in range(depth):
            block = f"{part}.blocks.{i}."
            for vector in ("norm1.weight", "norm1.bias", "norm2.weight", "norm2.bias"):
                shapes[block + vector] = (dim,)
            for vector in ("attn.q_bias", "attn.v_bias", "attn.proj.bias"):
                shapes[block + vector] = (dim,)
            shapes[block + "attn.qkv.weight"] = (3 * dim, dim)
            shapes[block + "attn.proj.weight"] = (dim, dim)
            shapes[block + "mlp.layers.0.linear.weight"] = (4 * dim, dim)
            shapes[block + "mlp.layers.0.linear.bias"] = (4 * dim,)
            shapes[block + "mlp.layers.1.linear.weight"] = (dim, 4 * dim)
            shapes[block + "mlp.layers.1.linear.bias"] = (dim,)
    return shapes


def test_small_state_dict_has_the_official_names_and_shapes():
    with torch.device("meta"):
        model = MarlinModel(get_size("small"))
    shapes = {key: tuple(value.shape) for key, value in model.state_dict().items()}
    assert shapes == expected_small_shapes()


def test_position_table_values_and_frozen():
    table = sinusoid_table(1568, 384)
    assert torch.allclose(table[0, :4], torch.tensor([0.0, 1.0, 0.0, 1.0]))
    assert torch.allclose(table[1, :4], torch.tensor([0.8415, 0.5403, 0.8153, 0.5791]), atol=1e-4)
    # the formula, in float64: interleaved sin/cos of p / 10000^(2·floor(j/2)/D)
    p, j = torch.meshgrid(torch.arange(1568.0).double(), torch.arange(384).double(), indexing="ij")
    angle = p / 10000 ** (2 * torch.div(j, 2, rounding_mode="floor") / 384)
    exact = torch.where(j % 2 == 0, torch.sin(angle), torch.cos(angle))
    assert torch.allclose(table.double(), exact, atol=3e-4)  # float32 rounding at large p
    encoder = MarlinEncoder(get_size("tiny"))
    assert not encoder.pos_embedding.emb.requires_grad
    assert torch.equal(encoder.pos_embedding.emb[0], sinusoid_table(256, 96))


def test_attention_equals_explicit_softmax():
    torch.manual_seed(0)
    attn = Attention(dim=48, n_heads=3)
    torch.nn.init.normal_(attn.q_bias)
    torch.nn.init.normal_(attn.v_bias)
    x = torch.randn(2, 10, 48)
    wq, wk, wv = attn.qkv.weight.chunk(3)
    q = (x @ wq.T + attn.q_bias).unflatten(-1, (3, 16)).transpose(1, 2)  # (B, heads, N, 16)
    k = (x @ wk.T).unflatten(-1, (3, 16)).transpose(1, 2)  # no k bias
    v = (x @ wv.T + attn.v_bias).unflatten(-1, (3, 16)).transpose(1, 2)
    weights = torch.softmax(q @ k.transpose(-1, -2) * 16**-0.5, dim=-1)
    expected = F.linear((weights @ v).transpose(1, 2).flatten(2), attn.proj.weight, attn.proj.bias)
    assert torch.allclose(attn(x), expected, atol=1e-5)


def test_patchify_order_and_round_trip():
    size = get_size("tiny")  # tubelet 2, patch 8, 8 frames of 64x64
    video = torch.rand(2, 3, 8, 64, 64)
    patches = patchify(video, size)
    assert patches.shape == (2, 256, 384)
    assert torch.equal(unpatchify(patches, size), video)
    # token (t=1, h=2, w=3) is index 1*64 + 2*8 + 3; element (c=2, pt=1, ph=4, pw=5)
    token = patches[1, 1 * 64 + 2 * 8 + 3]
    assert token[2 * 128 + 1 * 64 + 4 * 8 + 5] == video[1, 2, 1 * 2 + 1, 2 * 8 + 4, 3 * 8 + 5]


def test_small_decoder_output_shape():
    model = MarlinModel(get_size("small"))
    visible = torch.zeros(1, 1568, dtype=torch.bool)
    visible[:, :392] = True
    with torch.no_grad():
        assert model(torch.rand(1, 3, 16, 224, 224), visible).shape == (1, 1176, 1536)


def random_visible(size: ModelSize, batch: int, n_visible: int) -> torch.Tensor:
    order = torch.rand(batch, size.n_tokens).argsort(dim=1)
    return order < n_visible  # (B, N) bool, n_visible True per row


def test_masked_tubelets_do_not_reach_the_prediction():
    torch.manual_seed(0)
    size = get_size("tiny")
    model = MarlinModel(size).eval()
    video = torch.rand(2, *size.clip_shape)
    visible = random_visible(size, 2, 25)
    patches = patchify(video, size)
    patches[~visible] = torch.rand_like(patches[~visible])  # change only what is masked
    changed = unpatchify(patches, size)
    with torch.no_grad():
        assert torch.allclose(model(video, visible), model(changed, visible), atol=1e-6)
        assert model(video, visible).shape == (2, 256 - 25, 384)
        assert torch.equal(model.targets(changed, visible), patches[~visible].reshape(2, -1, 384))
        rebuilt = patchify(model.reconstruct(video, visible), size)
    assert torch.equal(rebuilt[visible], patchify(video, size)[visible])


def test_uneven_visible_counts_are_refused():
    size = get_size("tiny")
    visible = random_visible(size, 2, 25)
    visible[0, visible[0].logical_not().nonzero()[0]] = True
    with pytest.raises(ValueError, match="same number of tokens"):
        MarlinModel(size)(torch.rand(2, *size.clip_shape), visible)


def test_wrong_clip_shape_names_the_expected_one():
    with pytest.raises(ValueError, match=r"\(B, 3, 8, 64, 64\)"):
        MarlinEncoder(get_size("tiny")).extract_features(
            torch.rand(1, 3, 16, 64, 64), keep_seq=False
        )


def test_pooled_feature_is_norm_of_mean_not_mean_of_normed_tokens():
    torch.manual_seed(0)
    encoder = MarlinEncoder(get_size("tiny")).eval()
    clip = torch.rand(2, 3, 8, 64, 64)
    with torch.no_grad():
        pooled = encoder.extract_features(clip, keep_seq=False)
        per_token = encoder.extract_features(clip, keep_seq=True)
        block_out = encoder.run_blocks(encoder.embed(clip))
    assert pooled.shape == (2, 96) and per_token.shape == (2, 256, 96)
    assert torch.allclose(pooled, encoder.norm(block_out.mean(dim=1)), atol=1e-6)
    assert not torch.allclose(pooled, per_token.mean(dim=1), atol=1e-3)
    assert torch.allclose(per_token, encoder(clip), atol=1e-6)


@pytest.mark.parametrize("mode", ["train", "eval"])
def test_gradients_follow_the_callers_grad_mode(mode):
    encoder = MarlinEncoder(get_size("tiny")).train(mode == "train")
    clip = torch.rand(1, 3, 8, 64, 64)
    # a random readout: the sum of LayerNorm outputs is constant and would have no gradient
    (encoder.extract_features(clip, keep_seq=False) @ torch.randn(96)).sum().backward()
    assert encoder.blocks[0].attn.qkv.weight.grad is not None
    assert encoder.blocks[0].attn.qkv.weight.grad.abs().sum() > 0
    with torch.no_grad():
        assert not encoder.extract_features(clip, keep_seq=False).requires_grad


def test_initialisation():
    model = MarlinModel(get_size("tiny"))
    assert model.decoder.mask_token.abs().max() <= 0.02
    assert model.decoder.mask_token.std() > 0
    block = model.encoder.blocks[0]
    assert torch.count_nonzero(block.attn.q_bias) == 0
    assert torch.count_nonzero(block.mlp.layers[0].linear.bias) == 0
    bound = (6 / (96 + 384)) ** 0.5  # Xavier-uniform bound of the 96 -> 384 MLP layer
    assert block.mlp.layers[0].linear.weight.abs().max() <= bound


def outer_layers(layer_init: str) -> list[torch.nn.Linear]:
    """enc_dec_proj (96 -> 48) and the critic's two layers (384 -> 192 -> 1) of the tiny size."""
    torch.manual_seed(0)
    size = get_size("tiny")
    model, critic = MarlinModel(size, layer_init=layer_init), PatchCritic(size, layer_init)
    return [model.enc_dec_proj, critic.layers[0], critic.layers[2]]


def test_outer_layers_start_as_the_official_code_leaves_them():
    """PyTorch's default Linear init: weights and biases uniform in ±1/sqrt(fan_in), so a
    weight's std is 1/sqrt(3·fan_in) and the biases are not zero."""
    for layer in outer_layers("official"):
        bound = layer.in_features**-0.5
        assert layer.weight.abs().max() <= bound
        assert layer.weight.std().item() == pytest.approx(bound / 3**0.5, rel=0.1)
        if layer.bias is not None:
            assert layer.bias.abs().max() <= bound and torch.count_nonzero(layer.bias) > 0


def test_outer_layers_can_start_as_xavier():
    """Xavier-uniform: bound sqrt(6 / (fan_in + fan_out)), twice the default's here, zero biases."""
    for layer in outer_layers("xavier"):
        bound = (6 / (layer.in_features + layer.out_features)) ** 0.5
        assert layer.weight.abs().max() <= bound
        if layer.weight.numel() > 100:  # the 192 -> 1 layer has too few weights for a std
            assert layer.weight.std().item() == pytest.approx(bound / 3**0.5, rel=0.1)
            assert layer.weight.abs().max() > layer.in_features**-0.5  # beyond the default's
        if layer.bias is not None:
            assert torch.count_nonzero(layer.bias) == 0
    with pytest.raises(ValueError, match="official"):
        PatchCritic(get_size("tiny"), layer_init="kaiming")


def test_critic_scores_each_patch():
    size = get_size("small")
    critic = PatchCritic(size)
    assert critic.layers[0].out_features == 768
    assert critic(torch.rand(2, 5, size.patch_dim)).shape == (2, 5)


def test_registry_names_and_overrides():
    assert get_size("marlin_vit_base_ytf") == get_size("base")
    assert get_size("small").grid == (8, 14, 14) and get_size("small").patch_dim == 1536
    with pytest.raises(KeyError, match="small, base, large"):
        get_size("huge")
    custom = resolve_size({"name": "tiny", "n_frames": 16})
    assert (custom.name, custom.n_frames, custom.n_tokens) == ("tiny", 16, 512)
    assert resolve_size("mini") is get_size("mini")
    with pytest.raises(ValueError, match="unknown model size fields"):
        resolve_size({"name": "tiny", "frames": 16})
    with pytest.raises(ValueError, match="multiple of patch_size"):
        resolve_size({"name": "tiny", "img_size": 60})


def relative_error(value: torch.Tensor, reference: torch.Tensor) -> float:
    return float((value.float() - reference).norm() / reference.norm())


# bf16 keeps 8 significant bits: its unit roundoff is 2^-8 = 3.9e-3. The decoder output of a
# randomly initialised ViT-S (16 blocks in all) under bf16 autocast differs from fp32 by a
# relative 5e-3 on the CPU; 1.5e-2 (about 4 roundoffs) leaves room for other kernels and still
# catches a 2% error of a single gain (test_bf16_tolerance_separates_rounding_from_an_error).
BF16_RTOL = 1.5e-2


def test_bf16_tolerance_separates_rounding_from_an_error():
    torch.manual_seed(0)
    size = get_size("mini")
    model = MarlinModel(size).eval()
    video, visible = torch.rand(2, *size.clip_shape), random_visible(size, 2, 39)
    with torch.no_grad():
        reference = model(video, visible)
        with torch.autocast("cpu", dtype=torch.bfloat16):
            half = model(video, visible)
        model.decoder.norm.weight.mul_(1.02)  # an error: one gain 2% off
        wrong = model(video, visible)
    assert half.dtype == torch.bfloat16
    assert relative_error(half, reference) < BF16_RTOL < relative_error(wrong, reference)


@pytest.mark.gpu
def test_autocast_on_gpu_matches_fp32_on_the_cpu():
    """fp32 on the GPU is the CPU's fp32 to float rounding (TF32 off); bf16 autocast is within
    bf16 rounding of it."""
    torch.manual_seed(0)
    size = get_size("small")
    model = MarlinModel(size).eval()
    video, visible = torch.rand(2, *size.clip_shape), random_visible(size, 2, 156)
    with torch.no_grad():
        reference = model(video, visible)
    tf32 = torch.backends.cuda.matmul.allow_tf32, torch.backends.cudnn.allow_tf32
    torch.backends.cuda.matmul.allow_tf32 = torch.backends.cudnn.allow_tf32 = False
    try:
        model, video, visible = model.cuda(), video.cuda(), visible.cuda()
        with torch.no_grad():
            full_precision = model(video, visible).cpu()
            with torch.autocast("cuda", dtype=torch.bfloat16):
                half = model(video, visible).cpu()
    finally:
        torch.backends.cuda.matmul.allow_tf32, torch.backends.cudnn.allow_tf32 = tf32
    assert half.shape == full_precision.shape == (2, 1412, 1536) and half.dtype == torch.bfloat16
    torch.testing.assert_close(full_precision, reference, rtol=1e-4, atol=1e-4)
    assert relative_error(half, reference) < BF16_RTOL
