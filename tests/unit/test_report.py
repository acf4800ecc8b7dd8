"""The local HTML report, built from a small results tree written by the project's own writers."""

from __future__ import annotations

import argparse
import json
import shutil
from html.parser import HTMLParser
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch
from PIL import Image

from marlinflow.atomic import write_json
from marlinflow.downstream.metrics import bootstrap
from marlinflow.downstream.results import RunResult, write_outputs
from marlinflow.downstream.tasks import Task
from marlinflow.face.store import PART_LABELS, save_parsing
from marlinflow.models import resolve_size
from marlinflow.pretrain.metrics import summarise, write_rows
from marlinflow.pretrain.visual import log_reconstruction
from marlinflow.report import build
from marlinflow.status import StageRecord, summary_table

TASK = "celebv_hq_appearance"  # a task the paper reports, so the paper column shows
CLASSES = ["smiling", "young"]


class Page(HTMLParser):
    """Tables (rows of cell texts), image sources, notes and section ids of a page."""

    def __init__(self, text: str):
        super().__init__()
        self.tables: list[list[list[str]]] = []
        self.images: list[str] = []
        self.notes: list[str] = []
        self.sections: list[str] = []
        self._cell: list[str] | None = None
        self._in_note = False
        self.feed(text)

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if tag == "table":
            self.tables.append([])
        elif tag == "tr":
            self.tables[-1].append([])
        elif tag in ("td", "th"):
            self._cell = []
        elif tag == "img":
            self.images.append(attrs["src"])
        elif tag == "section":
            self.sections.append(attrs["id"])
        elif tag == "p" and attrs.get("class") == "note":
            self._in_note = True
            self.notes.append("")

    def handle_endtag(self, tag):
        if tag in ("td", "th"):
            self.tables[-1][-1].append("".join(self._cell).strip())
            self._cell = None
        elif tag == "p":
            self._in_note = False

    def handle_data(self, data):
        if self._cell is not None:
            self._cell.append(data)
        if self._in_note:
            self.notes[-1] += data


def write_stage_summaries(results: Path) -> None:
    download = [StageRecord(f"v{i}", "download", True) for i in range(4)]
    download.append(StageRecord("v4", "download", False, "HTTP Error 404: Not Found"))
    parse = [StageRecord(f"v{i}", "parse", True) for i in range(3)]
    parse += [StageRecord("v3", "parse", False, "no face in 95% of the frames"),
              StageRecord("v4", "parse", False, "skipped: track: skipped: download: HTTP 404")]  # fmt: skip
    for stage, records in (("download", download), ("parse", parse)):
        summary_table(records).to_csv(results / f"{stage}_summary.tsv", sep="\t", index=False)


def write_downstream(results: Path, encoder: str, signal: float) -> None:
    """Fine-tuning results of a multi-label task: scores that follow the labels by ``signal``."""
    rng = np.random.default_rng(0)
    labels = rng.integers(0, 2, (40, len(CLASSES))).astype(float)
    scores = np.clip(0.5 + signal * (labels - 0.5) + rng.normal(0, 0.2, labels.shape), 0, 1)
    runs = [
        RunResult(task=TASK, kind="multilabel", protocol="finetune", model=encoder, seed=seed,
                  metrics=bootstrap("multilabel", scores, labels, 50, seed), val_metrics={},
                  counts={"n_train": 80, "n_val": 10, "n_test": 40}, skipped=[], best_epoch=1,
                  epochs=2)
        for seed in (0, 1)
    ]  # fmt: skip
    write_outputs(runs, results / "downstream" / TASK / "finetune" / encoder)


def write_pretrain(run: Path) -> None:
    rows = [{"epoch": e, "step": e * 2 + i, "train/loss_rec": 1.0 / (e + i + 1),
             "train/loss_adv": 0.1, "train/loss_critic": -0.1, "lr": 1e-4 * (e + 1)}
            for e in range(3) for i in range(2)]  # fmt: skip
    rows += [{"epoch": e, "step": e * 2 + 1, "val/loss_rec": 0.9 - 0.1 * e} for e in range(3)]
    write_rows(run / "metrics.csv", rows)
    write_json(run / "metrics.json", summarise(rows))
    write_json(run / "settings.json", {"model": "tiny", "mask_ratio": 0.9, "frame_stride": 2})
    size = resolve_size("tiny")
    video = torch.rand(size.clip_shape, generator=torch.Generator().manual_seed(0))
    visible = torch.zeros(size.n_tokens, dtype=torch.bool)
    visible[::10] = True
    for epoch in (0, 1):
        log_reconstruction(run / "reconstructions" / f"epoch_{epoch:04d}.png", video, visible,
                           video.flip(-1), size)  # fmt: skip


def face_labels(n_frames: int, side: int = 64) -> np.ndarray:
    """A cartoon parsing map: skin ellipse, two eyes, a nose and a mouth, (n, side, side)."""
    yy, xx = np.mgrid[:side, :side] / side
    labels = np.zeros((side, side), np.uint8)
    labels[((xx - 0.5) / 0.3) ** 2 + ((yy - 0.5) / 0.4) ** 2 < 1] = PART_LABELS["skin"]
    labels[(abs(yy - 0.4) < 0.04) & (abs(xx - 0.38) < 0.06)] = PART_LABELS["right_eye"]
    labels[(abs(yy - 0.4) < 0.04) & (abs(xx - 0.62) < 0.06)] = PART_LABELS["left_eye"]
    labels[(abs(yy - 0.55) < 0.06) & (abs(xx - 0.5) < 0.04)] = PART_LABELS["nose"]
    labels[(abs(yy - 0.72) < 0.03) & (abs(xx - 0.5) < 0.1)] = PART_LABELS["upper_lip"]
    return np.repeat(labels[None], n_frames, axis=0)


def write_parsing(parsing: Path, video: Path) -> None:
    """Parse records of two usable videos (the carphone clip) and one that is not."""
    for video_id in ("v0", "v1"):
        labels_path = parsing / f"{video_id}.npz"
        save_parsing(labels_path, face_labels(30), np.ones(30, bool))
        outputs = {"video": str(video), "labels": str(labels_path)}
        StageRecord(video_id, "parse", True, outputs=outputs).save(
            parsing / f"{video_id}.status.json"
        )
    StageRecord("v3", "parse", False, "no face").save(parsing / "v3.status.json")


def write_features(results: Path, encoder: str) -> None:
    """Two classes of videos whose features differ by a shift, and the task that labels them."""
    rng = np.random.default_rng(1)
    ids = [f"v{i}" for i in range(12)]
    labels = ["happy" if i % 2 else "sad" for i in range(12)]
    for video_id, label in zip(ids, labels, strict=True):
        shift = 4.0 if label == "happy" else -4.0
        windows = rng.normal(0, 1, (3, 16)) + shift
        (results / "features" / encoder).mkdir(parents=True, exist_ok=True)
        np.save(results / "features" / encoder / f"{video_id}.npy", windows.astype(np.float32))
    table = pd.DataFrame({"id": ids, "split": ["train"] * 12, "label": labels})
    Task("emotion", "multiclass", ["happy", "sad"], table).save(results / "tasks" / "emotion.tsv")


def write_contact_sheets(results: Path) -> None:
    for video_id in ("v0", "v1"):
        (results / "contact_sheets").mkdir(parents=True, exist_ok=True)
        Image.new("RGB", (96, 48), (200, 100, 50)).save(
            results / "contact_sheets" / f"{video_id}.png"
        )


@pytest.fixture(scope="module")
def results_tree(tmp_path_factory, carphone) -> Path:
    """results/sample and data/interim/sample/parsing under one folder, as the workflow lays them."""
    root = tmp_path_factory.mktemp("project")
    results = root / "results" / "sample"
    (results / "pretrain" / "tiny").mkdir(parents=True)
    write_stage_summaries(results)
    write_downstream(results, "tiny", signal=0.8)
    write_downstream(results, "random-tiny", signal=0.0)
    write_pretrain(results / "pretrain" / "tiny")
    write_parsing(root / "data" / "interim" / "sample" / "parsing", carphone)
    write_features(results, "tiny")
    write_contact_sheets(results)
    return results


@pytest.fixture(scope="module")
def built(results_tree) -> tuple[Path, Page]:
    parser = argparse.ArgumentParser()
    build.add_arguments(parser)
    assert build.run(parser.parse_args([str(results_tree)])) == 0
    page_path = results_tree / "report" / "index.html"
    return page_path, Page(page_path.read_text())


def table_with(page: Page, header: str) -> list[list[str]]:
    return next(t for t in page.tables if header in t[0])


def test_every_section_is_there_without_a_note(built):
    _, page = built
    assert page.sections == ["results", "pretraining", "reconstructions", "masks", "embedding",
                             "videos", "faces"]  # fmt: skip
    assert page.notes == []


def test_results_table_has_ours_the_baseline_and_the_paper(built, results_tree):
    _, page = built
    rows = table_with(page, "protocol")
    assert rows[0] == ["task", "protocol", "metric", "tiny", "random-tiny", "paper"]
    by_metric = {row[2]: row for row in rows[1:]}
    assert set(by_metric) == {"acc_micro", "auc_micro"}
    summary = pd.read_json(results_tree / "downstream" / TASK / "finetune" / "tiny" / "metrics.json",
                           typ="series")["summary"]  # fmt: skip
    auc = summary["auc_micro"]
    assert by_metric["auc_micro"][3] == f"{auc['mean']:.3f} ± {auc['std']:.3f}"
    assert auc["mean"] > 0.8  # the scores follow the labels
    baseline = float(by_metric["auc_micro"][4].split(" ± ")[0])
    assert abs(baseline - 0.5) < 0.15  # the random encoder's scores do not
    assert by_metric["acc_micro"][5] == "0.9390 (ViT-B, likely)"
    assert by_metric["auc_micro"][5] == "0.9561 (ViT-B, likely)"


def test_results_tsv_holds_every_number(built, results_tree):
    long = pd.read_csv(results_tree / "report" / "results.tsv", sep="\t")
    assert len(long) == 4  # 2 encoders × 2 metrics
    assert set(long["n"]) == {2}


def test_headline_metrics_document_for_dvc(results_tree, tmp_path):
    parser = argparse.ArgumentParser()
    build.add_arguments(parser)
    metrics = tmp_path / "metrics.json"
    args = [str(results_tree), "--out", str(tmp_path / "report" / "index.html"),
            "--metrics-out", str(metrics)]  # fmt: skip
    assert build.run(parser.parse_args(args)) == 0
    document = json.loads(metrics.read_text())
    assert document["pretrain"]["tiny"]["best_val_loss_rec"] == pytest.approx(0.7)
    cells = document["downstream"][TASK]["finetune"]
    assert set(cells) == {"tiny", "random-tiny"} and set(cells["tiny"]) == {
        "acc_micro",
        "auc_micro",
    }
    summary = json.loads((results_tree / "downstream" / TASK / "finetune" / "tiny" /
                          "metrics.json").read_text())["summary"]  # fmt: skip
    assert cells["tiny"]["auc_micro"]["mean"] == summary["auc_micro"]["mean"]


def test_figures_exist_and_are_pngs(built):
    page_path, page = built
    assert sorted(page.images) == [f"figures/{name}.png" for name in (
        "curves_tiny", "masks", "pca_tiny", "reconstruction_tiny", "sheet_v0", "sheet_v1")]  # fmt: skip
    for src in page.images:
        assert not src.startswith(("http", "/")), src  # relative: the folder moves as a whole
        path = page_path.parent / src
        with Image.open(path) as image:
            assert image.format == "PNG"
            image.verify()


def test_latest_reconstruction_is_shown(built, results_tree):
    page_path, _ = built
    latest = results_tree / "pretrain" / "tiny" / "reconstructions" / "epoch_0001.png"
    copied = page_path.parent / "figures" / "reconstruction_tiny.png"
    assert copied.read_bytes() == latest.read_bytes()


def test_skipped_videos_are_listed_once_with_reason_and_category(built):
    _, page = built
    counts = table_with(page, "not usable")
    assert counts[1:] == [["download", "5", "4", "1"], ["parse", "5", "3", "2"]]
    skipped = table_with(page, "category")
    assert skipped[0] == ["id", "stage", "category", "reason"]
    assert skipped[1:] == [["v4", "download", "not found", "HTTP Error 404: Not Found"],
                           ["v3", "parse", "no face", "no face in 95% of the frames"]]  # fmt: skip


def test_missing_inputs_leave_notes_not_errors(tmp_path):
    results = tmp_path / "results" / "empty"
    results.mkdir(parents=True)
    out = tmp_path / "elsewhere" / "report.html"
    inputs = build.Inputs(results, tmp_path / "none", out.parent, tmp_path)
    empty_page = Page(build.build_report(inputs, out).read_text())
    assert len(empty_page.notes) == 7
    assert empty_page.images == []
    assert any("metrics.json" in note or "downstream" in note for note in empty_page.notes)


def test_a_results_folder_that_does_not_exist_is_refused(tmp_path, capsys):
    parser = argparse.ArgumentParser()
    build.add_arguments(parser)
    args = parser.parse_args([str(tmp_path / "nothing"), "--out", str(tmp_path / "r.html")])
    assert build.run(args) == 2
    assert not (tmp_path / "r.html").exists()


def test_damaged_inputs_are_noted_and_the_rest_is_drawn(results_tree, tmp_path):
    """A garbled learning-curve file and summary spoil their own sections only."""
    results = tmp_path / "results" / "sample"
    results.mkdir(parents=True)
    for name in ("downstream", "contact_sheets"):
        shutil.copytree(results_tree / name, results / name)
    (results / "pretrain" / "tiny").mkdir(parents=True)
    (results / "pretrain" / "tiny" / "metrics.csv").write_text("epoch,step,train/loss_rec\n0,0,x\n")
    (results / "download_summary.tsv").write_text("id\tstage\tok\nv0\tdownload\tTrue\n")
    inputs = build.Inputs(results, tmp_path / "none", results / "report", tmp_path)
    page = Page(build.build_report(inputs, results / "report" / "index.html").read_text())
    assert page.sections[0] == "results" and len(page.tables[0]) == 3  # header + 2 metrics
    csv_note = f"Could not be drawn: {results / 'pretrain/tiny/metrics.csv'}: no learning curves"
    assert any(note.startswith(csv_note) and "'x'" in note for note in page.notes)
    summary_note = f"Could not be drawn: {results / 'download_summary.tsv'}: stage summary lacks"
    assert any(note.startswith(summary_note) and "reason" in note for note in page.notes)
    assert "figures/sheet_v0.png" in page.images
