"""DDP on CPU: two gloo processes with half the batch each train exactly as one process does,
and only the first records the run."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest
import torch
import yaml

from marlinflow.tracking import ENV_PREFIX
from tests.synthetic import write_clip
from tests.training_runs import losses


def run_pretrain(config_path, run_dir, devices: int, batch_size: int, wandb_dir=None) -> str:
    command = [
        sys.executable,
        "-m",
        "marlinflow.pretrain",
        str(config_path),
        "--run-dir",
        str(run_dir),
        "--set",
        f"devices={devices}",
        "--set",
        f"batch_size={batch_size}",
    ]
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONWARNINGS": "ignore"}
    env.pop("WANDB_MODE", None)
    tracking = {"MODE": "offline", "DIR": str(wandb_dir)} if wandb_dir else {"MODE": "disabled"}
    env.update({ENV_PREFIX + name: value for name, value in tracking.items()})
    for name in ("WANDB_CACHE_DIR", "WANDB_CONFIG_DIR", "WANDB_DATA_DIR"):  # W&B's own folders
        env[name] = str(run_dir / name.lower())
    done = subprocess.run(command, capture_output=True, text=True, timeout=600, env=env)
    assert done.returncode == 0, done.stderr[-3000:]
    return done.stderr


@pytest.mark.slow
def test_two_cpu_processes_match_one(tmp_path):
    for name, frames in (("a", 30), ("b", 24), ("c", 18)):
        write_clip(tmp_path / "data", name, n_frames=frames)
    settings = {
        "model": "tiny",
        "index": [str(tmp_path / "data/parsing")],
        "epochs": 2,
        "clips_per_epoch": 8,
        "val_fraction": 0,
        "workers": 0,
        "accelerator": "cpu",
        "strategy": "ddp",
        "warmup_epochs": 1,
        "base_lr": 0.5,
        "seed": 3,
    }
    config = tmp_path / "pretrain.yaml"
    config.write_text(yaml.safe_dump(settings))
    run_pretrain(config, tmp_path / "one", devices=1, batch_size=4)
    log = run_pretrain(
        config,
        tmp_path / "two",
        devices=2,
        batch_size=2,  # same global batch
        wandb_dir=tmp_path / "wandb",
    )
    assert "MEMBER: 2/2" in log  # two processes really took part
    assert len(list((tmp_path / "wandb/wandb").glob("offline-run-*"))) == 1  # rank 0's only
    assert json.loads((tmp_path / "two/run.json").read_text())["status"] == "finished"
    single, ddp = losses(tmp_path / "one"), losses(tmp_path / "two")
    assert len(single) == len(ddp) == 2 * 4  # 8 clips / 4 per step × 2 epochs
    # Step 0 checks the data split; later steps check that gradients are averaged correctly.
    assert single == pytest.approx(ddp, rel=1e-4, abs=1e-6)
    assert single[0] != pytest.approx(single[-2])  # it did train
    a, b = (torch.load(tmp_path / run / "encoder.pt")["state_dict"] for run in ("one", "two"))
    for key in a:
        assert torch.allclose(a[key], b[key], atol=1e-5), key
