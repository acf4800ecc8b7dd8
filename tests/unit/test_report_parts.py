"""Pieces of the local report: the PCA embedding, the paper's numbers, table cells, mask overlays."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from marlinflow.downstream.tasks import Task
from marlinflow.models import resolve_size
from marlinflow.report.chance import chance_metrics
from marlinflow.report.embedding import pca_2d, separation
from marlinflow.report.masks import clip_frames, masked_frame
from marlinflow.report.paper import closest_number, paper_numbers
from marlinflow.report.parts_experiment import overlap_statement
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


def test_cells_show_the_interval_and_the_spread_over_seeds():
    assert format_value(0.8123, 0.0101, 3, 0.7, 0.9) == "0.812 [0.700, 0.900] (± 0.010)"
    assert format_value(0.8123, 0.0, 1, 0.7, 0.9) == "0.812 [0.700, 0.900]"
    assert format_value(0.8123, 0.0101, 3, math.nan, math.nan) == "0.812 (± 0.010)"
    assert format_value(math.nan, 0.0, 1, math.nan, math.nan) == "n/a"


def long_rows(rows: list[tuple[str, str, str, float]], kind: str = "binary") -> pd.DataFrame:
    """Results rows (task, task_name, encoder, metric, mean) of data set ds, protocol probe."""
    return pd.DataFrame(
        [
            {
                "dataset": "ds",
                "task": t,
                "task_name": name,
                "kind": kind,
                "protocol": "probe",
                "encoder": e,
                "metric": metric,
                "mean": m,
                "std": 0.0,
                "n": 1,
                "low": math.nan,
                "high": math.nan,
                "n_train": 10,
            }
            for t, name, e, metric, m in rows
        ]
    )


def test_results_table_is_a_row_per_encoder_and_a_column_per_task_s_main_metric():
    long = long_rows(
        [
            ("fake", "fake", e, metric, m)
            for e, m in (("random-small", 0.5), ("small", 0.9))
            for metric in ("acc", "auc")
        ]
    )
    table = results_table(long, ["small", "random-small"], {("ds", "fake", "auc"): 0.5})
    assert list(table.columns) == ["encoder", "ds / fake / probe: auc"]  # auc leads for binary
    assert table["encoder"].tolist() == ["small", "random-small", "chance"]  # no paper number
    assert table.iloc[0, 1] == "0.900" and table.iloc[2, 1] == "0.500"


def test_chance_without_a_task_table_is_not_available():
    long = long_rows([("fake", "fake", "small", "auc", 0.9)])
    assert results_table(long, ["small"], {}).iloc[-1].tolist() == ["chance", "n/a"]


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
    long = long_rows([("deepfakes", "faceforensics_all_c23", "base", "auc", 0.9)])
    table = results_table(long, ["base"], {}, model="base").set_index("encoder")
    assert table.loc["paper", "ds / deepfakes / probe: auc"] == "0.9305 (ViT-B)"


def test_paper_numbers_are_found_by_data_set_and_task():
    long = long_rows([("appearance", "appearance", "small", "acc_micro", 0.9)], "multilabel")
    table = results_table(long, ["small"], {}, model="small")
    assert "paper" not in set(table["encoder"])  # "appearance" alone is no CelebV-HQ task
    long[["dataset", "protocol"]] = ["celebv_hq", "finetune"]  # the paper fine-tunes here
    table = results_table(long, ["small"], {}, model="small").set_index("encoder")
    assert table.loc["paper"].iloc[0] == "0.9390 (ViT-B, likely)"


def test_overlap_statement_names_the_counts_and_the_checks():
    record = {
        "checked": True,
        "by": ["dataset and id", "source"],
        "evaluation": {"a": {"val": 2, "test": 3}, "b": {"val": 0, "test": 5}},
        "overlap": [],
    }
    assert overlap_statement(record) == (
        "Pretraining saw none of the 10 val/test videos of a (2 val, 3 test), b (0 val, 5 test) "
        "(checked by dataset and id, and by source)."
    )
    assert overlap_statement(record | {"overlap": ["a/v1"]}).startswith("Pretraining saw 1 ")


def test_chance_of_a_constant_predictor_uses_the_metric_functions():
    binary = Task(
        "fake",
        "binary",
        [],
        pd.DataFrame(
            {
                "id": list("abcdefgh"),
                "split": ["train"] * 4 + ["test"] * 4,
                "label": [1, 1, 1, 0, 1, 0, 0, 0],
            }
        ),
    )
    metrics = chance_metrics(binary)
    assert metrics["auc"] == 0.5  # constant scores: every pair a tie
    assert metrics["acc"] == 0.25  # predicts the training majority (1), one test video is 1
    regression = Task(
        "valence",
        "regression",
        [],
        pd.DataFrame(
            {
                "id": list("abcd"),
                "split": ["train", "train", "test", "test"],
                "label": [1.0, 3.0, 2.0, 4.0],
            }
        ),
    )
    assert chance_metrics(regression)["mae"] == pytest.approx(1.0)  # train mean 2
    assert chance_metrics(Task("x", "binary", [], binary.table.assign(split="test"))) == {}
