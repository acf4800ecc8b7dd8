"""Experiments through Snakemake: the paper planned in full, a corpus that would see evaluation
videos refused before anything runs, and a pretraining-only experiment that finishes."""

from __future__ import annotations

import json
import re

import yaml

from marlinflow.layout import ExperimentLayout
from tests.workflow.conftest import snakemake
from tests.workflow.test_dataset_dryruns import lay_out

PAPER = "config/experiments/marlin_paper.yaml"
# experiment.datasets entry -> the data set whose published layout it reads
PAPER_DATASETS = {
    "ytf": "youtube_faces",
    "celebvhq": "celebv_hq",
    "mosei": "cmu_mosei",
    "ffpp": "faceforensics",
    "ffpp_c40": "faceforensics",
    "dfew": "dfew",
    "lrs2": "lrs2",
}


def write_config(project, name: str, document: dict) -> str:
    path = project / "config" / name
    path.write_text(yaml.safe_dump(document))
    return f"config/{name}"


def test_the_paper_experiment_plans_in_full_on_slurm(workflow_copy, tmp_path):
    roots = {}
    for entry, published in PAPER_DATASETS.items():
        lay_out(tmp_path / published, published)
        roots[entry] = {"root": str(tmp_path / published)}
    for video in ("original_sequences/youtube", "manipulated_sequences/Deepfakes"):  # FF++ c40
        folder = tmp_path / "faceforensics" / video / "c40/videos"
        folder.mkdir(parents=True)
        (folder / ("000.mp4" if "original" in video else "000_001.mp4")).write_text("")
    official = tmp_path / "marlin_vit_base_ytf.encoder.pt"
    official.write_bytes(b"")  # a dry run only checks that it is there
    videomae = tmp_path / "videomae_vit_base_pretrain.pth"
    videomae.write_bytes(b"")
    mine = write_config(
        workflow_copy,
        "roots.yaml",
        {
            "experiment": {
                "datasets": roots,
                "encoders": {
                    "official-vit-base": {"weights": str(official)},
                    "marlin-vit-base": {"pretrain": {"init": str(videomae)}},
                },
            }
        },
    )
    result = snakemake(
        workflow_copy, "-n", "--profile", "workflow/profiles/slurm", "--configfile", PAPER, mine
    )
    assert result.returncode == 0, result.stderr[-3000:]
    out = result.stdout
    exp = ExperimentLayout("marlin_paper")
    for encoder in ("marlin-vit-small", "marlin-vit-base", "marlin-vit-large", "videomae-vit-base"):
        assert f"{exp.encoder_dir(encoder)}/settings.json" in out  # pretrained on YouTube Faces
    assert exp.encoder("official-vit-base") in out and "rule import_encoder:" in out
    assert "official-vit-small" not in out  # no weights given: left out, with a note
    assert "note: encoder 'official-vit-small' left out" in result.stderr
    # the VideoMAE checkpoint is an input of the encoder's pretraining; the others say they
    # start from random weights
    assert str(videomae) in out
    (note,) = [line for line in result.stderr.splitlines() if "pretrain.init" in line]
    assert "'marlin-vit-small'" in note and "'marlin-vit-base'" not in note
    suite = [
        ("celebvhq", "appearance"),
        ("celebvhq", "action"),
        ("mosei", "emotion"),
        ("mosei", "sentiment"),
        ("ffpp", "deepfake-c23"),
        ("ffpp", "neuraltextures-c23"),
        ("ffpp_c40", "deepfake-c40"),
        ("dfew", "expression-fold3"),
    ]
    for dataset, task in suite:
        for protocol in ("probe", "finetune", "probe-frac0.01"):
            for encoder in ("marlin-vit-base", "random-vit-base", "official-vit-base"):
                assert exp.metrics(dataset, task, protocol, encoder) in out, (dataset, task)
    assert "celebvhq/emotion" not in out  # the suite names CelebV-HQ's tasks it evaluates
    assert "downstream/ytf/" not in out and "data/raw/ytf/" in out
    for rule in ("report_html", "report_wandb", "write_plan", "record_overlap_check"):
        assert f"rule {rule}:" in out
    # lip sync on LRS2: an expert per encoder, generators against MARLIN's and the baseline's
    for encoder in ("marlin-vit-base", "random-vit-base", "official-vit-base"):
        assert exp.expert("lrs2", encoder) in out
    for encoder in ("marlin-vit-base", "videomae-vit-base"):
        assert exp.generator_metrics("lrs2", encoder) in out
    assert exp.generator_metrics("lrs2", "marlin-vit-small") not in out


def test_a_corpus_that_would_see_evaluation_videos_is_refused(workflow_copy):
    leaky = write_config(
        workflow_copy,
        "leaky.yaml",
        {
            "experiment": {
                "name": "leaky",
                "datasets": {"sample": {"config": "config/config.yaml"}},
                "corpus": [{"dataset": "sample", "splits": ["train", "test"]}],
                "suite": [{"dataset": "sample", "tasks": ["fake"]}],
            }
        },
    )
    result = snakemake(workflow_copy, "-n", "--configfile", leaky)
    assert result.returncode != 0
    message = result.stdout + result.stderr
    assert "pretraining would see 8 val/test video(s)" in message
    assert len(set(re.findall(r"sample/sample\d\d", message))) == 8  # the ids, by data set
    assert not (workflow_copy / "data").exists()  # refused before anything ran


def test_a_pretraining_only_experiment_finishes(workflow_copy):
    only = write_config(
        workflow_copy,
        "pretrain_only.yaml",
        {
            "experiment": {
                "name": "corpus_only",
                "datasets": {"faces": {"builder": "sample", "sample_videos": 6}},
                "corpus": [{"dataset": "faces", "splits": ["train", "val", "test"]}],
                "encoders": {"tiny": {}},
            },
            "pretrain": {"epochs": 2},
            "report": {"contact_sheets": 1},
        },
    )
    result = snakemake(workflow_copy, "--cores", "2", "--configfile", only)
    assert result.returncode == 0, result.stderr[-5000:]
    exp = ExperimentLayout("corpus_only")
    assert (workflow_copy / exp.encoder("tiny")).is_file()
    assert (workflow_copy / exp.report / "index.html").is_file()
    text = (workflow_copy / exp.headline).read_text()
    assert "NaN" not in text  # strict JSON, as DVC reads it
    assert set(json.loads(text)["pretrain"]) == {"tiny"}
    assert (workflow_copy / exp.wandb_report).is_file()
