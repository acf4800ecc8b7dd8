"""The local HTML report, built from a small experiment written by the project's own writers and
described by its plan.json, as the workflow lays them out."""

from __future__ import annotations

import json
import re
import shutil
from html.parser import HTMLParser
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch
from PIL import Image

from marlinflow import cli
from marlinflow.atomic import write_json
from marlinflow.downstream.metrics import bootstrap
from marlinflow.downstream.results import RunResult, predictions_table, write_outputs
from marlinflow.downstream.tasks import Task
from marlinflow.face.store import PART_LABELS, save_parsing
from marlinflow.models import resolve_size
from marlinflow.pretrain.metrics import summarise, write_rows
from marlinflow.pretrain.visual import log_reconstruction
from marlinflow.report import build, parts_results
from marlinflow.report.inputs import Inputs
from marlinflow.report.parts_pretrain import start_text
from marlinflow.report.plan import load_plan
from marlinflow.report.stage_summary import summary_table
from marlinflow.stages import StageRecord
from marlinflow.weights.videomae import POSITION_TABLES

EXP = "results/experiments/demo"
DS = "results/datasets/faces"
CLASSES = ["smiling", "young"]  # the appearance task, named as CelebV-HQ's so the paper row shows
ENCODERS = {"tiny": 0.8, "random-tiny": 0.0}  # encoder -> how much its scores follow the labels


class Page(HTMLParser):
    """Tables (rows of cell texts), image sources, notes, banners and section ids of a page."""

    def __init__(self, text: str):
        super().__init__()
        self.tables: list[list[list[str]]] = []
        self.images: list[str] = []
        self.notes: list[str] = []
        self.banners: list[str] = []
        self.paragraphs: list[str] = []
        self.sections: list[str] = []
        self._cell: list[str] | None = None
        self._para: list[str] | None = None
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
        elif tag == "p":
            self._para = []
            self._css = attrs.get("class")

    def handle_endtag(self, tag):
        if tag in ("td", "th"):
            self.tables[-1][-1].append("".join(self._cell).strip())
            self._cell = None
        elif tag == "p" and self._para is not None:
            text = "".join(self._para)
            {"note": self.notes, "banner": self.banners}.get(self._css, self.paragraphs).append(
                text
            )
            self._para = None

    def handle_data(self, data):
        for buffer in (self._cell, self._para):
            if buffer is not None:
                buffer.append(data)


def write_stage_summaries(results: Path) -> dict[str, str]:
    download = [StageRecord(f"v{i}", "download", True) for i in range(4)]
    download.append(StageRecord("v4", "download", False, "HTTP Error 404: Not Found"))
    # what the parse step measures: the visible-token composition, per crop mode
    shares = [(0.75, 0.15, 0.10), (0.79, 0.13, 0.08), (0.20, 0.65, 0.15)]
    crops = ["similarity", "similarity", "official"]
    parse = [
        StageRecord(
            f"v{i}",
            "parse",
            True,
            stats={
                "crop_mode": crop,
                "visible_composition": dict(
                    zip(("background", "skin", "parts"), share, strict=True)
                ),
                "composition_mask": "fasking 0.9, 8x14x14 tokens",
            },
        )
        for i, (crop, share) in enumerate(zip(crops, shares, strict=True))
    ]
    parse += [
        StageRecord("v3", "parse", False, "no face in 95% of the frames"),
        StageRecord("v4", "parse", False, "skipped: track: skipped: download: HTTP 404"),
    ]
    paths = {}
    for stage, records in (("download", download), ("parse", parse)):
        results.mkdir(parents=True, exist_ok=True)
        summary_table(records).to_csv(results / f"{stage}_summary.tsv", sep="\t", index=False)
        paths[stage] = f"{DS}/{stage}_summary.tsv"
    return paths


def appearance_task() -> Task:
    rng = np.random.default_rng(0)
    ids = [f"a{i:02d}" for i in range(60)]
    labels = rng.integers(0, 2, (60, len(CLASSES)))
    table = pd.DataFrame({"id": ids, "split": ["train"] * 20 + ["test"] * 40})
    for i, name in enumerate(CLASSES):
        table[name] = labels[:, i]
    return Task("celebv_hq_appearance", "multilabel", CLASSES, table)


def emotion_task() -> Task:
    """Two classes, 2:1 in the training split (so the majority class is known)."""
    ids = [f"v{i}" for i in range(12)]
    labels = ["happy" if i % 3 else "sad" for i in range(12)]
    table = pd.DataFrame({"id": ids, "split": ["train"] * 6 + ["test"] * 6, "label": labels})
    return Task("emotion", "multiclass", ["happy", "sad"], table)


def run_results(task: Task, protocol: str, encoder: str, signal: float, n_train: int):
    """Two seeds of a task's test predictions that follow the labels by ``signal``."""
    test = task.split("test")
    targets = task.targets(test)
    one_hot = np.eye(len(task.classes))[targets] if task.task_kind.class_labels else targets
    runs = []
    for seed in (0, 1):
        rng = np.random.default_rng(seed + 10)
        scores = np.clip(0.5 + signal * (one_hot - 0.5) + rng.normal(0, 0.2, one_hot.shape), 0, 1)
        runs.append(
            RunResult(
                task=task.name,
                kind=task.kind,
                protocol=protocol,
                model=encoder,
                seed=seed,
                metrics=bootstrap(task.task_kind.metrics, scores, targets, 50, seed),
                val_metrics={},
                counts={"n_train": n_train, "n_val": 0, "n_test": len(test)},
                skipped=[],
                best_epoch=1,
                epochs=2,
                predictions=predictions_table(task, test["id"].tolist(), "test", scores),
            )
        )
    return runs


def write_results(root: Path, tasks: dict[str, Task]) -> list[dict]:
    """Fine-tuning on the appearance task, probes with full and 2-shot labels on emotion."""
    entries = []
    settings = [("appearance", "finetune", 20), ("emotion", "probe", 6), ("emotion", "probe-k2", 4)]
    for task, protocol, n_train in settings:
        for encoder, signal in ENCODERS.items():
            folder = f"{EXP}/downstream/faces/{task}/{protocol}/{encoder}"
            write_outputs(
                run_results(tasks[task], protocol, encoder, signal, n_train), root / folder
            )
            entries.append(
                {
                    "dataset": "faces",
                    "task": task,
                    "protocol": protocol,
                    "encoder": encoder,
                    "metrics": f"{folder}/metrics.json",
                }
            )
    return entries


def write_pretrain(run: Path) -> None:
    rows = [
        {
            "epoch": e,
            "step": e * 2 + i,
            "train/loss_rec": 1.0 / (e + i + 1),
            "train/loss_adv": 0.1,
            "train/loss_critic": -0.1,
            "lr": 1e-4 * (e + 1),
        }
        for e in range(3)
        for i in range(2)
    ]
    rows += [{"epoch": e, "step": e * 2 + 1, "val/loss_rec": 0.9 - 0.1 * e} for e in range(3)]
    write_rows(run / "metrics.csv", rows)
    start = {
        "from": "videomae",
        "path": "/models/videomae_tiny.pth",
        "layout": "huggingface",
        "sha256": "0123456789abcdef" * 4,
        "loaded": ["encoder.norm.weight", "encoder.norm.bias"],
        "missing": list(POSITION_TABLES),
        "unexpected": [],
    }
    write_json(run / "metrics.json", summarise(rows) | {"precision": "bf16-mixed", "start": start})
    write_json(run / "settings.json", {"model": "tiny", "mask_ratio": 0.9, "frame_stride": 2})
    size = resolve_size("tiny")
    video = torch.rand(size.clip_shape, generator=torch.Generator().manual_seed(0))
    visible = torch.zeros(size.n_tokens, dtype=torch.bool)
    visible[::10] = True
    for epoch in (0, 1):
        log_reconstruction(
            run / "reconstructions" / f"epoch_{epoch:04d}.png", video, visible, video.flip(-1), size
        )


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


def write_parsing(root: Path, video: Path | None) -> list[str]:
    """Parse records (relative paths) of one unusable video, then two usable (the carphone clip)."""
    parsing = "data/interim/faces/parsing"
    StageRecord("v3", "parse", False, "no face").save(root / parsing / "v3.status.json")
    records = [f"{parsing}/v3.status.json"]
    for video_id in ("v0", "v1") if video else ():
        labels_path = f"{parsing}/{video_id}.npz"
        save_parsing(root / labels_path, face_labels(30), np.ones(30, bool))
        outputs = {"video": str(video), "labels": labels_path}
        StageRecord(video_id, "parse", True, outputs=outputs).save(
            root / parsing / f"{video_id}.status.json"
        )
        records.append(f"{parsing}/{video_id}.status.json")
    return records


def write_features(root: Path, task: Task, encoder: str) -> dict:
    """Features of the emotion videos: the classes differ by a shift."""
    rng = np.random.default_rng(1)
    folder = f"{EXP}/features/faces/{encoder}"
    (root / folder).mkdir(parents=True, exist_ok=True)
    for video_id, label in zip(task.table["id"], task.table["label"], strict=True):
        windows = rng.normal(0, 1, (3, 16)) + (4.0 if label == "happy" else -4.0)
        np.save(root / folder / f"{video_id}.npy", windows.astype(np.float32))
    return {"dataset": "faces", "encoder": encoder, "folder": folder}


def write_contact_sheets(root: Path) -> list[str]:
    (root / DS / "contact_sheets").mkdir(parents=True, exist_ok=True)
    for video_id in ("v0", "v1"):
        Image.new("RGB", (96, 48), (200, 100, 50)).save(
            root / DS / "contact_sheets" / f"{video_id}.png"
        )
    return [f"{DS}/contact_sheets/{i}.png" for i in ("v0", "v1", "v9")]  # v9: not drawn yet


OVERLAP = {
    "checked": True,
    "by": ["dataset and id", "source"],
    "corpus": {"corpus": {"splits": ["train", "val", "test"], "videos": 10}},
    "evaluation": {"faces": {"val": 3, "test": 46}},
    "overlap": [],
}


def dataset_entry(roles, summaries, records, sheets, tasks) -> dict:
    return {
        "builder": "sample",
        "roles": roles,
        "summaries": summaries,
        "summary_runs": {s: f"{DS}/runs/summarize_{s}/run.json" for s in summaries},
        "parse_records": records,
        "contact_sheets": sheets,
        "tasks": tasks,
    }


def write_experiment(root: Path, video: Path | None = None, sample: bool = True) -> Path:
    """An experiment ``demo``: encoder tiny pretrained on data set ``corpus`` (whose files are
    not there: a partial run), evaluated with random-tiny on data set ``faces``; returns the
    plan's path. Paths in the plan are relative to ``root``."""
    tasks = {"appearance": appearance_task(), "emotion": emotion_task()}
    for name, task in tasks.items():
        task.save(root / DS / "tasks" / f"{name}.tsv")
    write_pretrain(root / EXP / "encoders" / "tiny")
    write_json(root / EXP / "overlap.json", OVERLAP)
    faces = dataset_entry(
        ["evaluation"],
        write_stage_summaries(root / DS),
        write_parsing(root, video),
        write_contact_sheets(root),
        {n: f"{DS}/tasks/{n}.tsv" for n in tasks},
    )
    corpus = dataset_entry(
        ["corpus"],
        {"parse": "results/datasets/corpus/parse_summary.tsv"},
        [],
        ["results/datasets/corpus/contact_sheets/c0.png"],
        {},
    )
    plan = {
        "experiment": "demo",
        "sample": sample,
        "reference": "tiny",
        "datasets": {"faces": faces, "corpus": corpus},
        "corpus": [{"dataset": "corpus", "splits": ["train", "val", "test"], "videos": 10}],
        "overlap": f"{EXP}/overlap.json",
        "encoders": {
            "tiny": {
                "kind": "pretrain",
                "model": "tiny",
                "weights": f"{EXP}/encoders/tiny/encoder.pt",
                "run_dir": f"{EXP}/encoders/tiny",
            },
            "random-tiny": {"kind": "random", "model": "tiny", "weights": "", "run_dir": None},
            "official-tiny": {
                "kind": "external",
                "model": None,
                "run_dir": None,
                "weights": f"{EXP}/encoders/official-tiny/encoder.pt",
                "source": "/models/official.pt",
            },
        },
        "features": [
            write_features(root, tasks["emotion"], "tiny"),
            {
                "dataset": "faces",
                "encoder": "random-tiny",
                "folder": f"{EXP}/features/faces/random-tiny",
            },
        ],
        "results": write_results(root, tasks),
        "report": {"contact_sheets": 6, "mask_videos": 3},
    }
    write_json(root / EXP / "plan.json", plan)
    return root / EXP / "plan.json"


def run_report(root: Path, plan: Path, out: Path, *extra: str) -> int:
    return cli.main(["report", str(plan), "--out", str(out), "--root", str(root), *extra])


@pytest.fixture(scope="module")
def experiment(tmp_path_factory, carphone) -> tuple[Path, Path]:
    root = tmp_path_factory.mktemp("project")
    return root, write_experiment(root, carphone)


@pytest.fixture(scope="module")
def built(experiment) -> tuple[Path, Page]:
    root, plan = experiment
    page_path = root / EXP / "report" / "index.html"
    metrics = root / EXP / "metrics.json"
    assert run_report(root, plan, page_path, "--metrics-out", str(metrics)) == 0
    return page_path, Page(page_path.read_text())


def table_with(page: Page, header: str) -> list[list[str]]:
    return next(t for t in page.tables if header in t[0])


def test_every_section_is_there_without_a_note(built):
    _, page = built
    assert page.sections == [
        "experiment",
        "results",
        "pretraining",
        "reconstructions",
        "masks",
        "embedding",
        "videos",
        "faces",
    ]
    assert page.notes == []


def test_pretraining_table_says_where_each_run_started(built):
    _, page = built
    runs = table_with(page, "started from")
    assert runs == [
        ["encoder", "started from", "precision", "epochs", "iterations"],
        [
            "tiny",
            "VideoMAE videomae_tiny.pth (huggingface layout, sha256 0123456789ab; 2 weights "
            "loaded, 2 not in it)",
            "bf16-mixed",
            "3",
            "6",
        ],
    ]
    assert start_text({"from": "scratch"}) == "random weights"
    assert start_text(None) == "not recorded"  # a run from before runs recorded it
    assert start_text({"from": "unrecorded"}) == "not recorded"  # resumed from such a run


def test_a_sample_plan_carries_the_smoke_test_banner(built):
    _, page = built
    assert len(page.banners) == 1 and "smoke test" in page.banners[0].lower()
    assert "not anything about MARLIN" in page.banners[0]


def test_experiment_section_names_corpus_encoders_suite_and_overlap(built):
    _, page = built
    assert table_with(page, "splits")[1] == ["corpus", "train, val, test", "10"]
    encoders = table_with(page, "source")
    assert [row[:2] for row in encoders[1:]] == [
        ["tiny (reference)", "pretrain"],
        ["random-tiny", "random"],
        ["official-tiny", "external"],
    ]
    assert encoders[3][3] == "/models/official.pt"
    suite = table_with(page, "protocols")
    assert suite[1:] == [
        ["faces", "appearance", "finetune", "tiny, random-tiny"],
        ["faces", "emotion", "probe, probe-k2", "tiny, random-tiny"],
    ]
    statement = (
        "Pretraining saw none of the 49 val/test videos of faces (3 val, 46 test) "
        "(checked by dataset and id, and by source)."
    )
    assert statement in page.paragraphs


def results_table(page: Page) -> dict[str, dict[str, str]]:
    """The paper-style table, by row and column name."""
    rows = next(t for t in page.tables if t[0][0] == "encoder" and "kind" not in t[0])
    return {row[0]: dict(zip(rows[0][1:], row[1:], strict=True)) for row in rows[1:]}


def test_results_table_has_a_row_per_encoder_paper_and_chance(built, experiment):
    _, page = built
    table = results_table(page)
    assert list(table) == ["tiny", "random-tiny", "official-tiny", "paper", "chance"]
    appearance = "faces / appearance / finetune: acc_micro"
    assert list(table["tiny"]) == [
        appearance,
        "faces / emotion / probe: war",
        "faces / emotion / probe-k2: war",
    ]
    root, _ = experiment
    document = json.loads(
        (root / EXP / "downstream/faces/appearance/finetune/tiny/metrics.json").read_text()
    )
    stats = document["summary"]["acc_micro"]
    low = np.mean([run["metrics"]["acc_micro"]["low"] for run in document["runs"]])
    high = np.mean([run["metrics"]["acc_micro"]["high"] for run in document["runs"]])
    assert table["tiny"][appearance] == (
        f"{stats['mean']:.3f} [{low:.3f}, {high:.3f}] (± {stats['std']:.3f})"
    )
    assert float(table["tiny"][appearance].split()[0]) > 0.8  # the scores follow the labels
    assert table["official-tiny"][appearance] == ""  # planned, no result
    assert table["paper"][appearance] == "0.9390 (ViT-B, likely)"
    assert table["paper"]["faces / emotion / probe: war"] == ""


def test_chance_is_the_majority_class_of_the_training_split(built):
    _, page = built
    chance = results_table(page)["chance"]
    assert chance["faces / emotion / probe: war"] == "0.667"  # 4 of the 6 test videos are happy
    assert chance["faces / emotion / probe-k2: war"] == "0.667"


def test_paired_differences_against_the_reference_have_intervals(built):
    _, page = built
    rows = table_with(page, "difference")
    assert rows[0] == [
        "dataset",
        "task",
        "protocol",
        "metric",
        "encoder",
        "reference",
        "videos",
        "difference",
    ]
    by_task = {(row[1], row[2]): row for row in rows[1:]}
    assert set(by_task) == {
        ("appearance", "finetune"),
        ("emotion", "probe"),
        ("emotion", "probe-k2"),
    }
    appearance = by_task[("appearance", "finetune")]
    assert appearance[4:7] == ["random-tiny", "tiny", "40"]
    mean, low, high = map(float, re.fullmatch(r"(\S+) \[(\S+), (\S+)\]", appearance[7]).groups())
    assert low <= mean <= high < 0  # the random encoder is clearly worse


def test_results_tsv_holds_every_number_with_its_data_set(built):
    page_path, _ = built
    long = pd.read_csv(page_path.parent / "results.tsv", sep="\t")
    assert list(long.columns[:2]) == ["dataset", "task"] and set(long["dataset"]) == {"faces"}
    assert len(long) == 12  # 3 (task, protocol) × 2 encoders × 2 main metrics
    assert set(long["n"]) == {2}
    assert (page_path.parent / "differences.tsv").is_file()


def test_headline_metrics_document_for_dvc(built, experiment):
    root, _ = experiment
    document = json.loads((root / EXP / "metrics.json").read_text())
    assert document["pretrain"]["tiny"]["best_val_loss_rec"] == pytest.approx(0.7)
    cells = document["downstream"]["faces"]["appearance"]["finetune"]
    assert set(cells) == {"tiny", "random-tiny"}
    assert set(cells["tiny"]) == {"acc_micro", "auc_micro"}
    summary = json.loads(
        (root / EXP / "downstream/faces/appearance/finetune/tiny/metrics.json").read_text()
    )["summary"]
    assert cells["tiny"]["auc_micro"] == {
        "mean": summary["auc_micro"]["mean"],
        "std": summary["auc_micro"]["std"],
    }
    assert set(document["downstream"]["faces"]["emotion"]) == {"probe", "probe-k2"}


def test_figures_exist_and_are_pngs(built):
    page_path, page = built
    assert sorted(page.images) == [
        f"figures/{name}.png"
        for name in (
            "curves_tiny",
            "label_efficiency",
            "masks",
            "pca_faces_tiny",
            "reconstruction_tiny",
            "sheet_faces_v0",
            "sheet_faces_v1",
        )
    ]
    for src in page.images:
        assert not src.startswith(("http", "/")), src  # relative: the folder moves as a whole
        with Image.open(page_path.parent / src) as image:
            assert image.format == "PNG"
            image.verify()


def test_latest_reconstruction_is_shown(built, experiment):
    page_path, _ = built
    root, _ = experiment
    latest = root / EXP / "encoders/tiny/reconstructions/epoch_0001.png"
    assert (
        page_path.parent / "figures/reconstruction_tiny.png"
    ).read_bytes() == latest.read_bytes()


def test_skipped_videos_are_listed_once_with_reason_and_category(built):
    _, page = built
    counts = table_with(page, "not usable")
    assert counts[1:] == [["download", "5", "4", "1"], ["parse", "5", "3", "2"]]
    skipped = table_with(page, "category")
    assert skipped[0] == ["id", "stage", "category", "reason"]
    assert skipped[1:] == [
        ["v4", "download", "not_found", "HTTP Error 404: Not Found"],
        ["v3", "parse", "no_face", "no face in 95% of the frames"],
    ]


def test_each_data_set_shows_what_the_encoder_sees_per_crop(built):
    _, page = built
    composition = table_with(page, "background %")
    assert composition[0] == [
        "crop",
        "videos",
        "background %",
        "skin %",
        "parts %",
        "background % p10-p90",
    ]
    assert composition[1:] == [
        ["official", "1", "20", "65", "15", "20-20"],
        ["similarity", "2", "77", "14", "9", "75-79"],
    ]
    assert any("(fasking 0.9, 8x14x14 tokens)" in text for text in page.paragraphs)


def test_missing_inputs_leave_notes_not_errors(experiment, tmp_path):
    """A plan whose files are not there yet (only the plan was copied): notes, and no banner."""
    _, plan = experiment
    document = json.loads(plan.read_text()) | {"sample": False}
    write_json(tmp_path / "plan.json", document)
    out = tmp_path / "elsewhere" / "report.html"
    page = Page(
        build.build_report(
            Inputs(load_plan(tmp_path / "plan.json", tmp_path), out.parent), out
        ).read_text()
    )
    assert page.banners == [] and page.images == []
    assert len(page.notes) == 7  # every section but the experiment's
    assert any("downstream" in note for note in page.notes)
    assert "No overlap record to read" in " ".join(page.paragraphs)
    assert not (out.parent / "results.tsv").exists()


def test_a_plan_that_does_not_exist_is_refused(tmp_path, capsys):
    assert run_report(tmp_path, tmp_path / "plan.json", tmp_path / "r.html") == 2
    assert not (tmp_path / "r.html").exists()
    plan = tmp_path / "plan.json"
    error = capsys.readouterr().err
    assert error == f"marlinflow report: error: {plan}: experiment plan not found\n"


def test_damaged_inputs_are_noted_and_the_rest_is_drawn(experiment, tmp_path):
    """A garbled learning-curve file and summary spoil their own sections only."""
    root, plan = experiment
    for folder in (f"{EXP}/downstream", f"{DS}/contact_sheets", f"{DS}/tasks"):
        shutil.copytree(root / folder, tmp_path / folder)
    shutil.copy(plan, tmp_path / "plan.json")
    run = tmp_path / EXP / "encoders" / "tiny"
    run.mkdir(parents=True)
    (run / "metrics.csv").write_text("epoch,step,train/loss_rec\n0,0,x\n")
    (tmp_path / DS / "download_summary.tsv").write_text("id\tstage\tok\nv0\tdownload\tTrue\n")
    out = tmp_path / "report"
    page = Page(
        build.build_report(
            Inputs(load_plan(tmp_path / "plan.json", tmp_path), out), out / "index.html"
        ).read_text()
    )
    assert page.sections[1] == "results" and len(results_table(page)) == 5
    csv_note = f"Could not be drawn: {run / 'metrics.csv'}: no learning curves"
    assert any(note.startswith(csv_note) and "'x'" in note for note in page.notes)
    summary_note = (
        f"Could not be drawn: {tmp_path / DS / 'download_summary.tsv'}: stage summary lacks"
    )
    assert any(note.startswith(summary_note) and "reason" in note for note in page.notes)
    assert "figures/sheet_faces_v0.png" in page.images


def test_differences_cover_every_encoder_but_the_reference(experiment):
    root, plan = experiment
    long = parts_results.tables.downstream_results(load_plan(plan, root))
    found = parts_results.differences(load_plan(plan, root), long, n_resamples=20)
    assert len(found) == 3 and (found["low"] <= found["high"]).all()
