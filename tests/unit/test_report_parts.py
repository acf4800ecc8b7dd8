"""Pieces of the local report: the PCA embedding, the paper's numbers, table cells, mask overlays."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from marlinflow.models import resolve_size
from marlinflow.report.embedding import pca_2d, separation
from marlinflow.report.masks import clip_frames, masked_frame
from marlinflow.report.paper import closest_number, paper_numbers
from marlinflow.report.tables import format_value, results_table


def clustered(n_per_class: int, n_classes: int, dim: int, spread: float, seed: int = 0):
    """Classes around random centres far apart in a high-dimensional space, plus noise."""
    rng = np.random.default_rng(seed)
    centres = rng.normal(0, 10, (n_classes, dim))
    features = np.concatenate([c + rng.normal(0, spread, (n_per_class, dim)) for c in centres])
    labels = [f"class{k}" for k in range(n_classes) for _ in range(n_per_class)]
    return features, labels


def test_pca_separates_separable_classes():
    features, labels = clustered(20, 3, 64, spread=1.0)
    points, explained = pca_2d(features)
    assert points.shape == (60, 2)
    assert separation(points, labels) == 1.0
    assert explained[0] >= explained[1] > 0
    assert explained.sum() <= 1.0


def test_pca_of_noise_does_not_separate_random_labels():
    rng = np.random.default_rng(3)
    points, _ = pca_2d(rng.normal(0, 1, (200, 32)))
    labels = list(rng.choice(["a", "b", "c"], 200))
    assert separation(points, labels) < 0.6


def test_pca_axes_are_the_directions_of_largest_variance():
    rng = np.random.default_rng(0)
    features = rng.normal(0, 1, (500, 5)) * np.array([10.0, 5.0, 1.0, 1.0, 1.0])
    points, explained = pca_2d(features)
    assert np.std(points[:, 0]) == pytest.approx(10.0, rel=0.1)
    assert np.std(points[:, 1]) == pytest.approx(5.0, rel=0.1)
    assert explained[0] == pytest.approx(100 / 128, abs=0.05)


def test_pca_of_two_videos_has_one_axis():
    points, explained = pca_2d(np.array([[0.0, 1.0], [2.0, 1.0]]))
    assert np.allclose(points[:, 1], 0) and explained[0] == pytest.approx(1.0)


def test_paper_numbers_match_task_metric_and_protocol():
    assert [n.value for n in paper_numbers("celebv_hq_action", "auc_micro", "finetune")] == [0.9406]
    assert paper_numbers("celebv_hq_action", "auc_micro", "probe") == []  # reported for FT only
    assert paper_numbers("expression", "war", "probe") == []
    assert paper_numbers("celebv_hq_action", "auc_micro", "finetune-frac0.1") == []  # low-label
    assert closest_number("faceforensics_all_c23", "auc", "probe-k10", "large") is None
    ffpp = closest_number("faceforensics_all_c23", "auc", "probe", "large")
    assert (ffpp.value, ffpp.variant) == (0.9377, "ViT-L")
    assert closest_number("cmu_mosei_emotion", "acc_micro", "finetune", "tiny").variant == "ViT-B"


def test_cells_show_spread_over_seeds_or_the_interval():
    assert format_value(0.8123, 0.0101, 3, math.nan, math.nan) == "0.812 ± 0.010"
    assert format_value(0.8123, 0.0, 1, 0.7, 0.9) == "0.812 [0.700, 0.900]"
    assert format_value(math.nan, 0.0, 1, math.nan, math.nan) == "n/a"


def test_results_table_puts_ours_before_the_baseline():
    long = pd.DataFrame([
        {"task": "fake", "task_name": "fake", "protocol": "probe", "encoder": e, "metric": "auc", "mean": m, "std": 0.0,
         "n": 1, "low": math.nan, "high": math.nan}
        for e, m in (("random-small", 0.5), ("small", 0.9))
    ])  # fmt: skip
    table = results_table(long)
    assert list(table.columns) == ["task", "protocol", "metric", "small", "random-small", "paper"]
    assert table.iloc[0]["small"] == "0.900" and table.iloc[0]["paper"] == ""


def test_masked_frame_greys_exactly_the_hidden_cells():
    frame = np.full((64, 64, 3), 200, np.uint8)
    cells = np.zeros((8, 8), bool)
    cells[2, 3] = True
    out = masked_frame(frame, cells)
    assert (out[16:24, 24:32] == 200).all()
    assert (out == 200).all(axis=-1).sum() == 64  # one 8x8 patch visible
    assert (out[:16] == 128).all()


def test_clip_frames_take_the_middle_and_repeat_the_end_of_short_videos():
    size = resolve_size("tiny")  # 8 frames
    assert list(clip_frames(100, size, 2)) == list(range(42, 58, 2))
    assert list(clip_frames(5, size, 2)) == [0, 2, 4, 4, 4, 4, 4, 4]


def test_paper_numbers_are_found_by_the_task_table_s_own_name():
    long = pd.DataFrame([
        {"task": "deepfakes", "task_name": "faceforensics_all_c23", "protocol": "probe",
         "encoder": "base", "metric": "auc", "mean": 0.9, "std": 0.0, "n": 1, "low": math.nan,
         "high": math.nan}
    ])  # fmt: skip
    assert results_table(long).iloc[0]["paper"] == "0.9305 (ViT-B)"
