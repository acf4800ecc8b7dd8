"""``snakemake -n`` on each real data-set config: a plan, or a clear word on what to download."""

from __future__ import annotations

import json

import pytest
import yaml

from marlinflow import datasets
from marlinflow.layout import ExperimentLayout
from tests.unit.test_downstream_adapters import write_mosei_csd
from tests.workflow.conftest import snakemake

CONFIGS = sorted(name for name, dataset in datasets.registered().items() if dataset.gate)
TASKS = {
    "celebv_hq": ["appearance", "action", "emotion"],
    "faceforensics": ["deepfake"],
    "dfew": ["expression"],
    "cmu_mosei": ["emotion", "sentiment"],
}


@pytest.mark.parametrize("name", CONFIGS)
def test_without_the_data_it_says_what_to_download(workflow_copy, name):
    result = snakemake(workflow_copy, "-n", "--configfile", f"config/datasets/{name}.yaml")
    assert result.returncode != 0
    output = result.stdout + result.stderr
    assert datasets.get(name).gate.page in output and "dataset.root" in output


def lay_out(root, name):
    """The smallest folder in the data set's published layout."""

    def touch(relative, text=""):
        (root / relative).parent.mkdir(parents=True, exist_ok=True)
        (root / relative).write_text(text)

    if name == "youtube_faces":
        for video in ("0", "1"):
            touch(f"frame_images_DB/Aaron_Eckhart/{video}/0.1.jpg")
    elif name == "celebv_hq":
        clip = {
            "ytb_id": "abcdefghijk",
            "duration": {"start_sec": 1.0, "end_sec": 4.0},
            "attributes": {"appearance": [0] * 40, "action": [0] * 35, "emotion": "neutral"},
        }
        touch("celebvhq_info.json", json.dumps({"clips": {"abcdefghijk_0": clip}}))
    elif name == "voxceleb2":
        touch("dev/mp4/id00012/21Uxsk56VDQ/00001.mp4")
    elif name == "faceforensics":
        for split, pair in (
            ("train", ["000", "001"]),
            ("val", ["002", "003"]),
            ("test", ["4", "5"]),
        ):
            touch(f"splits/{split}.json", json.dumps([pair]))
        touch("original_sequences/youtube/c23/videos/000.mp4")
        touch("manipulated_sequences/Deepfakes/c23/videos/000_001.mp4")
    elif name == "cmu_mosei":  # the labels are read when planning: the manifest is segments
        touch("Raw/Videos/Full/Combined/abc.mp4")
        write_mosei_csd(root / "CMU_MOSEI_Labels.csd", ["abc,1,3,0.5,1,0,0,0,0,0"])
        touch("cmu_mosei_std_folds.py", "standard_train_fold = ['abc']\n")
    elif name == "lrs2":
        for split in ("train", "val", "test"):
            touch(f"mvlrs_v1/{split}.txt", f"555{split}/00001\n")
            touch(f"mvlrs_v1/main/555{split}/00001.mp4")
    elif name == "dfew":
        touch("Clip/original/00001.avi")
        touch("EmoLabel_DataSplit/train(single-labeled)/set_1.csv", "video_name,label\n1,3\n")
        touch("EmoLabel_DataSplit/test(single-labeled)/set_1.csv", "video_name,label\n2,5\n")


@pytest.mark.parametrize("name", CONFIGS)
def test_with_the_data_it_plans_the_run(workflow_copy, tmp_path, name):
    root = tmp_path / name
    lay_out(root, name)
    config = f"dataset={{root: {root}}}"
    result = snakemake(
        workflow_copy, "-n", "--configfile", f"config/datasets/{name}.yaml", "--config", config
    )
    assert result.returncode == 0, result.stderr[-3000:]
    assert "download_video" in result.stdout
    for rule in ("track_video", "parse_video", "pretrain", "report_html"):
        assert f"rule {rule}:" in result.stdout, rule
    # a single data set is the simplest experiment, named after it
    dataset = yaml.safe_load((workflow_copy / f"config/datasets/{name}.yaml").read_text())
    dataset = dataset["dataset"]["name"]
    exp = ExperimentLayout(dataset)
    if name in TASKS:  # the evaluation is planned for every task, with its baselines
        for task in TASKS[name]:
            budgets = ("probe-frac0.01", "probe-frac0.1", "probe-k10")  # downstream.low_label
            for protocol in ("probe", "finetune", *budgets):
                for encoder in ("base", "videomae-base", "random-base"):
                    assert exp.metrics(dataset, task, protocol, encoder) in result.stdout
    else:  # a pretraining set: no evaluation, and pretraining takes every split
        assert "rule probe:" not in result.stdout and "rule extract_features:" not in result.stdout


def test_a_regression_task_gets_fractions_but_no_k_per_class(workflow_copy, tmp_path):
    root = tmp_path / "cmu_mosei"
    lay_out(root, "cmu_mosei")
    task = "{name: score, adapter: cmu_mosei_sentiment, source: CMU_MOSEI_Labels.csd,"
    task += " options: {folds: cmu_mosei_std_folds.py}}"
    config = [f"dataset={{root: {root}}}", f"downstream={{tasks: [{task}]}}"]
    result = snakemake(
        workflow_copy, "-n", "--configfile", "config/datasets/cmu_mosei.yaml", "--config", *config
    )
    assert result.returncode == 0, result.stderr[-3000:]
    assert "downstream/mosei/score/probe-frac0.1/base/metrics.json" in result.stdout
    assert "probe-k10" not in result.stdout  # k per class needs classes
