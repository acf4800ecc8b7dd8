"""The pretraining step: one forward per iteration, critic gradients kept off the autoencoder,
the gradient penalty, target normalisation and the reconstruction grid."""

from __future__ import annotations

import copy
import json
import os

import numpy as np
import pytest
import pytorch_lightning as pl
import torch
from torch.utils.data import DataLoader

from marlinflow import masking
from marlinflow.models import MarlinModel, get_size
from marlinflow.pretrain.config import PretrainConfig
from marlinflow.pretrain.module import MarlinPretrain, gradient_penalty, normalise_patches
from marlinflow.pretrain.train import build_trainer
from marlinflow.pretrain.visual import reconstruction_grid

TINY = get_size("tiny")


def random_batches(n: int) -> list[dict[str, torch.Tensor]]:
    rng = np.random.default_rng(0)
    return [
        {
            "video": torch.rand(TINY.clip_shape, generator=torch.Generator().manual_seed(i)),
            "visible": torch.from_numpy(masking.random(TINY.grid, 0.9, rng)),
        }
        for i in range(n)
    ]


class GradientProbe(pl.Callback):
    """Records, at each optimiser step, which networks hold gradients."""

    def __init__(self):
        self.steps: list[dict] = []

    def on_before_optimizer_step(self, trainer, pl_module, optimizer):
        critic_params = set(map(id, pl_module.critic.parameters()))
        is_critic = any(id(p) in critic_params for g in optimizer.param_groups for p in g["params"])
        self.steps.append(
            {
                "critic_step": is_critic,
                "model_grads": [
                    p.grad.clone() for p in pl_module.model.parameters() if p.grad is not None
                ],
                "critic_grads": [
                    p.grad.clone() for p in pl_module.critic.parameters() if p.grad is not None
                ],
            }
        )


@pytest.fixture(scope="module")
def trained():
    """Two iterations of a tiny model, with the probes attached."""
    pl.seed_everything(0, verbose=False)
    module = MarlinPretrain(PretrainConfig(model="tiny", warmup_epochs=0.5, base_lr=0.1))
    forwards = []
    module.model.register_forward_hook(lambda *args: forwards.append(1))
    probe = GradientProbe()
    trainer = pl.Trainer(
        max_epochs=1,
        accelerator="cpu",
        logger=False,
        enable_checkpointing=False,
        enable_progress_bar=False,
        enable_model_summary=False,
        callbacks=[probe],
    )
    trainer.fit(module, DataLoader(random_batches(4), batch_size=2))
    return module, probe, forwards


def test_one_forward_per_iteration(trained):
    _, probe, forwards = trained
    assert len(forwards) == 2  # two iterations, two autoencoder forwards
    assert [s["critic_step"] for s in probe.steps] == [True, False, True, False]  # critic first
    module = trained[0]
    assert {"train/loss_rec", "lr", "clips_per_s"} <= set(module.step_metrics)
    assert "gpu_mem_gb" not in module.step_metrics  # logged only on a GPU


def test_critic_gradients_do_not_reach_the_autoencoder(trained):
    _, probe, _ = trained
    first_critic, first_gen = probe.steps[0], probe.steps[1]
    assert first_critic["model_grads"] == []  # nothing flowed back through the prediction
    assert len(first_critic["critic_grads"]) == 4 and any(
        g.abs().sum() > 0 for g in first_critic["critic_grads"]
    )
    assert len(first_gen["model_grads"]) > 0
    # The generator's backward leaves the critic's gradients as the critic step left them.
    for before, after in zip(first_critic["critic_grads"], first_gen["critic_grads"], strict=True):
        assert torch.equal(before, after)


def test_learning_rate_follows_schedule(trained):
    module, _, _ = trained
    opt_g, opt_d = module.optimizers()
    expected = module.schedule.lr(0, 1)
    assert module.schedule.peak == pytest.approx(0.1 * 2 / 256)  # base × global batch / 256
    assert opt_g.optimizer.param_groups[0]["lr"] == pytest.approx(expected)
    assert opt_d.optimizer.param_groups[0]["lr"] == pytest.approx(expected)
    assert opt_g.optimizer.defaults["betas"] == (0.9, 0.95)
    assert opt_g.optimizer.defaults["weight_decay"] == 0.0


def test_gradient_penalty_zero_for_unit_lipschitz_critic():
    critic = torch.nn.Linear(TINY.patch_dim, 1, bias=False)
    with torch.no_grad():
        critic.weight.copy_(torch.nn.functional.normalize(torch.randn(1, TINY.patch_dim), dim=1))
    fake, real = torch.rand(2, 5, TINY.patch_dim), torch.rand(2, 5, TINY.patch_dim)
    assert gradient_penalty(critic, fake, real).item() == pytest.approx(0.0, abs=1e-10)
    with torch.no_grad():
        critic.weight.mul_(3.0)  # gradient norm 3 everywhere: penalty (3 - 1)² = 4
    penalty = gradient_penalty(critic, fake, real)
    assert penalty.item() == pytest.approx(4.0, rel=1e-5)
    penalty.backward()
    assert critic.weight.grad is not None and critic.weight.grad.abs().sum() > 0


def test_normalised_targets():
    patches = torch.rand(2, 7, 24) * 5 + 3
    normed = normalise_patches(patches)
    assert torch.allclose(normed.mean(-1), torch.zeros(2, 7), atol=1e-5)
    assert torch.allclose(normed.std(-1, unbiased=False), torch.ones(2, 7), atol=1e-3)


def test_reconstruction_grid_layout():
    video = torch.rand(TINY.clip_shape)
    visible = torch.from_numpy(masking.random(TINY.grid, 0.9, np.random.default_rng(0)))
    image = reconstruction_grid(video, visible, video, TINY)
    assert image.shape == (3 * 64, 8 * 64, 3) and image.dtype == np.uint8
    assert np.array_equal(image[:64], image[128:])  # reconstruction == input here
    masked_row = image[64:128].astype(int)
    grey = np.abs(masked_row - 128).max(axis=-1) <= 1
    assert 0.85 < grey.mean() < 0.95  # 90% of the tubelets painted grey (bar chance matches)


def fit_once(config: PretrainConfig, run_dir) -> tuple[MarlinPretrain, list, MarlinModel]:
    """One iteration through the run's own Trainer (``build_trainer``), recording what the
    autoencoder's forward saw and gave; also the autoencoder as it was before the step."""
    pl.seed_everything(0, verbose=False)
    module = MarlinPretrain(config, reconstructions=False)
    before = copy.deepcopy(module.model)
    calls = []
    module.model.register_forward_hook(lambda mod, args, out: calls.append((args, out)))
    trainer = build_trainer(config, run_dir)
    trainer.fit(module, DataLoader(random_batches(2), batch_size=2))
    return module, calls, before


def one_step(precision: str, accelerator: str = "cpu") -> PretrainConfig:
    return PretrainConfig(
        model="tiny",
        precision=precision,
        accelerator=accelerator,
        steps=1,
        epochs=1,
        val_fraction=0.0,
        warmup_epochs=0.5,
        base_lr=0.1,
    )


def test_precision_32_is_float32_exactly(tmp_path):
    module, calls, before = fit_once(one_step("32"), tmp_path)
    ((args, pred),) = calls
    assert pred.dtype == torch.float32
    with torch.no_grad():
        assert torch.equal(pred, before(*args))  # bit-equal to no autocast at all
    summary = json.loads((tmp_path / "final" / "metrics.json").read_text())
    assert summary["precision"] == "32" and summary["start"] == {"from": "scratch"}


@pytest.mark.parametrize(
    ("precision", "ran"), [("bf16-mixed", "bf16-mixed"), ("16-mixed", "bf16-mixed")]
)
def test_mixed_precision_on_the_cpu(tmp_path, precision, ran):
    """bf16 autocast on the CPU; 16-mixed runs as bf16-mixed there (no fp16 autocast), and the
    run records what it ran at. Weights and losses stay float32."""
    module, calls, _ = fit_once(one_step(precision), tmp_path)
    ((_, pred),) = calls
    assert pred.dtype == torch.bfloat16
    assert next(module.model.parameters()).dtype == torch.float32
    assert all(np.isfinite(value) for value in module.step_metrics.values())
    assert json.loads((tmp_path / "final" / "metrics.json").read_text())["precision"] == ran


@pytest.mark.gpu
def test_bf16_autocast_on_gpu(tmp_path):
    module, calls, _ = fit_once(one_step("bf16-mixed", accelerator="gpu"), tmp_path)
    assert [out.dtype for _, out in calls] == [torch.bfloat16]  # the autoencoder ran in bf16
    assert all(np.isfinite(value) for value in module.step_metrics.values())
    assert 0 < module.step_metrics["gpu_mem_gb"] < 10  # peak GPU memory is logged
    assert next(module.model.parameters()).dtype == torch.float32  # weights stay fp32
    assert (
        json.loads((tmp_path / "final" / "metrics.json").read_text())["precision"] == "bf16-mixed"
    )


def test_uint8_clips_are_scaled_on_the_device():
    """The loader's uint8 clips reach the model as float in [0, 1], exactly x / 255."""
    module = MarlinPretrain(PretrainConfig(model="tiny"))
    clips = torch.randint(0, 256, (2, *TINY.clip_shape), dtype=torch.uint8)
    batch = {"video": clips, "visible": torch.ones(2, 4, dtype=torch.bool)}
    scaled = module.on_after_batch_transfer(batch, 0)
    assert scaled["video"].dtype == torch.float32 and scaled["visible"] is batch["visible"]
    assert torch.equal(scaled["video"], clips.float() / 255)
    floats = {"video": clips.float() / 255, "visible": batch["visible"]}
    assert module.on_after_batch_transfer(floats, 0)["video"] is floats["video"]


def test_compile_setting_compiles_the_autoencoder_in_place():
    """pretrain.compile wraps the autoencoder's call in torch.compile (compiled when first
    called) and leaves the module's state dict, and so its checkpoints, as they were."""
    plain = MarlinPretrain(PretrainConfig(model="tiny"))
    compiled = MarlinPretrain(PretrainConfig(model="tiny", compile=True))
    assert plain.model._compiled_call_impl is None
    assert compiled.model._compiled_call_impl is not None
    assert compiled.critic._compiled_call_impl is None  # the critic runs eagerly
    assert list(compiled.state_dict()) == list(plain.state_dict())


@pytest.mark.skipif(
    not os.environ.get("MARLINFLOW_TEST_COMPILE"),
    reason="torch.compile takes a minute or more on a CPU; set MARLINFLOW_TEST_COMPILE=1",
)
def test_compiled_autoencoder_gives_the_same_predictions_and_gradients():
    plain = MarlinPretrain(PretrainConfig(model="tiny"))
    compiled = MarlinPretrain(PretrainConfig(model="tiny", compile=True))
    compiled.load_state_dict(plain.state_dict())
    batch = {key: torch.stack([b[key] for b in random_batches(2)]) for key in ("video", "visible")}
    results = []
    for module in (plain, compiled):
        pred, target = module.forward_pass(batch)
        torch.nn.functional.mse_loss(pred, target).backward()
        grad = module.model.encoder.blocks[0].attn.qkv.weight.grad
        results.append((pred.detach(), grad))
    (pred, grad), (pred_compiled, grad_compiled) = results
    assert not torch.equal(grad, torch.zeros_like(grad))
    torch.testing.assert_close(pred_compiled, pred, rtol=1e-4, atol=1e-5)
    torch.testing.assert_close(grad_compiled, grad, rtol=1e-3, atol=1e-6)
