"""The learning-rate schedules: linear scaling, warmup, cosine, and the official staircase."""

from __future__ import annotations

import math

import pytest

from marlinflow.pretrain.schedule import LrSchedule, cosine_lr, official_epoch_lr, scaled_lr


def test_linear_scaling_rule():
    assert scaled_lr(1.5e-4, 64) == pytest.approx(3.75e-5)  # the README's 4 GPUs × 16
    assert scaled_lr(1e-5, 64) == pytest.approx(2.5e-6)


def test_cosine_warmup_then_decay():
    peak, floor, total, warmup = 1.0, 0.1, 100, 10
    lrs = [cosine_lr(i, total, warmup, peak, floor) for i in range(total)]
    assert lrs[0] == pytest.approx(0.1) and lrs[0] > 0  # the first step already learns
    assert lrs[9] == pytest.approx(peak)
    assert all(b > a for a, b in zip(lrs[:9], lrs[1:10], strict=True))  # rising during warmup
    assert all(b <= a for a, b in zip(lrs[10:], lrs[11:], strict=False))  # then falling
    assert lrs[55] == pytest.approx(floor + 0.5 * (peak - floor))  # half-way down the cosine
    assert cosine_lr(total, total, warmup, peak, floor) == pytest.approx(floor)
    assert cosine_lr(10 * total, total, warmup, peak, floor) == pytest.approx(floor)


def test_per_iteration_schedule_steps_within_an_epoch():
    schedule = LrSchedule(1.0, 0.0, warmup_epochs=2, epochs=10, iters_per_epoch=5, total_iters=50)
    assert schedule.lr(0, 0) < schedule.lr(0, 1) < schedule.lr(1, 4) == pytest.approx(1.0)
    assert schedule.lr(5, 2) == pytest.approx(cosine_lr(27, 50, 10, 1.0, 0.0))


def test_official_table_values():
    # 40 warmup epochs of 163 iterations: factor 1/(40 - 1/163) at epoch 1, 1.0 at epoch 40.
    lr = [official_epoch_lr(e, 2000, 163, 40, 1.0, 1e-5 / 1.5e-4) for e in range(2000)]
    assert lr[0] == 0.0
    assert lr[1] == pytest.approx(163 / (40 * 163 - 1))
    assert lr[1] == pytest.approx(0.025, rel=1e-3)
    assert lr[40] == pytest.approx(1.0)
    assert lr[-1] == pytest.approx(1e-5 / 1.5e-4, rel=1e-3)  # ends near min / lr ≈ 0.0667


def test_staircase_off_by_one():
    schedule = LrSchedule(
        1.0,
        0.0,
        warmup_epochs=40,
        epochs=2000,
        iters_per_epoch=163,
        total_iters=2000 * 163,
        kind="staircase",
    )
    assert schedule.lr(0, 0) == schedule.lr(0, 100) == 0.0  # all of epoch 0 at lr 0
    assert schedule.lr(1, 0) == 0.0  # and the first batch of epoch 1
    assert schedule.lr(1, 1) == schedule.lr(1, 162) == pytest.approx(0.025, rel=1e-3)
    assert schedule.lr(2, 0) == schedule.lr(1, 1)  # batch 0 lags one epoch behind
    assert schedule.lr(41, 0) == pytest.approx(1.0)
    assert not math.isclose(schedule.lr(41, 1), schedule.lr(41, 0))


def test_unknown_schedule():
    with pytest.raises(ValueError, match="unknown lr schedule"):
        LrSchedule(1.0, 0.0, 1, 1, 1, 1, kind="step")
