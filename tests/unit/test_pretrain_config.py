"""Pretraining settings: defaults are the official ones; mistakes are caught with the file named."""

from __future__ import annotations

import json

import pytest

from marlinflow.errors import InputError
from marlinflow.pretrain.config import PretrainConfig


def test_defaults_are_official():
    config = PretrainConfig()
    assert (config.mask_strategy, config.mask_ratio, config.adv_weight) == ("fasking", 0.9, 0.01)
    assert (config.base_lr, config.min_lr, config.warmup_epochs, config.epochs) == (
        1.5e-4,
        1e-5,
        40,
        2000,
    )
    assert config.betas == [0.9, 0.95] and config.weight_decay == 0.0 and config.gp_weight == 0.0


def test_load_yaml_section_and_json(tmp_path):
    (tmp_path / "a.yaml").write_text(
        "pretrain:\n  model: tiny\n  index: data/parsing\n  betas: [0.9, 0.99]\n"
    )
    config = PretrainConfig.load(tmp_path / "a.yaml")
    assert (
        config.model == "tiny" and config.index == ["data/parsing"] and config.betas == [0.9, 0.99]
    )
    (tmp_path / "b.json").write_text(json.dumps({"model": {"name": "tiny", "n_frames": 16}}))
    assert PretrainConfig.load(tmp_path / "b.json").model == {"name": "tiny", "n_frames": 16}
    assert PretrainConfig.from_dict(config.to_dict()) == config  # round trip


@pytest.mark.parametrize(
    ("settings", "message"),
    [
        ({"batch_sise": 4}, "unknown pretrain settings"),
        ({"mask_strategy": "grid"}, "mask_strategy"),
        ({"mask_ratio": 1.0}, "mask_ratio"),
        ({"lr_schedule": "step"}, "lr_schedule"),
        ({"steps": 0}, "steps"),
        ({"checkpoint_every_steps": 0}, "checkpoint_every_steps"),
        ({"wandb": True}, "unknown pretrain settings"),
    ],  # tracking comes from the environment
)
def test_bad_settings_name_the_file(tmp_path, settings, message):
    path = tmp_path / "bad.yaml"
    path.write_text(json.dumps(settings))
    with pytest.raises(InputError, match=f"bad.yaml.*{message}"):
        PretrainConfig.load(path)
    (tmp_path / "list.yaml").write_text("- 1\n")
    with pytest.raises(InputError, match="mapping"):
        PretrainConfig.load(tmp_path / "list.yaml")


def test_tracked_settings_shorten_a_long_index():
    from marlinflow.pretrain.train import tracked_config

    records = [f"data/interim/parsing/v{i}.status.json" for i in range(1000)]
    shown = tracked_config(PretrainConfig(index=records, batch_size=8))
    assert shown["index"] == "1000 entries (listed in config.json)" and shown["batch_size"] == 8
    assert tracked_config(PretrainConfig(index=["data/parsing"]))["index"] == ["data/parsing"]
