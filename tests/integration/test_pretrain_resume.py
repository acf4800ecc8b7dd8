"""A pretraining job killed mid-epoch resumes from its step checkpoint and ends exactly where an
uninterrupted run does: same iterations, same losses, same weights; and a run started from
VideoMAE weights starts from them, but a resumed one does not."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys

import pytest
import torch
import yaml

from marlinflow.errors import InputError
from marlinflow.models import MarlinModel, get_size
from marlinflow.pretrain.config import PretrainConfig
from marlinflow.pretrain.train import pretrain
from marlinflow.tracking import ENV_PREFIX
from marlinflow.weights.videomae import videomae_key
from tests.synthetic import write_clip
from tests.training_runs import assert_same_training, train_rows

# A pretraining process that SIGKILLs itself once N iterations are done, as the OOM killer or a
# node failure would: no handler runs, nothing is flushed.
KILLED_RUN = """
import os, signal, sys
import pytorch_lightning as pl
from marlinflow.pretrain.config import PretrainConfig
from marlinflow.pretrain.train import pretrain

class KillAfter(pl.Callback):
    def on_train_batch_end(self, trainer, module, outputs, batch, batch_idx):
        if module.iterations_done == int(sys.argv[2]):
            os.kill(os.getpid(), signal.SIGKILL)

pretrain(PretrainConfig.load(sys.argv[1]), callbacks=[KillAfter()])
"""


@pytest.fixture(autouse=True)
def no_tracking(monkeypatch):
    monkeypatch.setenv(ENV_PREFIX + "MODE", "disabled")


def settings(tmp_path, run: str, **changes) -> PretrainConfig:
    # 12 clips of 2 per epoch: 6 iterations an epoch, 12 in all, last.ckpt every 2 iterations.
    values = dict(
        model="tiny",
        index=[str(tmp_path / "data/parsing")],
        run_dir=str(tmp_path / run),
        batch_size=2,
        epochs=2,
        clips_per_epoch=12,
        workers=0,
        warmup_epochs=1,
        base_lr=0.1,
        val_fraction=0.5,
        checkpoint_every_steps=2,
    )
    return PretrainConfig(**{**values, **changes})


def run_killed(tmp_path, config: PretrainConfig, after: int) -> None:
    path = tmp_path / "killed.yaml"
    path.write_text(yaml.safe_dump(config.to_dict()))
    env = {**os.environ, "PYTHONWARNINGS": "ignore"}  # same threads, same float sums
    done = subprocess.run(
        [sys.executable, "-c", KILLED_RUN, str(path), str(after)],
        capture_output=True,
        text=True,
        timeout=300,
        env=env,
    )
    assert done.returncode == -signal.SIGKILL, done.stderr[-3000:]


def test_killed_mid_epoch_resumes_at_the_next_batch(tmp_path):
    write_clip(tmp_path / "data", "a", n_frames=30)
    write_clip(tmp_path / "data", "b", n_frames=24)
    pretrain(settings(tmp_path, "straight"))
    run_killed(tmp_path, settings(tmp_path, "killed"), after=9)  # epoch 1, batch 3 done
    checkpoint = torch.load(tmp_path / "killed/last.ckpt", weights_only=False)
    assert checkpoint["global_step"] == 2 * 8  # written after iteration 8: epoch 1, batch 1
    assert len(train_rows(tmp_path / "killed/metrics.csv")) >= 8
    # Workers draw keys as soon as the loader starts: the resumed epoch must be set by then.
    pretrain(settings(tmp_path, "killed", workers=2))
    assert_same_training(tmp_path / "straight", tmp_path / "killed", steps=12)
    finished = torch.load(tmp_path / "killed/last.ckpt", weights_only=False)
    assert finished["global_step"] == checkpoint["global_step"] + 2 * 4


def videomae_layout(model: MarlinModel) -> dict[str, torch.Tensor]:
    """``model``'s weights under VideoMAE's names, without the position tables it never stores."""
    renames = {videomae_key(name): name for name in ("mask_token", "encoder_to_decoder.weight")}
    inverse = {
        "mlp.layers.0.linear.": "mlp.fc1.",
        "mlp.layers.1.linear.": "mlp.fc2.",
        "patch_embedding.projection.": "patch_embed.proj.",
    }
    state = {}
    for key, value in model.state_dict().items():
        if "pos_embedding" in key:
            continue
        name = renames.get(key, key)
        for ours, theirs in inverse.items():
            name = name.replace(ours, theirs)
        assert videomae_key(name) == key  # the layout the loader reads
        state[name] = value.clone()
    return state


def test_videomae_init_applies_only_to_a_fresh_run(tmp_path):
    write_clip(tmp_path / "data", "a", n_frames=20)
    torch.manual_seed(7)
    source = MarlinModel(get_size("tiny"))
    torch.save({"model": videomae_layout(source)}, tmp_path / "videomae.pth")
    # lr 0 throughout: the one step leaves the weights as they were loaded.
    config = settings(
        tmp_path,
        "run",
        init=str(tmp_path / "videomae.pth"),
        steps=1,
        epochs=1,
        base_lr=0.0,
        min_lr=0.0,
        val_fraction=0,
    )
    pretrain(config)
    encoder = torch.load(tmp_path / "run/encoder.pt", weights_only=True)
    for key, value in encoder["state_dict"].items():
        if "pos_embedding" not in key:
            assert torch.equal(value, source.state_dict()[key]), key
    # The run records where it started, in metrics.json, its tracked run and encoder.pt.
    start = json.loads((tmp_path / "run/metrics.json").read_text())["start"]
    assert (start["from"], start["layout"], start["path"]) == (
        "videomae",
        "videomae",
        str((tmp_path / "videomae.pth").resolve()),
    )
    assert sorted(start["missing"]) == ["decoder.pos_embedding.emb", "encoder.pos_embedding.emb"]
    assert json.loads((tmp_path / "run/run.json").read_text())["summary"]["start"] == start
    assert encoder["provenance"]["start"] == start and encoder["provenance"]["precision"] == "32"
    # Resuming never re-initialises: with the init file gone, a longer run continues from its
    # checkpoint without reading it, and the record of the start comes back with the checkpoint.
    (tmp_path / "videomae.pth").unlink()
    pretrain(config.replace(steps=2, epochs=2))
    resumed = json.loads((tmp_path / "run/metrics.json").read_text())
    assert resumed["iterations"] == 2 and resumed["start"] == start


def workflow_rerun(run_dir) -> None:
    """What the workflow does before it runs a job again: remove the job's outputs."""
    for name in ("encoder.pt", "metrics.json"):
        (run_dir / name).unlink()


def short(tmp_path, **changes) -> PretrainConfig:
    return settings(
        tmp_path, "run", **{"epochs": 1, "clips_per_epoch": 4, "val_fraction": 0, **changes}
    )


def test_a_rerun_with_other_settings_starts_afresh_and_keeps_the_finished_run(tmp_path):
    write_clip(tmp_path / "data", "a", n_frames=20)
    run_dir = tmp_path / "run"
    pretrain(short(tmp_path))
    encoder = (run_dir / "encoder.pt").read_bytes()
    workflow_rerun(run_dir)
    pretrain(short(tmp_path, mask_ratio=0.75))
    # Trained from the start: the new settings took effect (not the old checkpoint resumed).
    assert json.loads((run_dir / "metrics.json").read_text())["iterations"] == 2
    assert torch.load(run_dir / "last.ckpt", weights_only=False)["global_step"] == 2 * 2
    assert json.loads((run_dir / "config.json").read_text())["mask_ratio"] == 0.75
    (aside,) = (run_dir / "superseded").iterdir()
    assert (aside / "final" / "encoder.pt").read_bytes() == encoder
    assert json.loads((aside / "config.json").read_text())["mask_ratio"] == 0.9
    assert {"last.ckpt", "metrics.csv", "corpus.tsv"} <= {p.name for p in aside.iterdir()}


def test_a_rerun_with_another_video_starts_afresh(tmp_path):
    write_clip(tmp_path / "data", "a", n_frames=20)
    run_dir = tmp_path / "run"
    pretrain(short(tmp_path))
    write_clip(tmp_path / "data", "b", n_frames=20)  # a row added to the manifest
    workflow_rerun(run_dir)
    pretrain(short(tmp_path))
    assert len((run_dir / "corpus.tsv").read_text().splitlines()) == 1 + 2
    assert len(list((run_dir / "superseded").iterdir())) == 1


def test_a_rerun_of_a_finished_run_restores_its_outputs_without_training(tmp_path):
    write_clip(tmp_path / "data", "a", n_frames=20)
    run_dir = tmp_path / "run"
    pretrain(short(tmp_path))
    encoder, metrics = (run_dir / "encoder.pt").read_bytes(), (run_dir / "metrics.json").read_text()
    checkpoint = (run_dir / "last.ckpt").stat().st_mtime_ns
    workflow_rerun(run_dir)
    pretrain(short(tmp_path, workers=1))  # where it runs is not what it is
    assert (run_dir / "encoder.pt").read_bytes() == encoder
    assert (run_dir / "metrics.json").read_text() == metrics
    assert (run_dir / "last.ckpt").stat().st_mtime_ns == checkpoint
    assert not (run_dir / "superseded").exists()


def test_a_killed_run_leaves_no_declared_output_and_keeps_its_metrics_history(tmp_path):
    write_clip(tmp_path / "data", "a", n_frames=30)
    write_clip(tmp_path / "data", "b", n_frames=24)
    run_killed(tmp_path, settings(tmp_path, "killed"), after=9)
    # The workflow takes an existing output of a killed job for an incomplete result.
    assert not (tmp_path / "killed/encoder.pt").exists()
    assert not (tmp_path / "killed/metrics.json").exists()
    pretrain(settings(tmp_path, "killed"))
    pretrain(settings(tmp_path, "straight"))
    logged = {run: metric_steps(tmp_path / run / "metrics.jsonl") for run in ("killed", "straight")}
    assert logged["killed"] == logged["straight"]  # the first start's steps are still there


def metric_steps(path) -> list[int]:
    return [json.loads(line)["step"] for line in path.read_text().splitlines()]


def test_a_damaged_checkpoint_is_named_with_what_to_do(tmp_path):
    write_clip(tmp_path / "data", "a", n_frames=20)
    run_dir = tmp_path / "run"
    pretrain(short(tmp_path))
    checkpoint = run_dir / "last.ckpt"
    checkpoint.write_bytes(checkpoint.read_bytes()[: checkpoint.stat().st_size // 2])
    with pytest.raises(InputError, match="last.ckpt: a damaged checkpoint .* move it out of"):
        pretrain(short(tmp_path, epochs=2))
