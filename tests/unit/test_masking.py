"""Statistics of the token masks: exact counts, where Fasking puts visible tokens, tubes, balance."""

from __future__ import annotations

import numpy as np
import pytest

from marlinflow import masking
from marlinflow.face.store import PART_LABELS
from tests.synthetic import face_label_map

OFFICIAL = (8, 14, 14)  # 16 frames of 224² in 2×16×16 tubelets
TINY = (4, 8, 8)


def face_maps(t: int, side: int = 224) -> tuple[np.ndarray, np.ndarray]:
    labels = np.stack([face_label_map(side, shift=0.02 * k) for k in range(t)])
    return labels, np.ones(t, dtype=bool)


@pytest.mark.parametrize("strategy", masking.STRATEGIES)
@pytest.mark.parametrize("grid", [OFFICIAL, TINY])
@pytest.mark.parametrize("balanced", [False, True])
def test_exact_visible_count(strategy, grid, balanced):
    labels, present = face_maps(grid[0])
    rng = np.random.default_rng(0)
    for ratio in (0.9, 0.75, 0.5):
        mask = masking.make_mask(strategy, grid, ratio, rng, labels, present, balanced)
        assert mask.shape == (int(np.prod(grid)),) and mask.dtype == bool
        assert mask.sum() == masking.visible_count(mask.size, ratio)


def test_official_budget_is_156_of_1568():
    assert masking.visible_count(1568, 0.9) == 156
    assert masking.visible_count(200, 0.9) == 20  # float noise in 1 - 0.9 must not lose one


def test_label_presence_any_pixel_rule():
    labels = np.zeros((224, 224), dtype=np.uint8)
    labels[17, 33] = PART_LABELS["nose"]  # one pixel in patch (1, 2) of the 14×14 grid
    presence = masking.label_presence(labels, (14, 14))
    assert presence.shape == (masking.N_LABELS, 14, 14)
    assert np.argwhere(presence[PART_LABELS["nose"]]).tolist() == [[1, 2]]
    assert presence[0].sum() == 196  # background touches every patch
    # Any map size onto any grid: 224 px onto the tiny model's 8×8 grid (28 px per patch).
    assert np.argwhere(masking.label_presence(labels, (8, 8))[6]).tolist() == [[0, 1]]


@pytest.mark.parametrize(("side", "grid"), [(224, (14, 14)), (100, (14, 14)), (64, (8, 8))])
def test_patches_follow_the_documented_rule(side, grid):
    """Patch (i, j) covers rows floor(i*S/h) .. floor((i+1)*S/h) - 1 (and columns alike), also
    where S is no multiple of h; labels outside FaRL-LaPa's count for nothing."""
    labels = np.random.default_rng(side).integers(0, masking.N_LABELS, (side, side), np.uint8)
    labels[3, 5] = 255
    presence, shares = masking.label_presence(labels, grid), masking.class_shares(labels, grid)
    h, w = grid
    for i in range(h):
        for j in range(w):
            rows = slice(i * side // h, (i + 1) * side // h)
            cols = slice(j * side // w, (j + 1) * side // w)
            patch = labels[rows, cols]
            found = set(np.unique(patch[patch < masking.N_LABELS]).tolist())
            assert set(np.flatnonzero(presence[:, i, j]).tolist()) == found
            known = patch[patch < masking.N_LABELS]
            background = np.isin(known, masking.TOKEN_CLASSES["background"]).mean()
            assert np.isclose(shares[0, i, j], background)


def test_fasking_visible_tokens_touch_background():
    labels, present = face_maps(8)
    touches_bg = np.stack([masking.label_presence(m, (14, 14))[0] for m in labels]).reshape(-1)
    rng = np.random.default_rng(1)
    for _ in range(20):
        mask = masking.fasking(labels, present, OFFICIAL, 0.9, rng)
        assert touches_bg[mask].all()


def part_share(mask: np.ndarray, labels: np.ndarray, grid) -> float:
    """Fraction of visible tokens whose patch touches a facial part (not skin/background)."""
    parts = [v for k, v in PART_LABELS.items() if k not in ("background", "skin")]
    touches = np.stack([masking.label_presence(m, grid[1:])[parts].any(0) for m in labels])
    return touches.reshape(-1)[mask].mean()


def test_fasking_opp_prefers_parts():
    labels, present = face_maps(8)
    rng = np.random.default_rng(2)
    opp = np.mean(
        [
            part_share(masking.fasking_opp(labels, present, OFFICIAL, 0.9, rng), labels, OFFICIAL)
            for _ in range(10)
        ]
    )
    fwd = np.mean(
        [
            part_share(masking.fasking(labels, present, OFFICIAL, 0.9, rng), labels, OFFICIAL)
            for _ in range(10)
        ]
    )
    assert opp > 0.9 and opp > fwd + 0.3


def test_no_face_tubelet_falls_back_to_all_candidates():
    labels, present = face_maps(8)
    present[3] = False
    cands = masking.fasking_candidates(labels, present, OFFICIAL, 0.9, np.random.default_rng())
    assert cands[3].all()  # no face: every patch is a candidate (random masking there)
    assert not cands[2].all() and not cands[4].all()  # face: only background-touching patches


def test_fasking_stops_after_the_label_that_reaches_the_fraction():
    labels = np.full((1, 224, 224), PART_LABELS["skin"], dtype=np.uint8)
    labels[0, :32, :] = PART_LABELS["background"]  # 2 rows of 14 patches = 14% ≥ 10%
    cands = masking.fasking_candidates(
        labels, np.ones(1, bool), (1, 14, 14), 0.9, np.random.default_rng()
    )
    assert cands.sum() == 28 and cands[0, :2].all()


def test_tube_repeats_across_time():
    rng = np.random.default_rng(3)
    for grid in (OFFICIAL, TINY):
        mask = masking.tube(grid, 0.9, rng).reshape(grid)
        cells = mask.any(axis=0)
        assert cells.sum() == np.ceil(grid[1] * grid[2] * 0.1 - 1e-6)  # 20 of 196
        assert mask.sum(axis=(1, 2)).min() >= cells.sum() - 4  # 160 pruned to 156: nearly full


def test_frame_keeps_whole_tubelets():
    mask = masking.frame(OFFICIAL, 0.9, np.random.default_rng(4)).reshape(OFFICIAL)
    assert (mask.sum(axis=(1, 2)) > 0).sum() == 1


def test_balanced_spreads_evenly():
    labels, present = face_maps(8)
    rng = np.random.default_rng(5)
    spread_global, spread_balanced = [], []
    for _ in range(20):
        glob = masking.fasking(labels, present, OFFICIAL, 0.9, rng).reshape(OFFICIAL)
        bal = masking.fasking(labels, present, OFFICIAL, 0.9, rng, balanced=True).reshape(OFFICIAL)
        counts = bal.sum(axis=(1, 2))
        assert counts.max() - counts.min() <= 1  # 156 / 8 -> 19 or 20 each
        spread_global.append(np.ptp(glob.sum(axis=(1, 2))))
        spread_balanced.append(np.ptp(counts))
    assert np.mean(spread_global) > np.mean(spread_balanced) + 2


def test_reproducible_with_a_seed():
    labels, present = face_maps(8)
    for strategy in masking.STRATEGIES:
        first = masking.make_mask(
            strategy, OFFICIAL, 0.9, np.random.default_rng(7), labels, present
        )
        again = masking.make_mask(
            strategy, OFFICIAL, 0.9, np.random.default_rng(7), labels, present
        )
        other = masking.make_mask(
            strategy, OFFICIAL, 0.9, np.random.default_rng(8), labels, present
        )
        assert np.array_equal(first, again) and not np.array_equal(first, other)


def test_bad_arguments():
    with pytest.raises(ValueError, match="unknown mask strategy"):
        masking.make_mask("checkerboard", OFFICIAL, 0.9, np.random.default_rng())
    with pytest.raises(ValueError, match="needs parsing labels"):
        masking.make_mask("fasking", OFFICIAL, 0.9, np.random.default_rng())
    with pytest.raises(ValueError, match="mask ratio"):
        masking.visible_count(100, 1.0)


def test_class_shares_count_the_pixels_of_each_patch():
    labels = np.zeros((224, 224), dtype=np.uint8)
    labels[:, 8:16] = PART_LABELS["skin"]  # the right half of patch column 0
    labels[16:32, 16:32] = PART_LABELS["nose"]  # all of patch (1, 1)
    labels[40, 40] = PART_LABELS["hair"]  # one pixel of patch (2, 2)
    shares = masking.class_shares(labels, (14, 14))
    assert list(masking.TOKEN_CLASSES) == ["background", "skin", "parts"]
    assert shares.shape == (3, 14, 14) and np.allclose(shares.sum(axis=0), 1.0)
    assert shares[:, 0, 0].tolist() == [0.5, 0.5, 0.0]
    assert shares[:, 1, 1].tolist() == [0.0, 0.0, 1.0]
    assert shares[2, 2, 2] == 1 / 256 and shares[0, 5, 5] == 1.0
    # The same patches as Fasking's any-pixel rule, on any grid.
    for grid in [(14, 14), (8, 8)]:
        presence = masking.label_presence(labels, grid)
        for index, members in enumerate(masking.TOKEN_CLASSES.values()):
            touches = presence[list(members)].any(axis=0)
            assert ((masking.class_shares(labels, grid)[index] > 0) == touches).all()


def test_composition_frames_spread_clips_over_the_video():
    firsts = masking.composition_frames(300, OFFICIAL, tubelet=2, stride=2)
    assert firsts.shape == (masking.COMPOSITION_CLIPS, 8)
    assert firsts[0].tolist() == list(range(0, 32, 4))  # a clip covers 31 frames at stride 2
    assert firsts[-1].tolist() == list(range(269, 300, 4))  # the last clip ends the video
    assert (np.diff(firsts[:, 0]) > 0).all()
    short = masking.composition_frames(10, OFFICIAL, tubelet=2, stride=2, clips=3)
    assert short.tolist() == [[0, 4, 8, 9, 9, 9, 9, 9]] * 3  # the last frame repeats


def zoomed_face_maps(t: int, zoom: float) -> np.ndarray:
    """Face maps seen through a crop ``zoom`` times tighter (the face fills more of it)."""
    side = 224
    big = face_label_map(int(side * zoom))
    start = (len(big) - side) // 2
    return np.stack([big[start : start + side, start : start + side]] * t)


def test_visible_composition_is_what_the_masks_show():
    labels, present = face_maps(8)
    clips, faces = np.stack([labels] * 4), np.stack([present] * 4)
    composition = masking.visible_composition(clips, faces, OFFICIAL, 0.9, "fasking")
    assert list(composition) == list(masking.TOKEN_CLASSES)
    assert np.isclose(sum(composition.values()), 1.0)
    # recomputed by hand from the same seeded masks
    expected = np.zeros(3)
    for i in range(4):
        mask = masking.make_mask("fasking", OFFICIAL, 0.9, np.random.default_rng([0, i]), labels)
        shares = np.stack([masking.class_shares(m, (14, 14)) for m in labels], axis=1)
        expected += shares.reshape(3, -1)[:, mask].sum(axis=1)
    assert np.allclose(list(composition.values()), expected / expected.sum())
    assert composition == masking.visible_composition(clips, faces, OFFICIAL, 0.9, "fasking")
    # Fasking shows background first; random masking shows the frame as it is.
    random = masking.visible_composition(clips, faces, OFFICIAL, 0.9, "random")
    whole = masking.class_shares(labels[0], (14, 14)).mean(axis=(1, 2))
    assert composition["background"] > random["background"] + 0.2
    assert abs(random["background"] - whole[0]) < 0.05


def test_a_tighter_crop_shows_less_background():
    """Once the patches touching the background are fewer than the visible budget, Fasking
    goes on to skin: the composition turns over as the face fills the crop."""
    present = np.ones((4, 8), dtype=bool)
    backgrounds = []
    for zoom in (1.0, 1.8, 2.2):
        maps = np.stack([zoomed_face_maps(8, zoom)] * 4)
        composition = masking.visible_composition(maps, present, OFFICIAL, 0.9, "fasking")
        backgrounds.append(composition["background"])
    assert backgrounds[0] > 0.8 and backgrounds[1] < backgrounds[0] - 0.2
    assert backgrounds[2] < 0.05 and composition["skin"] > 0.8


def stepwise_candidates(labels, present, grid, ratio, rng, opposite=False) -> np.ndarray:
    """Fasking's candidates the way the official code walks them: tubelet by tubelet, label by
    label, checking the visible fraction after each label."""
    t, h, w = grid
    order = [label for group in masking.keep_order(rng, opposite) for label in group]
    candidates = np.ones(grid, dtype=bool)
    for k in np.flatnonzero(present):
        presence, marked = masking.label_presence(labels[k], (h, w)), np.zeros((h, w), bool)
        for label in order:
            marked |= presence[label]
            if marked.mean() >= 1.0 - ratio:
                break
        candidates[k] = marked
    return candidates


@pytest.mark.parametrize("grid", [OFFICIAL, TINY])
def test_candidates_of_all_tubelets_at_once_are_the_stepwise_ones(grid):
    """The same candidates as the label-by-label walk, from the maps or from the packed
    per-patch presence the parse step stores, on faces and on sparse random maps."""
    rng = np.random.default_rng(11)
    packed_shape = (grid[0], *grid[1:])
    for trial in range(12):
        if trial % 2:
            labels = np.stack([face_label_map(224, rng.uniform(-0.3, 0.3)) for _ in range(grid[0])])
        else:
            labels = rng.integers(0, masking.N_LABELS, (grid[0], 64, 64), dtype=np.uint8)
            labels[rng.random(labels.shape) > rng.uniform(0.01, 0.3)] = 0
        present = rng.random(grid[0]) < 0.8
        packed = masking.pack_presence(masking.presence_of_maps(labels, grid[1:]))
        assert packed.shape == packed_shape and packed.dtype == np.uint16
        for ratio in (0.9, 0.5, 0.97):
            for opposite in (False, True):
                expected = stepwise_candidates(
                    labels, present, grid, ratio, np.random.default_rng(trial), opposite
                )
                got = masking.fasking_candidates(
                    labels, present, grid, ratio, np.random.default_rng(trial), opposite
                )
                stored = masking.fasking_candidates(
                    None,
                    present,
                    grid,
                    ratio,
                    np.random.default_rng(trial),
                    opposite,
                    presence=masking.unpack_presence(packed),
                )
                assert np.array_equal(got, expected) and np.array_equal(stored, expected)
