"""The downstream settings, as the config schema declares them (``downstream.probe``,
``downstream.finetune``, ``downstream.features``), and the run configs made from them."""

from __future__ import annotations

import dataclasses
from typing import Any

from marlinflow.settings import settings_class

ProbeSettings = settings_class("downstream.probe", "ProbeSettings")
FinetuneSettings = settings_class("downstream.finetune", "FinetuneSettings")
FeatureSettings = settings_class("downstream.features", "FeatureSettings")
TRAINING = ("lr", "batch_size", "max_epochs", "early_stop")  # the schema's share of TrainConfig


def train_config(settings: Any, seed: int):
    """The training loop's config: the settings' share over the official constants."""
    from marlinflow.downstream.training import TrainConfig

    values = {key: getattr(settings, key) for key in TRAINING}
    return dataclasses.replace(TrainConfig(), seed=seed, **values)


def probe_config(settings: ProbeSettings, seed: int, reduction: str, model_name: str):
    from marlinflow.downstream.probe import ProbeConfig

    return ProbeConfig(
        train=train_config(settings, seed),
        reduction=reduction,
        fraction=settings.fraction,
        k_per_class=settings.k_per_class,
        n_bootstrap=settings.bootstrap,
        model_name=model_name,
    )


def finetune_config(settings: FinetuneSettings, seed: int, device: str, threads: int | None):
    from marlinflow.downstream.finetune import FinetuneConfig

    return FinetuneConfig(
        train=train_config(settings, seed),
        sample_rate=settings.sample_rate,
        test_clips=settings.test_clips,
        n_bootstrap=settings.bootstrap,
        fraction=settings.fraction,
        k_per_class=settings.k_per_class,
        device=device,
        threads=threads,
        workers=settings.workers,
        bf16=settings.bf16,
    )
