"""Fine-tuning a tiny encoder end to end on real (synthetic, encoded) face clip files."""

from __future__ import annotations

import dataclasses
import json

import numpy as np
import pandas as pd
import pytest
import torch

from marlinflow.cli import main
from marlinflow.downstream.encoders import load_encoder
from marlinflow.downstream.finetune import (
    ClipClassifier,
    FaceClips,
    FinetuneConfig,
    FinetuneSettings,
    run_finetune,
)
from marlinflow.downstream.tasks import Task
from marlinflow.downstream.usable import UsableClips
from marlinflow.features import Marlin
from marlinflow.models import get_size
from marlinflow.video.writer import write_video

SPLITS = ["train", "train", "train", "val", "test", "test"]


@pytest.fixture(scope="module")
def bright_dark(tmp_path_factory) -> tuple[Task, object]:
    """24 noisy 64x64 clips of 6-30 frames: label 1 is bright, label 0 dark."""
    folder = tmp_path_factory.mktemp("faces")
    rng = np.random.default_rng(0)
    rows = []
    for i in range(24):
        label, n_frames = i % 2, int(rng.integers(6, 30))
        level = 170 if label else 80
        frames = [
            np.clip(level + rng.normal(0, 25, (64, 64, 3)), 0, 255).astype(np.uint8)
            for _ in range(n_frames)
        ]
        write_video(folder / f"c{i:02d}.mp4", frames, fps=25)
        rows.append({"id": f"c{i:02d}", "split": SPLITS[(i // 2) % 6], "label": label})
    rows.append({"id": "missing", "split": "train", "label": 1})
    (folder / "broken.mp4").write_bytes(b"not a video")
    rows.append({"id": "broken", "split": "test", "label": 0})
    return Task("bright", "binary", [], pd.DataFrame(rows)), folder


def quick(seed: int = 0) -> FinetuneConfig:
    settings = FinetuneSettings(
        lr=1e-3, batch_size=4, max_epochs=3, sample_rate=1, test_clips=2, bootstrap=50
    )
    return FinetuneConfig.from_settings(settings, seed, "cpu", threads=1)


def test_finetuning_changes_the_encoder_and_beats_chance(bright_dark):
    task, folder = bright_dark
    encoder, name = load_encoder("random:tiny", seed=0)
    trained = [p for p in encoder.parameters() if p.requires_grad]  # not the fixed sinusoids
    before = [p.detach().clone() for p in trained]
    result = run_finetune(task, folder, encoder, quick(), name)
    changed = [not torch.equal(a, b) for a, b in zip(before, trained, strict=True)]
    assert len(changed) > 10 and all(changed)  # every trainable tensor moved, none frozen
    assert result.metrics["auc"]["value"] > 0.9 and result.metrics["acc"]["value"] > 0.75
    assert result.counts == {"n_train": 12, "n_val": 4, "n_test": 8}
    reasons = {item["id"]: item["reason"] for item in result.skipped}
    assert "missing: not usable" in reasons["missing"] and "broken.mp4" in reasons["broken"]
    assert result.model == "random-tiny" and result.protocol == "finetune"


def test_finetuning_is_deterministic_per_seed_whatever_the_workers(bright_dark):
    task, folder = bright_dark
    first = run_finetune(task, folder, load_encoder("random:tiny")[0], quick(seed=3))
    in_workers = dataclasses.replace(quick(seed=3), workers=2)
    again = run_finetune(task, folder, load_encoder("random:tiny")[0], in_workers)
    assert np.allclose(first.predictions["score_label"], again.predictions["score_label"])
    other = run_finetune(task, folder, load_encoder("random:tiny")[0], quick(seed=4))
    assert not np.allclose(first.predictions["score_label"], other.predictions["score_label"])


def test_clips_of_a_short_video_are_padded_and_spread(bright_dark):
    _, folder = bright_dark
    encoder = load_encoder("random:tiny")[0]
    clips = FaceClips(UsableClips.read(folder), encoder, sample_rate=2)
    clips.add("c01")
    n_frames = clips.n_frames["c01"]
    spread = clips.spread_clips("c01", 3)
    assert spread.shape[1:] == (3, 8, 64, 64) and 1 <= len(spread) <= 3
    assert clips.window("c01", 0).max() <= n_frames - 1  # repeats the last frame, never past it
    one = clips.random_clip("c01", np.random.default_rng(0))
    assert one.shape == (3, 8, 64, 64) and 0.5 < float(one.mean()) < 0.8  # bright clip


def test_finetune_verb_with_weights_file_and_random_baseline(bright_dark, tmp_path):
    task, folder = bright_dark
    task.save(tmp_path / "bright.tsv")
    weights = Marlin(get_size("tiny"), with_decoder=False).save(tmp_path / "tiny.encoder.pt")
    argv = [
        "finetune",
        str(tmp_path / "bright.tsv"),
        "--faces",
        str(folder),
        "--encoder",
        str(weights),
        "--out",
        str(tmp_path / "out"),
        "--baseline",
        "--max-epochs",
        "1",
        "--lr",
        "1e-3",
        "--sample-rate",
        "1",
        "--test-clips",
        "1",
        "--bootstrap",
        "20",
        "--threads",
        "1",
    ]
    assert main(argv) == 0
    ours = json.loads((tmp_path / "out" / "metrics.json").read_text())
    baseline = json.loads((tmp_path / "out" / "baseline" / "metrics.json").read_text())
    assert ours["model"] == "tiny.encoder" and baseline["model"] == "random-tiny"
    assert ours["runs"][0]["counts"]["n_test"] == 8
    assert (tmp_path / "out" / "predictions.csv").is_file()


def test_precision_of_the_forward_pass():
    """32: the plain float32 forward, bit for bit; bf16-mixed: float32 logits within bf16
    rounding of it; 16-mixed on a CPU runs as bf16-mixed, and the config records that."""
    encoder = load_encoder("random:tiny")[0]
    torch.manual_seed(0)
    full = ClipClassifier(encoder, 3)
    half = ClipClassifier(encoder, 3, "bf16-mixed")
    half.head.load_state_dict(full.head.state_dict())
    clips = torch.rand(2, 3, 8, 64, 64)
    with torch.no_grad():
        expected, logits = full(clips), half(clips)
        plain = full.head(encoder.extract_features(clips, keep_seq=False))
    assert torch.equal(expected, plain)
    assert logits.dtype == torch.float32 and not torch.equal(logits, expected)
    assert torch.allclose(logits, expected, rtol=0.02, atol=0.02)
    settings = FinetuneSettings(precision="16-mixed")
    with pytest.warns(UserWarning, match="16-mixed is not supported on cpu"):
        cfg = FinetuneConfig.from_settings(settings, 0, "cpu")
    assert cfg.precision == "bf16-mixed"
    assert FinetuneConfig.from_settings(FinetuneSettings(), 0, "cpu").precision == "32"


def test_finetuning_in_bf16_records_its_precision(bright_dark):
    task, folder = bright_dark
    cfg = dataclasses.replace(quick(), precision="bf16-mixed")
    result = run_finetune(task, folder, load_encoder("random:tiny")[0], cfg)
    assert result.config["precision"] == "bf16-mixed"
    assert np.isfinite(result.metrics["auc"]["value"])


@pytest.mark.gpu
def test_finetuning_on_cuda_in_mixed_precision(bright_dark):
    task, folder = bright_dark
    for precision in ("bf16-mixed", "16-mixed"):  # fp16 with its loss scaler
        cfg = dataclasses.replace(quick(), device="cuda", precision=precision)
        encoder = load_encoder("random:tiny")[0].to("cuda")
        result = run_finetune(task, folder, encoder, cfg)
        assert result.metrics["auc"]["value"] > 0.9, precision
