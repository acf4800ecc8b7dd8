import collections

import numpy as np

from marlinflow.manifest import read_manifest
from marlinflow.sample import ATTRIBUTES, MOTIONS, N_FRAMES, SIZE, SampleVideo, render, sample_plan
from marlinflow.video.io import probe


def test_plan_is_balanced_and_reproducible():
    plan = sample_plan(32, seed=0)
    assert plan == sample_plan(32, seed=0) and plan != sample_plan(32, seed=1)
    assert collections.Counter(v.split for v in plan) == {"train": 20, "val": 4, "test": 8}
    assert collections.Counter(v.motion for v in plan) == dict.fromkeys(MOTIONS, 8)
    assert sum(v.fake for v in plan) == 16
    for split in ("train", "val", "test"):  # both classes in every split
        assert {v.fake for v in plan if v.split == split} == {False, True}
    assert {v.face for v in plan} == {"astronaut", "carphone"}


def test_labels_are_visible_in_the_frames():
    still = render(SampleVideo("a", "astronaut", "still", (False,) * 3, False, "train", 0))
    nod = render(SampleVideo("b", "astronaut", "nod", (False,) * 3, False, "train", 0))
    gray = render(SampleVideo("c", "astronaut", "still", (True, False, False), False, "train", 0))
    fake = render(SampleVideo("d", "astronaut", "still", (False,) * 3, True, "train", 0))
    assert len(still) == N_FRAMES and still[0].shape == (SIZE, SIZE, 3)
    assert np.array_equal(still[0], still[5])  # a still photo does not move
    assert not np.array_equal(nod[0], nod[5])  # a nod does
    assert np.ptp(gray[0].astype(int), axis=2).max() == 0  # grey: R = G = B
    changed = np.abs(fake[0].astype(int) - still[0].astype(int)).sum(axis=2) > 30
    ys, xs = np.nonzero(changed)
    assert changed.mean() > 0.02 and abs(xs.mean() - SIZE / 2) < SIZE / 6  # the face, not the edges


def test_build_writes_videos_and_a_valid_manifest(tmp_path):
    from marlinflow import cli

    assert cli.main(["sample", str(tmp_path), "--videos", "6"]) == 0
    manifest = read_manifest(tmp_path / "manifest.tsv")
    assert len(manifest) == 6
    assert set(manifest.columns) >= {"expression", "fake", *(f"attr_{a}" for a in ATTRIBUTES)}
    info = probe(tmp_path / manifest["source"][0])
    assert (info.n_frames, info.width, info.fps) == (N_FRAMES, SIZE, 25)
