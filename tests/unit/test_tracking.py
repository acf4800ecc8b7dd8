"""Run records: our own files in every mode, a real offline W&B run read back with W&B's own
reader, one group per workflow invocation, and no API key in anything written."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from marlinflow.errors import InputError
from marlinflow.tracking import (
    ENV_PREFIX,
    REDACTED,
    TrackingSettings,
    lightning_logger,
    plain,
    redact,
    resolve_mode,
    start_pipeline,
    track_run,
)
from marlinflow.video.io import iter_frames, probe

BIN = Path(sys.executable).parent
FAKE_KEY = "f" * 8 + "0123456789abcdef" * 2  # the shape of a W&B API key (40 hex digits)


@pytest.fixture(autouse=True)
def clean_env():
    """Each test starts without the user's W&B or pipeline settings, and leaves none behind
    (start_pipeline exports settings into this process's environment)."""
    saved = dict(os.environ)
    for name in ("WANDB_MODE", "WANDB_API_KEY", "WANDB_DIR", "WANDB_IDENTITY_TOKEN_FILE"):
        os.environ.pop(name, None)
    for name in [n for n in os.environ if n.startswith(ENV_PREFIX)]:
        del os.environ[name]
    yield
    os.environ.clear()
    os.environ.update(saved)


def brightness_step(video: Path, run, chunk: int = 30) -> int:
    """A real step: decode the video, log the mean brightness of each chunk of frames."""
    info = probe(video)
    run.summarize({"frames": info.n_frames, "fps": info.fps})
    means = []
    for index, frame in enumerate(iter_frames(video)):
        means.append(frame.mean())
        if len(means) == chunk:
            run.log(
                {"video/brightness": np.float32(np.mean(means)), "video/frame": index}, step=index
            )
            means = []
    return info.n_frames


def wandb_inspect(run_dir: Path, *options: str) -> str:
    """W&B's own reader of a run's transaction log (`wandb leet inspect`)."""
    (log,) = run_dir.glob("run-*.wandb")  # the run's transaction log, written by W&B's service
    result = subprocess.run(
        [str(BIN / "wandb"), "leet", "inspect", *options, str(log)],
        capture_output=True,
        text=True,
        timeout=120,
    )
    if result.returncode != 0 and "No such command" in result.stderr:
        pytest.skip("this wandb has no `wandb leet inspect` to read runs back")
    assert result.returncode == 0, result.stderr
    return result.stdout


def test_offline_run_is_recorded_by_us_and_by_wandb(tmp_path, carphone, monkeypatch):
    monkeypatch.setenv("WANDB_API_KEY", FAKE_KEY)
    for name in ("WANDB_CACHE_DIR", "WANDB_CONFIG_DIR", "WANDB_DATA_DIR"):  # W&B's own folders
        monkeypatch.setenv(name, str(tmp_path / name.lower()))
    settings = TrackingSettings(mode="offline", dir=str(tmp_path / "wandb"), group="run-test-1")
    config = {"chunk": 30, "video": carphone, "nested": {"api_key": FAKE_KEY, "lr": 1e-3}}
    with track_run("probe_video", config, ["sample", "tiny"], tmp_path / "out", settings) as run:
        n_frames = brightness_step(carphone, run)

    record = json.loads((tmp_path / "out/run.json").read_text())
    assert (record["group"], record["job_type"], record["mode"]) == (
        "run-test-1",
        "probe_video",
        "offline",
    )
    assert record["status"] == "finished" and record["tags"] == ["sample", "tiny"]
    assert record["config"] == {
        "chunk": 30,
        "video": str(carphone),
        "nested": {"api_key": REDACTED, "lr": 1e-3},
    }
    assert record["summary"]["frames"] == n_frames
    lines = [json.loads(line) for line in (tmp_path / "out/metrics.jsonl").read_text().splitlines()]
    assert len(lines) == n_frames // 30 and [line["step"] for line in lines][:2] == [29, 59]
    assert all(0 < line["video/brightness"] < 255 for line in lines)

    run_dir = Path(record["wandb"]["dir"])  # W&B's run folder, under the configured folder
    assert run_dir.parent == tmp_path / "wandb" / "wandb" and run_dir.is_dir()
    summary = json.loads(wandb_inspect(run_dir, "--summary", "--json"))
    assert summary["state"] == "finished" and summary["tags"] == ["sample", "tiny"]
    assert summary["config"]["chunk"] == 30 and summary["config"]["nested"]["api_key"] == REDACTED
    assert summary["summary"]["video/brightness"] == pytest.approx(lines[-1]["video/brightness"])
    records = [json.loads(line) for line in wandb_inspect(run_dir, "--json").splitlines()]
    header = next(r["run"] for r in records if r.get("type") == "run")
    assert (header["run_group"], header["job_type"]) == ("run-test-1", "probe_video")
    history = [r["history"]["item"] for r in records if r.get("type") == "history"]
    assert [h["_step"] for h in history] == [line["step"] for line in lines]
    assert {"video/brightness", "video/frame"} <= set(history[0])

    written = [p for p in tmp_path.rglob("*") if p.is_file()]
    assert len(written) > 3
    leaks = [p for p in written if FAKE_KEY.encode() in p.read_bytes()]
    assert not leaks, f"API key written to {leaks}"


def test_disabled_mode_still_writes_our_record(tmp_path):
    settings = TrackingSettings(mode="disabled", dir=str(tmp_path / "wandb"))
    with track_run("summarize_downloads", {"n": 3}, ["sample"], tmp_path, settings) as run:
        run.log({"usable": 3})
        run.log({"usable": 4})
    record = json.loads((tmp_path / "run.json").read_text())
    assert record["mode"] == "disabled" and record["wandb"] is None
    assert record["group"].startswith("summarize_downloads-")  # a run by hand: a group of its own
    assert record["logged_keys"] == ["usable"]
    steps = [
        json.loads(line)["step"] for line in (tmp_path / "metrics.jsonl").read_text().splitlines()
    ]
    assert steps == [0, 1]
    assert not (tmp_path / "wandb").exists()


def test_a_failing_step_is_recorded_as_failed(tmp_path):
    settings = TrackingSettings(mode="disabled")
    with pytest.raises(ZeroDivisionError), track_run("pretrain", {}, [], tmp_path, settings) as run:
        run.log({"loss": 1.0}, step=5)
        _ = 1 / 0
    record = json.loads((tmp_path / "run.json").read_text())
    assert record["status"] == "failed"
    assert json.loads((tmp_path / "metrics.jsonl").read_text()) == {"step": 5, "loss": 1.0}


def test_other_ranks_of_a_distributed_run_record_nothing(tmp_path, monkeypatch):
    monkeypatch.setenv("LOCAL_RANK", "1")
    settings = TrackingSettings(mode="offline", dir=str(tmp_path / "wandb"))
    with track_run("pretrain", {}, [], tmp_path / "out", settings) as run:
        run.log({"loss": 1.0})
    assert run.mode == "disabled" and run.wandb_run is None
    assert not list(tmp_path.iterdir())


def test_lightning_training_is_recorded(tmp_path):
    """What a real Lightning loop logs (self.log, hyperparameters) reaches our record."""
    pl = pytest.importorskip("pytorch_lightning")
    torch = pytest.importorskip("torch")

    class Regression(pl.LightningModule):
        def __init__(self, lr: float = 0.1):
            super().__init__()
            self.save_hyperparameters()
            self.layer = torch.nn.Linear(3, 1)

        def training_step(self, batch, batch_idx):
            x, y = batch
            loss = torch.nn.functional.mse_loss(self.layer(x), y)
            self.log("train/loss", loss)
            return loss

        def configure_optimizers(self):
            return torch.optim.SGD(self.parameters(), lr=self.hparams.lr)

    torch.manual_seed(0)
    x = torch.randn(32, 3)
    data = torch.utils.data.DataLoader(
        list(zip(x, x.sum(1, keepdim=True), strict=True)), batch_size=4
    )
    settings = TrackingSettings(mode="disabled", group="g")
    with track_run("pretrain", {"steps": 6}, ["tiny"], tmp_path, settings) as run:
        trainer = pl.Trainer(
            max_steps=6,
            logger=lightning_logger(run),
            log_every_n_steps=1,
            enable_checkpointing=False,
            enable_progress_bar=False,
            enable_model_summary=False,
            accelerator="cpu",
        )
        trainer.fit(Regression(), data)
    record = json.loads((tmp_path / "run.json").read_text())
    assert record["config"] == {"steps": 6, "lr": 0.1}
    assert "train/loss" in record["logged_keys"]
    rows = [json.loads(line) for line in (tmp_path / "metrics.jsonl").read_text().splitlines()]
    losses = [row["train/loss"] for row in rows if "train/loss" in row]
    assert len(losses) == 6 and losses[-1] < losses[0]


def test_mode_resolution(tmp_path):
    netrc_file = tmp_path / "netrc"
    netrc_file.write_text("machine api.wandb.ai\n  login user\n  password " + FAKE_KEY + "\n")
    no_login = {"NETRC": str(tmp_path / "absent")}
    assert resolve_mode("auto", no_login) == "offline"
    assert resolve_mode("auto", {**no_login, "WANDB_API_KEY": FAKE_KEY}) == "online"
    assert resolve_mode("auto", {"NETRC": str(netrc_file)}) == "online"
    assert resolve_mode("disabled", {"NETRC": str(netrc_file)}) == "disabled"
    assert resolve_mode("online", {"WANDB_MODE": "dryrun"}) == "offline"  # the user's override


def test_settings_are_validated():
    assert TrackingSettings.from_dict({"mode": "offline"}).mode == "offline"
    with pytest.raises(InputError, match="unknown tracking settings"):
        TrackingSettings.from_dict({"modes": "offline"})
    with pytest.raises(InputError, match="not one of"):
        TrackingSettings.from_dict({"mode": "sometimes"})


def test_start_pipeline_exports_one_group(monkeypatch):
    monkeypatch.setenv("WANDB_SERVICE", "2-1234-tcp-localhost-5678")  # left by a caller's run
    settings = start_pipeline({"mode": "offline", "dir": "logs/wb"}, "sample")
    assert "WANDB_SERVICE" not in os.environ  # the jobs start their own W&B service
    assert settings.group.startswith("sample-")
    inherited = TrackingSettings.from_env()
    assert (inherited.group, inherited.mode, inherited.dir) == (
        settings.group,
        "offline",
        "logs/wb",
    )
    # A job re-reading the workflow (a cluster job) keeps its submitter's group.
    assert start_pipeline({}, "sample").group == settings.group


def test_plain_and_redact():
    torch = pytest.importorskip("torch")
    values = {
        "a": torch.tensor(2.5),
        "b": np.int64(3),
        "c": float("nan"),
        "d": object(),
        "e": (1, 2),
    }
    assert plain(values) == {"a": 2.5, "b": 3, "c": "nan", "d": "<object>", "e": [1, 2]}
    config = {"token": "abc", "url": f"https://x/?k={FAKE_KEY}", "list": [{"password": 1}], "n": 2}
    assert redact(config, FAKE_KEY) == {
        "token": REDACTED,
        "url": f"https://x/?k={REDACTED}",
        "list": [{"password": REDACTED}],
        "n": 2,
    }


SNAKEFILE = """\
from marlinflow.tracking import start_pipeline

TRACKING = start_pipeline(config.get("tracking"), "demo")


rule all:
    input:
        "a/run.json",
        "b/run.json",


rule step:
    output:
        "{name}/run.json",
    shell:
        "python job.py {wildcards.name}"
"""
JOB = """\
import sys

from marlinflow.tracking import track_run

with track_run(sys.argv[1], out_dir=sys.argv[1]) as run:
    run.log({"done": 1})
"""


def test_one_group_per_snakemake_invocation(tmp_path):
    """The group reaches every job of one invocation through the environment; the next
    invocation gets a new one."""
    (tmp_path / "Snakefile").write_text(SNAKEFILE)
    (tmp_path / "job.py").write_text(JOB)
    command = [
        str(BIN / "snakemake"),
        "--cores",
        "2",
        "--forceall",
        "--config",
        "tracking={mode: disabled}",
    ]
    env = {"PATH": f"{BIN}:/usr/bin:/bin", "HOME": str(tmp_path)}
    groups = []
    for _ in range(2):
        done = subprocess.run(
            command, cwd=tmp_path, env=env, capture_output=True, text=True, timeout=120
        )
        assert done.returncode == 0, done.stderr
        runs = [json.loads((tmp_path / name / "run.json").read_text()) for name in "ab"]
        assert runs[0]["group"] == runs[1]["group"] and runs[0]["group"].startswith("demo-")
        assert [r["job_type"] for r in runs] == ["a", "b"]
        groups.append(runs[0]["group"])
    assert groups[0] != groups[1]
