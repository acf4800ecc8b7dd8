"""The settings of one pretraining run: one dataclass, read from YAML or JSON.

Defaults are the official ones (reference: marlin.md §1.7-1.9) except where a field says so.
"""

from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from marlinflow.errors import InputError
from marlinflow.masking import STRATEGIES
from marlinflow.pretrain.schedule import SCHEDULES


@dataclass
class PretrainConfig:
    # What to train, on what.
    model: str | dict = "small"  # a registered size name, or {"name": ..., **overrides}
    index: list[str] = field(default_factory=list)  # parse records, folders of them, .txt lists
    run_dir: str = "results/pretrain/run"  # last.ckpt, encoder.pt, metrics.*, reconstructions/
    # Length and batches. batch_size is per device; the global batch is that × devices × nodes.
    batch_size: int = 16
    epochs: int = 2000
    steps: int | None = None  # stop after this many iterations (overrides epochs when reached)
    clips_per_epoch: int | None = None  # default: one clip per training video
    val_fraction: float = 0.05  # videos held out (fixed clips and masks every epoch)
    val_clips: int | None = None  # default: one clip per validation video
    val_every: int = 1  # epochs between validations (and reconstruction grids)
    frame_stride: int = 2
    seed: int = 0
    workers: int = 4
    # Where to run.
    accelerator: str = "auto"
    devices: int | str | list[int] = 1  # a count, "auto", or device ids
    strategy: str = "auto"  # "ddp" on several devices (gloo on CPU, nccl on GPU)
    num_nodes: int = 1
    # Masking.
    mask_strategy: str = "fasking"  # fasking, fasking_opp, random, tube, frame
    mask_ratio: float = 0.9
    mask_balanced: bool = False  # ours: prune per tubelet instead of globally
    # Losses.
    adv_weight: float = 0.01
    gp_weight: float = 0.0
    norm_targets: bool = False  # ours: per-patch normalised targets (MAE's norm_pix_loss)
    # Optimisation: lr = base × global batch / 256.
    base_lr: float = 1.5e-4
    min_lr: float = 1e-5
    warmup_epochs: float = 40
    lr_schedule: str = "cosine"  # per iteration; "staircase": the official per-epoch steps
    betas: tuple[float, float] = (0.9, 0.95)
    weight_decay: float = 0.0
    # Starting point and checkpoints. Run tracking (W&B) is set by the environment: see
    # marlinflow.tracking.
    init: str | None = None  # a VideoMAE pretraining checkpoint to start from (not on resume)
    checkpoint_every_steps: int | None = None  # also write last.ckpt every N iterations

    @classmethod
    def from_dict(cls, data: dict[str, Any], source: str | Path = "<config>") -> PretrainConfig:
        names = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(data) - names)
        if unknown:
            raise InputError(source, f"unknown pretrain settings {unknown}; known: {sorted(names)}")
        config = cls(**data)
        if isinstance(config.index, str):
            config.index = [config.index]
        config.betas = tuple(config.betas)
        problems = config.problems()
        if problems:
            raise InputError(source, "invalid pretrain settings: " + "; ".join(problems))
        return config

    def problems(self) -> list[str]:
        """What is wrong with these settings, caught before any process starts."""
        checks = [
            (self.mask_strategy in STRATEGIES, f"mask_strategy must be one of {STRATEGIES}"),
            (self.lr_schedule in SCHEDULES, f"lr_schedule must be one of {SCHEDULES}"),
            (0.0 <= self.mask_ratio < 1.0, "mask_ratio must be in [0, 1)"),
            (self.batch_size >= 1 and self.epochs >= 1, "batch_size and epochs must be >= 1"),
            (self.steps is None or self.steps >= 1, "steps must be >= 1 when set"),
            (0.0 <= self.val_fraction < 1.0, "val_fraction must be in [0, 1)"),
            (
                self.checkpoint_every_steps is None or self.checkpoint_every_steps >= 1,
                "checkpoint_every_steps must be >= 1 when set",
            ),
        ]
        return [message for ok, message in checks if not ok]

    @classmethod
    def load(cls, path: str | Path) -> PretrainConfig:
        """Read YAML or JSON (JSON is YAML); a ``pretrain:`` section is used if present."""
        try:
            text = Path(path).read_text()
            # JSON through json: YAML 1.1 reads JSON's 1e-05 (no dot) as a string
            data = (json.loads(text) if str(path).endswith(".json") else yaml.safe_load(text)) or {}
        except (OSError, ValueError, yaml.YAMLError) as err:
            raise InputError(path, f"not a readable config ({err})") from err
        if not isinstance(data, dict):
            raise InputError(path, "a pretrain config is a mapping of settings")
        return cls.from_dict(data.get("pretrain", data), path)

    def to_dict(self) -> dict[str, Any]:
        return json.loads(json.dumps(dataclasses.asdict(self)))
