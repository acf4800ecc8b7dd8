"""The report's lip-sync section: its table (encoder × sync acc, offset acc, LSE-D, LSE-C, FID),
the random-SyncNet label, the offset curves and the generated frames, from the files the plan
names; and the headline numbers."""

from __future__ import annotations

import json

import cv2
import numpy as np
import pytest

from marlinflow.report.build import collect_metrics
from marlinflow.report.inputs import Absent, Inputs
from marlinflow.report.parts_lipsync import lipsync_parts, lipsync_table
from marlinflow.report.plan import Plan
from marlinflow.report.sections import all_sections

EXP = "results/experiments/ls/lipsync/talk"


def write(path, document):
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(document))


@pytest.fixture
def plan(tmp_path):
    offsets = list(range(-2, 3))
    for encoder, peak in (("tiny", 0), ("random-tiny", 2)):
        curve = [1.0 if o == peak else 0.2 for o in offsets]
        write(
            tmp_path / EXP / encoder / "expert.json",
            {
                "sync_accuracy": 0.9 if peak == 0 else 0.5,
                "offset_accuracy": 1.0 if peak == 0 else 0.0,
                "offset_accuracy_1": 1.0 if peak == 0 else 0.0,
                "videos": 2,
                "offsets": offsets,
                "curves": {"a": curve, "b": curve},
            },
        )
    syncnet = {"weights": "random", "real": False}
    metrics = {"lse_d": 7.5, "lse_c": 1.25, "lse_d_real": 6.0, "lse_c_real": 2.0, "fid": None}
    write(tmp_path / EXP / "tiny" / "metrics.json", {**metrics, "syncnet": syncnet})
    frames = np.zeros((32, 64, 3), np.uint8)
    cv2.imwrite(str(tmp_path / EXP / "tiny" / "frames.png"), frames)
    generators = {
        e: {"metrics": f"{EXP}/{e}/metrics.json", "frames": f"{EXP}/{e}/frames.png"}
        for e in ("tiny", "videomae-tiny")  # videomae-tiny: not run yet
    }
    document = {
        "experiment": "ls",
        "datasets": {},
        "encoders": {},
        "lipsync": {
            "talk": {
                "videos": "results/datasets/talk/sync_videos.tsv",
                "experts": {e: f"{EXP}/{e}/expert.json" for e in ("tiny", "random-tiny")},
                "generators": generators,
            }
        },
    }
    return Plan(document, tmp_path, tmp_path / "plan.json")


def test_the_table_has_a_row_per_expert_and_labels_random_syncnet(plan, tmp_path):
    inputs = Inputs(plan, tmp_path / "report")
    frame = lipsync_table(inputs, "talk").set_index("encoder")
    assert list(frame.index) == ["tiny", "random-tiny"]
    assert frame.loc["tiny", "sync acc"] == 0.9 and frame.loc["tiny", "LSE-D"] == 7.5
    assert frame.loc["tiny", "SyncNet"] == "RANDOM weights: not LSE"
    assert np.isnan(frame.loc["tiny", "FID"]) and np.isnan(frame.loc["random-tiny", "LSE-C"])

    html = "\n".join(lipsync_parts(inputs))
    assert "RANDOM weights" in html and "not lip-sync error" in html
    assert (tmp_path / "report/figures/lipsync-offsets-talk.png").stat().st_size > 0
    assert (tmp_path / "report/figures/lipsync-talk-tiny.png").is_file()
    assert "lipsync-talk-videomae-tiny.png" not in html  # no frames yet: not shown

    headline = collect_metrics(plan)["lipsync"]["talk"]
    assert headline["tiny"] == {
        "sync_accuracy": 0.9,
        "offset_accuracy": 1.0,
        "lse_d": 7.5,
        "lse_c": 1.25,
        "fid": None,
        "syncnet_real": False,
    }
    assert headline["random-tiny"]["lse_d"] is None


def test_an_experiment_without_lip_sync_has_no_such_section(tmp_path):
    plan = Plan({"experiment": "x", "datasets": {}, "encoders": {}}, tmp_path, tmp_path / "p")
    inputs = Inputs(plan, tmp_path / "report")
    with pytest.raises(Absent, match="no lip-sync evaluation"):
        lipsync_parts(inputs)
    assert "lipsync" not in [section.anchor for section in all_sections(inputs)]
