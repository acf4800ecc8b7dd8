"""Contact sheets: a PNG grid of real crops with their part labels tinted in the legend's colours."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from marlinflow.errors import InputError
from marlinflow.face.contact import PALETTE, contact_sheet, overlay_labels, sheet_image
from marlinflow.face.parsing import rasterize_parts
from marlinflow.face.store import PART_LABELS, save_parsing
from marlinflow.video.io import iter_frames

from .test_parsing import astronaut_crop, dlib_landmarks


@pytest.fixture(scope="module")
def astronaut():
    crop, points = astronaut_crop()
    return crop, rasterize_parts(points[None], 224)[0]


def test_overlay_tints_parts_towards_their_colour_and_leaves_background(astronaut):
    crop, labels = astronaut
    tinted = overlay_labels(crop, labels, alpha=0.5)
    background = labels == 0
    assert np.array_equal(tinted[background], crop[background])
    for part in ("right_eye", "left_eye", "nose", "upper_lip"):
        where = labels == PART_LABELS[part]
        before = np.abs(crop[where].astype(int) - PALETTE[PART_LABELS[part]]).mean()
        after = np.abs(tinted[where].astype(int) - PALETTE[PART_LABELS[part]]).mean()
        assert after < 0.6 * before, part


def test_sheet_grid_has_a_tile_per_frame_and_a_legend(astronaut):
    crop, labels = astronaut
    crops, maps = np.stack([crop] * 5), np.stack([labels] * 5)
    present = np.array([True, True, False, True, True])
    image = sheet_image(crops, maps, present, np.arange(5), cols=3)
    assert image.shape[1] == 3 * 224 and image.shape[0] > 2 * 224  # 2 rows of tiles + legend
    legend = image[2 * 224 :]
    for label in range(1, len(PALETTE)):  # every part's swatch is in the legend
        assert (legend == PALETTE[label]).all(-1).any(), label
    assert np.array_equal(image[224 + 100, 2 * 224 + 100], [255, 255, 255])  # empty 6th cell


def test_contact_sheet_of_a_real_clip_is_a_png_with_the_overlay(samples_dir, tmp_path):
    frames = np.stack(list(iter_frames(samples_dir / "cropped02.mp4")))
    landmarks = dlib_landmarks(frames)
    present = np.isfinite(landmarks).all(axis=(1, 2))
    save_parsing(tmp_path / "c.npz", rasterize_parts(landmarks, 224, present), present)
    png = contact_sheet(samples_dir / "cropped02.mp4", tmp_path / "c.npz", tmp_path / "c.png", 8, 4)
    image = cv2.cvtColor(cv2.imread(str(png)), cv2.COLOR_BGR2RGB)
    assert image.shape[:2][1] == 4 * 224 and image.shape[0] > 2 * 224
    tiles = image[: 2 * 224].astype(int)
    first = frames[0].astype(int)
    eye = rasterize_parts(landmarks[:1], 224)[0] == PART_LABELS["right_eye"]
    # the first tile is frame 0 with its right eye tinted towards red
    assert (
        np.abs(tiles[:224, :224][eye] - PALETTE[PART_LABELS["right_eye"]]).mean()
        < np.abs(first[eye] - PALETTE[PART_LABELS["right_eye"]]).mean()
    )


def test_a_clip_that_is_not_the_labels_size_is_refused(carphone, tmp_path):
    save_parsing(tmp_path / "c.npz", np.zeros((120, 224, 224), np.uint8), np.zeros(120, bool))
    with pytest.raises(InputError, match="labels"):
        contact_sheet(carphone, tmp_path / "c.npz", tmp_path / "c.png")
    assert not (tmp_path / "c.png").exists()


def test_sheet_or_notice_from_a_stage_record(tmp_path):
    import cv2

    from marlinflow import cli
    from marlinflow.stages import StageRecord

    record = tmp_path / "gone.status.json"
    StageRecord("gone", "parse", False, "skipped: track: face in only 3% of frames").save(record)
    assert cli.main(["contact-sheet", str(record), str(tmp_path / "gone.png")]) == 0
    notice = cv2.imread(str(tmp_path / "gone.png"))
    assert notice is not None and notice.shape[1] == 672
    assert (notice < 200).any()  # the reason is written on it
