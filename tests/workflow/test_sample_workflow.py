"""The sample experiment end to end (pretraining on one data set, evaluation on another, an
external encoder beside ours), a rerun that has nothing to do, and bad videos that drop out."""

from __future__ import annotations

import json
from html.parser import HTMLParser

import pandas as pd

from marlinflow import Marlin
from marlinflow.face.store import FaceTrack, load_parsing
from marlinflow.layout import DatasetLayout, ExperimentLayout
from marlinflow.weights.checkpoints import read_encoder_info
from tests.workflow.conftest import SAMPLE_ARGS, snakemake

EXP = ExperimentLayout("sample")
EVALUATED, CORPUS = DatasetLayout("sample"), DatasetLayout("sample_corpus")
ENCODERS = ("tiny", "videomae-tiny", "random-tiny", "official-tiny")
TASKS = ("expression", "fake")  # the small run's suite (conftest.SMALL_SAMPLE)


def test_every_stage_ran_on_every_video(sample_project):
    for dataset, videos in ((EVALUATED, 8), (CORPUS, 6)):
        for stage in ("download", "track", "parse"):
            summary = pd.read_csv(sample_project / dataset.summary(stage), sep="\t")
            assert len(summary) == videos and summary["ok"].all(), summary
    track = FaceTrack.load(sample_project / "data/interim/sample/faces/sample00.json")
    labels, present = load_parsing(sample_project / "data/interim/sample/parsing/sample00.npz")
    assert len(track) == len(labels) == 40 and present.mean() > 0.9
    assert {4, 5, 6, 7} <= set(labels[0].ravel())  # eyes, nose, lips where the face is


def test_pretraining_saw_the_corpus_and_nothing_else(sample_project):
    for encoder in ("tiny", "videomae-tiny"):
        corpus = pd.read_csv(sample_project / EXP.encoder_dir(encoder) / "corpus.tsv", sep="\t")
        assert set(corpus["dataset"]) == {"sample_corpus"} and len(corpus) == 6
        assert set(corpus["role"]) == {"train", "val"}
    overlap = json.loads((sample_project / EXP.overlap).read_text())
    assert overlap["checked"] and overlap["overlap"] == []
    assert overlap["corpus"] == {"sample_corpus": {"splits": ["train", "val", "test"], "videos": 6}}
    assert set(overlap["evaluation"]) == {"sample"}


def test_encoders_describe_themselves(sample_project):
    baseline = json.loads(
        (sample_project / EXP.encoder_dir("videomae-tiny") / "config.json").read_text()
    )
    assert (baseline["mask_strategy"], baseline["adv_weight"]) == ("tube", 0.0)
    encoder = Marlin.from_file(sample_project / EXP.encoder("tiny"))
    assert encoder.size.name == "tiny"
    kinds = {
        name: read_encoder_info(sample_project / EXP.encoder(name))["provenance"]["kind"]
        for name in ENCODERS
    }
    assert kinds == {
        "tiny": "pretrain",
        "videomae-tiny": "pretrain",
        "random-tiny": "random",
        "official-tiny": "external",
    }
    metrics = json.loads((sample_project / EXP.encoder_dir("tiny") / "metrics.json").read_text())
    assert metrics["iterations"] > 0
    run = json.loads((sample_project / EXP.encoder_dir("tiny") / "run.json").read_text())
    assert run["job_type"] == "pretrain" and run["group"].startswith("sample-")
    assert run["name"] == "pretrain tiny" and "experiment:sample" in run["tags"]


def test_downstream_results_for_every_encoder(sample_project):
    for task in TASKS:
        for protocol in ("probe", "finetune"):
            for encoder in ENCODERS:
                path = sample_project / EXP.metrics("sample", task, protocol, encoder)
                assert json.loads(path.read_text())["runs"], path


def test_few_shot_probes_train_on_k_videos_per_class(sample_project):
    """config.yaml's downstream.low_label: k_per_class [2] beside every full-label probe."""
    for encoder in ENCODERS:
        path = sample_project / EXP.metrics("sample", "expression", "probe-k2", encoder)
        few = json.loads(path.read_text())["runs"][0]
        full_path = sample_project / EXP.metrics("sample", "expression", "probe", encoder)
        full = json.loads(full_path.read_text())
        assert few["config"]["k_per_class"] == 2
        task = pd.read_csv(sample_project / EVALUATED.task_table("expression"), sep="\t")
        per_class = task[task["split"] == "train"].groupby("label").size()
        assert few["counts"]["n_train"] == per_class.clip(upper=2).sum()
        assert full["runs"][0]["counts"]["n_train"] == per_class.sum()
        # val and test stay whole: the few-shot numbers are on the same test videos
        assert few["counts"]["n_test"] == full["runs"][0]["counts"]["n_test"]


class _Collect(HTMLParser):
    def __init__(self):
        super().__init__()
        self.images, self.tables = [], 0

    def handle_starttag(self, tag, attrs):
        self.images += [dict(attrs)["src"]] if tag == "img" else []
        self.tables += tag == "table"


def test_the_report_has_its_tables_and_figures(sample_project):
    report = sample_project / EXP.report
    page = _Collect()
    text = (report / "index.html").read_text()
    page.feed(text)
    assert page.tables >= 2 and len(page.images) >= 4
    assert all((report / src).is_file() for src in page.images)
    assert "smoke test" in text.lower()  # the sample's banner
    results = pd.read_csv(report / "results.tsv", sep="\t")
    assert set(results["encoder"]) == set(ENCODERS)  # the external encoder in the same table
    assert set(results["dataset"]) == {"sample"}
    assert set(results["protocol"]) == {"probe", "finetune", "probe-k2"}
    assert "figures/label_efficiency.png" in page.images  # few-shot against full labels


def test_lip_sync_for_every_encoder(sample_project):
    # the talking heads have their voice, the still photo's videos are silent
    audio = pd.read_csv(sample_project / EVALUATED.summary("audio"), sep="\t")
    assert len(audio) == 8 and audio["ok"].sum() == 4  # sample01, 03, 05, 07: carphone
    assert set(audio.loc[~audio["ok"], "category"]) == {"no_audio"}
    videos = pd.read_csv(sample_project / EVALUATED.sync_videos, sep="\t")
    assert sorted(videos["split"]) == ["test", "train", "train", "val"]
    for encoder in ENCODERS:
        expert = json.loads((sample_project / EXP.expert_metrics("sample", encoder)).read_text())
        assert expert["train_videos"] == 2 and expert["videos"] == 1  # test split
        assert 0.0 <= expert["sync_accuracy"] <= 1.0
        assert len(expert["offsets"]) == len(expert["curves"]["sample01"]) == 31  # ±15 frames
    for encoder in ("tiny", "videomae-tiny"):  # the reference's expert and a baseline's
        metrics = json.loads(
            (sample_project / EXP.generator_metrics("sample", encoder)).read_text()
        )
        assert metrics["syncnet"]["real"] is False and metrics["syncnet"]["weights"] == "random"
        assert metrics["videos"] == 1 and metrics["fid"] is None
        assert (sample_project / EXP.generator_frames("sample", encoder)).stat().st_size > 0
    assert not (sample_project / EXP.lipsync("sample", "random-tiny") / "generator.pt").exists()

    text = (sample_project / EXP.report / "index.html").read_text()
    section = text[text.index('id="lipsync"') :]
    assert "RANDOM weights" in section and "figures/lipsync-offsets-sample.png" in section
    assert "figures/lipsync-sample-tiny.png" in section
    headline = json.loads((sample_project / EXP.headline).read_text())["lipsync"]["sample"]
    assert set(headline) == set(ENCODERS) and headline["tiny"]["syncnet_real"] is False


def test_a_second_run_has_nothing_to_do(sample_project):
    result = snakemake(sample_project, "-n", "--cores", "2", *SAMPLE_ARGS)
    assert result.returncode == 0
    assert "Nothing to be done" in result.stdout + result.stderr


def test_bad_videos_drop_out_with_reasons(workflow_copy, carphone):
    data = workflow_copy / "mine"
    data.mkdir()
    (data / "good.mp4").write_bytes(carphone.read_bytes())
    (data / "corrupt.mp4").write_bytes(carphone.read_bytes()[:3000])
    (data / "page.mp4").write_text("<html>not found</html>")
    rows = ["good\tgood.mp4\ttrain", "corrupt\tcorrupt.mp4\ttrain", "page\tpage.mp4\tval"]
    rows.append("absent\tabsent.mp4\ttest")
    (data / "manifest.tsv").write_text("id\tsource\tsplit\n" + "\n".join(rows) + "\n")
    # the README's "your own data", pretraining only
    config = [
        "dataset={name: mine, builder: manifest, manifest: mine/manifest.tsv}",
        "downstream={tasks: []}",
    ]
    target = DatasetLayout("mine").summary("parse")
    result = snakemake(workflow_copy, "--cores", "2", "--config", *config, "--", target)
    assert result.returncode == 0, result.stderr[-5000:]
    summary = pd.read_csv(workflow_copy / target, sep="\t").set_index("id")
    assert summary["ok"].to_dict() == {
        "absent": False,
        "corrupt": False,
        "page": False,
        "good": True,
    }
    reasons = summary["reason"].fillna("")
    assert reasons["absent"].startswith("skipped: download:") and "absent.mp4" in reasons["absent"]
    assert "corrupt.mp4" in reasons["corrupt"] and "page.mp4" in reasons["page"]


def test_snakemake_report_gathers_the_marked_outputs(sample_project, tmp_path):
    import zipfile

    out = tmp_path / "report.zip"
    result = snakemake(sample_project, "--report", str(out), *SAMPLE_ARGS)
    assert result.returncode == 0, result.stderr[-3000:]
    names = zipfile.ZipFile(out).namelist()
    assert any(name.endswith("/report.html") for name in names)
    assert sum(name.endswith(".png") for name in names) >= 6  # contact sheets, report figures
    assert any(name.endswith("metrics.json") for name in names)  # downstream results
