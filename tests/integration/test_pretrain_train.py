"""Pretraining runs of a tiny model on synthetic face clips: it learns, it resumes exactly, and
``marlinflow pretrain`` writes its outputs and its tracked run."""

from __future__ import annotations

import csv
import json
import logging
import re
import subprocess
import sys
from pathlib import Path

import pytest
import pytorch_lightning as pl
import torch
import yaml

from marlinflow.cli import main
from marlinflow.models import MarlinModel, get_size
from marlinflow.pretrain.config import PretrainConfig
from marlinflow.pretrain.train import pretrain
from marlinflow.tracking import ENV_PREFIX
from marlinflow.weights.checkpoints import read_encoder_info
from tests.synthetic import write_clip
from tests.training_runs import assert_same_training, train_rows


@pytest.fixture(autouse=True)
def tracking_env(tmp_path, monkeypatch):
    """Runs tracked in this test's folder: no W&B unless a test turns it on, no user settings."""
    for name in ("WANDB_MODE", "WANDB_API_KEY", "WANDB_DIR"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv(ENV_PREFIX + "MODE", "disabled")
    monkeypatch.setenv(ENV_PREFIX + "DIR", str(tmp_path / "wandb"))
    for name in ("WANDB_CACHE_DIR", "WANDB_CONFIG_DIR", "WANDB_DATA_DIR"):  # W&B's own folders
        monkeypatch.setenv(name, str(tmp_path / name.lower()))


@pytest.fixture(scope="module")
def parsed(tmp_path_factory):
    root = tmp_path_factory.mktemp("parsed")
    write_clip(root, "a", n_frames=30)
    write_clip(root, "b", n_frames=24, no_face=(3, 4, 5))
    return root / "parsing"


def test_tiny_model_overfits_one_clip(tmp_path):
    # A video of exactly one clip's span (8 frames at stride 2), so every sample is that clip.
    write_clip(tmp_path / "data", "one", n_frames=15)
    config = PretrainConfig(
        model="tiny",
        index=[str(tmp_path / "data/parsing")],
        run_dir=str(tmp_path / "run"),
        batch_size=2,
        epochs=2,
        clips_per_epoch=40,
        val_fraction=0,
        workers=0,
        warmup_epochs=0.2,
        base_lr=0.128,
        min_lr=0.0128,
    )  # lr 1e-3 at batch 2
    pretrain(config)
    losses = [row["train/loss_rec"] for row in train_rows(tmp_path / "run/metrics.csv")]
    assert len(losses) == 40
    (row,) = corpus_rows(tmp_path / "run")  # no validation set: the one video trains only
    assert (row["dataset"], row["id"], row["role"]) == ("data", "one", "train")
    assert sum(losses[-5:]) / 5 < 0.5 * sum(losses[:3]) / 3


def test_the_log_has_one_line_per_epoch_and_no_weights_only_notice(parsed, tmp_path, caplog):
    config = PretrainConfig(
        model="tiny",
        index=[str(parsed)],
        run_dir=str(tmp_path / "run"),
        batch_size=2,
        epochs=2,
        clips_per_epoch=4,
        workers=0,
        warmup_epochs=1,
        val_fraction=0.5,
    )
    with caplog.at_level(logging.INFO):  # every logger: ours, Lightning's, torch's
        pretrain(config)
    epoch_line = re.compile(
        r"epoch (\d)/2: loss_rec \d+\.\d{4}, val_loss_rec \d+\.\d{4}, lr [\d.e-]+, "
        r"[\d.]+ clips/s \(loader [\d.]+, model [\d.]+ clips/s, waiting for data \d+%\), "
        r"ETA \d+:\d\d:\d\d$"
    )
    lines = [
        r.getMessage()
        for r in caplog.records
        if r.name == "marlinflow.pretrain.progress" and r.levelno == logging.INFO
    ]
    assert [epoch_line.match(line).group(1) for line in lines] == ["1", "2"], lines
    assert lines[-1].endswith("ETA 0:00:00")
    assert not [r for r in caplog.records if "weights_only" in r.getMessage()]


class CrashAtEpoch(pl.Callback):
    """Dies as a killed job would, after the previous epoch's last.ckpt was written."""

    def __init__(self, epoch: int):
        self.epoch = epoch

    def on_train_epoch_start(self, trainer, pl_module):
        if trainer.current_epoch == self.epoch:
            raise RuntimeError("simulated crash")


def test_resume_gives_the_same_losses(parsed, tmp_path):
    def config(run: str) -> PretrainConfig:
        return PretrainConfig(
            model="tiny",
            index=[str(parsed)],
            run_dir=str(tmp_path / run),
            batch_size=2,
            epochs=3,
            clips_per_epoch=6,
            workers=0,
            warmup_epochs=1,
            base_lr=0.1,
            val_fraction=0.5,
        )

    pretrain(config("straight"))
    with pytest.raises(RuntimeError, match="simulated crash"):
        pretrain(config("crashed"), callbacks=[CrashAtEpoch(2)])
    assert (tmp_path / "crashed/last.ckpt").is_file()
    assert corpus_rows(tmp_path / "crashed") == corpus_rows(tmp_path / "straight")  # from the start
    assert len(train_rows(tmp_path / "crashed/metrics.csv")) == 6  # two epochs of three
    pretrain(config("crashed"))  # finds last.ckpt and continues with epoch 2
    assert_same_training(tmp_path / "straight", tmp_path / "crashed", steps=9)


def corpus_rows(run_dir: Path) -> list[dict]:
    with open(run_dir / "corpus.tsv", newline="") as f:
        return list(csv.DictReader(f, delimiter="\t"))


def wandb_history(run_dir: Path) -> list[dict]:
    """The history rows of a W&B run, read back with W&B's own reader of its transaction log."""
    done = subprocess.run(
        [str(Path(sys.executable).parent / "wandb"), "leet", "inspect", "--json", str(run_dir)],
        capture_output=True,
        text=True,
        timeout=120,
    )
    if done.returncode != 0 and "No such command" in done.stderr:
        pytest.skip("this wandb has no `wandb leet inspect` to read runs back")
    records = [json.loads(line) for line in done.stdout.splitlines()]
    return [r["history"]["item"] for r in records if r.get("type") == "history"]


def test_pretrain_verb_end_to_end(parsed, tmp_path, monkeypatch):
    monkeypatch.setenv(ENV_PREFIX + "MODE", "offline")
    monkeypatch.setenv(ENV_PREFIX + "GROUP", "run-pretrain-test")
    settings = {
        "model": "tiny",
        "index": [str(parsed)],
        "batch_size": 2,
        "epochs": 2,
        "clips_per_epoch": 4,
        "workers": 0,
        "warmup_epochs": 1,
    }
    (tmp_path / "pretrain.yaml").write_text(yaml.safe_dump({"pretrain": settings}))
    run_dir = tmp_path / "run"
    argv = [
        "pretrain",
        str(tmp_path / "pretrain.yaml"),
        "--run-dir",
        str(run_dir),
        "--set",
        "mask_strategy=tube",
        "--set",
        "adv_weight=0",
        "--set",
        "repeated_sampling=2",  # not the official sampling: the run's tags say so
    ]
    assert main(argv) == 0
    for name in ("last.ckpt", "encoder.pt", "metrics.csv", "metrics.json", "config.json"):
        assert (run_dir / name).is_file(), name
    assert sorted(p.name for p in (run_dir / "reconstructions").glob("*.png")) == [
        "epoch_0000.png",
        "epoch_0001.png",
    ]
    record = json.loads((run_dir / "run.json").read_text())
    assert (record["job_type"], record["group"], record["tags"]) == (
        "pretrain",
        "run-pretrain-test",
        ["tiny", "repeated_sampling_2"],
    )
    assert record["config"]["repeated_sampling"] == 2
    assert record["status"] == "finished" and record["mode"] == "offline"
    assert record["config"]["mask_strategy"] == "tube" and record["summary"]["iterations"] == 4
    logged = [json.loads(line) for line in (run_dir / "metrics.jsonl").read_text().splitlines()]
    assert sum("train/loss_rec" in line for line in logged) == 4
    wandb_dir = Path(record["wandb"]["dir"])
    assert wandb_dir.parent == tmp_path / "wandb" / "wandb"
    history = wandb_history(wandb_dir)
    assert sum("train/loss_rec" in row for row in history) == 4
    # One grid per validation, at the step of the epoch's last iteration.
    grids = [row["_step"] for row in history if "val/reconstruction._type" in row]
    assert grids == [1, 3]
    summary = json.loads((run_dir / "metrics.json").read_text())
    assert summary["iterations"] == 4 and summary["epochs"] == 2
    assert summary["final_val"]["val/loss_rec"] > 0
    assert summary["precision"] == "32" and summary["start"] == {"from": "scratch"}  # official
    assert json.loads((run_dir / "config.json").read_text())["mask_strategy"] == "tube"
    # encoder.pt holds the released layout's state dict: an encoder-only model loads it strictly.
    encoder_only = MarlinModel(get_size("tiny"), with_decoder=False)
    saved = torch.load(run_dir / "encoder.pt", weights_only=True)
    encoder_only.load_state_dict(saved["state_dict"])
    # ...with where it came from: the settings and the corpus, listed in corpus.tsv.
    provenance = read_encoder_info(run_dir / "encoder.pt")["provenance"]
    assert provenance["kind"] == "pretrain" and provenance["settings"]["mask_strategy"] == "tube"
    assert "index" not in provenance["settings"]
    corpus = {
        "videos": 1,
        "val_videos": 1,
        "records": 2,
        "list": "corpus.tsv",
        "datasets": {parsed.parent.name: 2},
    }
    assert provenance["corpus"] == corpus
    rows = corpus_rows(run_dir)
    assert {row["role"]: row["id"] for row in rows} in (
        {"train": "a", "val": "b"},
        {"train": "b", "val": "a"},
    )
    for row in rows:
        assert row["dataset"] == parsed.parent.name
        assert row["record"] == str(parsed / f"{row['id']}.status.json")
    # Running the finished run again resumes, finds nothing left to do, and succeeds.
    assert main(argv) == 0
    assert json.loads((run_dir / "metrics.json").read_text())["iterations"] == 4


def test_pretrain_verb_bad_config(tmp_path, capsys):
    (tmp_path / "bad.yaml").write_text("batch_sise: 4\n")
    assert main(["pretrain", str(tmp_path / "bad.yaml")]) == 2
    error = capsys.readouterr().err
    assert error.startswith(
        f"marlinflow pretrain: error: {tmp_path / 'bad.yaml'}: unknown pretrain"
    )
    assert "batch_sise" in error
