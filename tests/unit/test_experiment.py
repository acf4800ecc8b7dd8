"""Experiments from configs: data sets by their config files, corpus, encoders, suite, and the
refusal of a corpus that holds an evaluation video."""

from __future__ import annotations

import copy

import pandas as pd
import pytest
import yaml

from marlinflow.config import load_config, validate_config
from marlinflow.errors import InputError
from marlinflow.experiment.plan import downstream_runs, plan_document
from marlinflow.experiment.spec import (
    check_overlap,
    check_tasks,
    corpus_groups,
    corpus_ids,
    experiment_from_config,
)
from tests.conftest import REPO_ROOT

BASE = REPO_ROOT / "config/config.yaml"


def config_with(tmp_path, text: str) -> dict:
    extra = tmp_path / "experiment.yaml"
    extra.write_text(text)
    return load_config(BASE, extra)


def manifest(ids_by_split: dict[str, list[str]], source=lambda i: f"{i}.mp4") -> pd.DataFrame:
    rows = [
        {"id": i, "source": source(i), "split": split}
        for split, ids in ids_by_split.items()
        for i in ids
    ]
    return pd.DataFrame(rows)


def test_a_single_data_set_config_is_the_simplest_experiment():
    config = load_config(BASE)
    experiment = experiment_from_config(config)
    assert experiment.name == "sample" and list(experiment.datasets) == ["sample"]
    assert experiment.corpus == {"sample": ("train",)}  # the data set is evaluated: train only
    assert list(experiment.encoders) == ["tiny", "videomae-tiny", "random-tiny"]
    assert experiment.encoders["videomae-tiny"].pretrain == {
        "mask_strategy": "tube",
        "adv_weight": 0.0,
    }
    assert experiment.reference == "tiny"
    (evaluation,) = experiment.suite
    assert evaluation.tasks == ("expression", "attributes", "fake")


def test_a_pretraining_set_alone_pretrains_on_all_of_it():
    config = load_config(BASE, REPO_ROOT / "config/datasets/youtube_faces.yaml")
    experiment = experiment_from_config(config)
    assert experiment.corpus == {"ytf": ("train", "val", "test")} and experiment.suite == []


def test_the_paper_experiment_reads_each_data_set_from_its_config(tmp_path):
    config = load_config(BASE, REPO_ROOT / "config/experiments/marlin_paper.yaml")
    experiment = experiment_from_config(config)
    assert experiment.corpus == {"ytf": ("train", "val", "test")}
    assert experiment.datasets["celebvhq"].config["builder"] == "celebv_hq"
    assert experiment.datasets["ffpp_c40"].config["compression"] == "c40"
    assert set(experiment.datasets["mosei"].tasks) == {"emotion", "sentiment"}
    pretrained = experiment.encoders_of("pretrain")
    assert {name: e.model for name, e in pretrained.items()} == {
        "marlin-vit-small": "small",
        "marlin-vit-base": "base",
        "marlin-vit-large": "large",
        "videomae-vit-base": "base",
    }
    # the released weights wait for their paths, and say so
    assert not experiment.encoders_of("external")
    assert any("official-vit-base" in note for note in experiment.notes)
    runs = downstream_runs(experiment, config["downstream"])
    assert {(r.dataset, r.task) for r in runs} >= {
        ("dfew", "expression-fold5"),
        ("ffpp", "face2face-c23"),
    }
    assert not any(r.dataset == "ytf" for r in runs)


def test_pretraining_from_videomae_or_from_scratch_is_a_choice_the_run_states(tmp_path):
    """The official runs start from a VideoMAE checkpoint: an official-size encoder without
    one is noted, a checkpoint that is not there is refused before anything runs, and scratch
    says random weights are meant."""
    config = load_config(BASE, REPO_ROOT / "config/experiments/marlin_paper.yaml")
    (note,) = [n for n in experiment_from_config(config).notes if "pretrain.init" in n]
    assert "'marlin-vit-base'" in note and "'videomae-vit-base'" in note
    checkpoint = tmp_path / "videomae_base.pth"
    checkpoint.write_bytes(b"")
    for init in (str(checkpoint), "scratch"):
        config["pretrain"]["init"] = init
        assert not any("pretrain.init" in n for n in experiment_from_config(config).notes)
    config["pretrain"]["init"] = str(tmp_path / "absent.pth")
    with pytest.raises(InputError, match="absent.pth: pretrain.init of encoder 'marlin-vit-small'"):
        experiment_from_config(config)
    # the tiny sample has no VideoMAE checkpoint to start from: nothing to note
    assert experiment_from_config(load_config(BASE)).notes == []


def test_an_external_encoder_with_its_weights_joins_the_experiment(tmp_path):
    weights = tmp_path / "marlin_vit_base_ytf.encoder.pt"
    weights.write_bytes(b"")
    config = load_config(BASE, REPO_ROOT / "config/experiments/marlin_paper.yaml")
    config["experiment"]["encoders"]["official-vit-base"]["weights"] = str(weights)
    experiment = experiment_from_config(validate_config(config))
    assert experiment.encoders["official-vit-base"].weights == str(weights)
    config["experiment"]["encoders"]["official-vit-base"]["weights"] = str(tmp_path / "nope.pt")
    with pytest.raises(InputError, match="nope.pt"):
        experiment_from_config(config)


def sample_experiment(tmp_path, corpus_splits="[train]", corpus="sample"):
    return config_with(
        tmp_path,
        f"""
experiment:
  name: check
  datasets:
    sample: {{config: {BASE}}}
    other: {{builder: sample, seed: 1}}
  corpus: [{{dataset: {corpus}, splits: {corpus_splits}}}]
  suite: [{{dataset: sample, tasks: [fake]}}]
""",
    )


def test_a_corpus_holding_evaluation_videos_is_refused_naming_them(tmp_path):
    experiment = experiment_from_config(sample_experiment(tmp_path, "[train, test]"))
    manifests = {"sample": manifest({"train": ["a", "b"], "val": ["c"], "test": ["d", "e"]})}
    with pytest.raises(InputError, match=r"2 val/test video\(s\).*sample/d, sample/e"):
        check_overlap(experiment, manifests, {"sample": str(tmp_path)})
    # train only: nothing overlaps, and the record says what was checked
    experiment = experiment_from_config(sample_experiment(tmp_path))
    record = check_overlap(experiment, manifests, {"sample": str(tmp_path)})
    assert record["corpus"] == {"sample": {"splits": ["train"], "videos": 2}}
    assert record["evaluation"] == {"sample": {"val": 1, "test": 2}} and record["overlap"] == []


def test_pretraining_gets_the_groups_of_its_corpus_videos(tmp_path):
    """The corpus videos' groups (the manifest's group column), keyed by data set and id, for
    the pretraining run's validation split; ungrouped and held-out videos are left out."""
    experiment = experiment_from_config(sample_experiment(tmp_path, "[train, val]", "other"))
    other = manifest({"train": ["x", "y", "z"], "val": ["w"], "test": ["v"]})
    other["group"] = ["ann", "ann", "", "bob", "cid"]
    manifests = {"other": other, "sample": manifest({"train": ["a"], "test": ["b"]})}
    corpus = corpus_ids(experiment, manifests)
    assert corpus == {"other": ["x", "y", "z", "w"]}
    assert corpus_groups(corpus, manifests) == {
        "other/x": "ann",
        "other/y": "ann",
        "other/w": "bob",
    }
    assert corpus_groups({"sample": ["a"]}, manifests) == {}  # no group column


def test_the_same_video_under_two_data_sets_is_refused(tmp_path):
    experiment = experiment_from_config(sample_experiment(tmp_path, "[train, val, test]", "other"))
    shared = tmp_path / "shared.mp4"
    shared.write_bytes(b"video")
    manifests = {
        "other": manifest({"train": ["x", "y"]}, lambda i: str(shared) if i == "y" else "x.mp4"),
        # the same file, spelled relative to another root
        "sample": manifest(
            {"train": ["a"], "test": ["b"]}, lambda i: "../shared.mp4" if i == "b" else "a.mp4"
        ),
    }
    roots = {"other": str(tmp_path), "sample": str(tmp_path / "sub")}
    (tmp_path / "sub").mkdir()
    with pytest.raises(InputError, match="other/y = sample/b"):
        check_overlap(experiment, manifests, roots)


def test_youtube_sources_are_compared_by_video_id(tmp_path):
    experiment = experiment_from_config(sample_experiment(tmp_path, "[train]", "other"))
    manifests = {
        "other": manifest({"train": ["x"]}, lambda i: "https://youtu.be/abcdefghijk"),
        "sample": manifest(
            {"test": ["b"]}, lambda i: "https://www.youtube.com/watch?v=abcdefghijk&t=3"
        ),
    }
    with pytest.raises(InputError, match="other/x = sample/b"):
        check_overlap(experiment, manifests, {"other": ".", "sample": "."})


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"corpus": [{"dataset": "nowhere"}]}, "not in experiment.datasets"),
        ({"suite": [{"dataset": "sample", "tasks": ["nope"]}]}, "no task"),
        ({"reference": "nobody"}, "not one of the encoders"),
        ({"corpus": []}, "need a corpus"),
        ({"encoders": {"bad/name": {}}}, "folder name"),
        ({"encoders": {"x": {"pretrain": {"mask_strategy": "nope"}}}}, "mask_strategy"),
        ({"datasets": {"sample": {"config": "nowhere.yaml"}}}, "nowhere.yaml"),
        ({"datasets": {"bad/name": {"builder": "sample"}}}, "bad/name"),
        ({"name": None}, "set a name"),
        ({"encoders": {"x": {"model": "huge"}}}, "huge"),
    ],
)
def test_inconsistent_experiments_are_refused_before_anything_runs(tmp_path, change, message):
    config = sample_experiment(tmp_path)
    config["experiment"] |= copy.deepcopy(change)
    with pytest.raises(InputError, match=message):
        experiment_from_config(validate_config(config))


def test_a_corpus_split_without_videos_is_refused(tmp_path):
    experiment = experiment_from_config(sample_experiment(tmp_path, "[val]"))
    manifests = {"sample": manifest({"train": ["a"], "test": ["b"]})}
    with pytest.raises(InputError, match=r"'sample' has no video in the splits \['val'\]"):
        check_overlap(experiment, manifests, {"sample": str(tmp_path)})


def test_the_plan_lists_every_report_input(tmp_path):
    config = sample_experiment(tmp_path)
    experiment = experiment_from_config(config)
    manifests = {"sample": manifest({"train": ["a", "b"], "test": ["d"]})}
    plan = plan_document(
        experiment, manifests, {"sample": ["a", "b"]}, config["downstream"], config["report"]
    )
    assert plan["experiment"] == "check" and plan["sample"] is True
    assert plan["datasets"]["sample"]["roles"] == ["corpus", "evaluation"]
    assert plan["datasets"]["sample"]["tasks"] == {"fake": "results/datasets/sample/tasks/fake.tsv"}
    assert plan["corpus"] == [{"dataset": "sample", "splits": ["train"], "videos": 2}]
    metrics = {entry["metrics"] for entry in plan["results"]}
    assert (
        "results/experiments/check/downstream/sample/fake/probe-k2/random-tiny/metrics.json"
        in metrics
    )
    assert yaml.safe_dump(plan)  # plain data throughout


@pytest.mark.parametrize("model", ["huge", {"name": "tiny", "img_size": 60}])
def test_a_model_that_cannot_be_built_is_refused_before_the_first_job(model):
    config = load_config(BASE)
    config["model"] = model
    with pytest.raises(InputError, match="config: model: .*(unknown model size|multiple)"):
        experiment_from_config(config)


def test_manifest_tasks_need_their_label_columns(tmp_path):
    """Your own manifest under the sample's settings inherits the sample's tasks: refused up
    front, naming the columns, instead of failing after the videos were processed."""
    config = load_config(BASE)
    config["dataset"] |= {"name": "mine", "builder": "manifest", "manifest": "mine.tsv"}
    experiment = experiment_from_config(config)
    with pytest.raises(InputError, match=r"task 'expression'.*\['expression'\].*tasks: \[\]"):
        check_tasks(experiment, {"mine": manifest({"train": ["a"], "test": ["b"]})})
    labelled = manifest({"train": ["a"], "test": ["b"]}).assign(
        expression="x", attr_gray=0, attr_bright=1, attr_blur=0, fake=1
    )
    check_tasks(experiment, {"mine": labelled})  # every column there: no complaint


LIPSYNC_SUITE = """
experiment:
  name: ls
  datasets:
    sample: {config: config/config.yaml}
    talk: {builder: sample, seed: 2}
  corpus: [{dataset: sample, splits: [train]}]
  encoders: {tiny: {}, videomae-tiny: {pretrain: {mask_strategy: tube}}, random-tiny: {kind: random}}
  suite:
    - {dataset: sample, tasks: [fake], protocols: [probe, lipsync]}
    - {dataset: talk, protocols: [lipsync]}
"""


def test_lip_sync_is_a_protocol_run_once_per_data_set(tmp_path):
    config = config_with(tmp_path, LIPSYNC_SUITE)
    experiment = experiment_from_config(config)
    assert [e.tasks for e in experiment.suite] == [("fake",), ()]  # lipsync alone: no task
    assert experiment.lipsync_datasets() == ["sample", "talk"]
    assert experiment.task_datasets() == ["sample"]  # no features of talk
    # a generator against the reference's expert and the first baseline's
    assert experiment.generator_encoders() == ["tiny", "videomae-tiny"]
    runs = downstream_runs(experiment, config["downstream"])
    assert {r.protocol for r in runs} == {"probe", "probe-k2"}  # no per-task lipsync run
    assert any("random" in note and "SyncNet" in note for note in experiment.notes)

    manifests = {
        "sample": manifest({"train": ["a"], "test": ["b"]}),
        "talk": manifest({"train": ["c"], "test": ["d"]}),
    }
    plan = plan_document(
        experiment, manifests, {"sample": ["a"]}, config["downstream"], config["report"]
    )
    assert set(plan["datasets"]["talk"]["summaries"]) == {"download", "track", "parse", "audio"}
    talk = plan["lipsync"]["talk"]
    assert talk["videos"] == "results/datasets/talk/sync_videos.tsv"
    assert set(talk["experts"]) == {"tiny", "videomae-tiny", "random-tiny"}
    assert (
        talk["generators"]["tiny"]["frames"]
        == "results/experiments/ls/lipsync/talk/tiny/frames.png"
    )
    assert [f["dataset"] for f in plan["features"]] == ["sample"] * 3


def test_lip_sync_settings_are_checked_before_the_first_job(tmp_path):
    config = config_with(tmp_path, LIPSYNC_SUITE)
    config["lipsync"]["syncnet"] = str(tmp_path / "syncnet_v2.model")
    with pytest.raises(InputError, match="syncnet_v2.model: config: lipsync.syncnet: no such"):
        experiment_from_config(config)
    (tmp_path / "syncnet_v2.model").write_bytes(b"weights")
    assert not any("SyncNet" in note for note in experiment_from_config(config).notes)
    # tasks evaluated by lip sync alone: no protocol would evaluate them
    only_lipsync = LIPSYNC_SUITE.replace("protocols: [probe, lipsync]", "protocols: [lipsync]")
    with pytest.raises(InputError, match=r"tasks \['fake'\] need a protocol besides lipsync"):
        experiment_from_config(config_with(tmp_path, only_lipsync))


def test_the_second_generator_is_trained_against_the_named_baseline(tmp_path):
    named = LIPSYNC_SUITE + "  lipsync_baseline: random-tiny\n"
    experiment = experiment_from_config(config_with(tmp_path, named))
    assert experiment.generator_encoders() == ["tiny", "random-tiny"]
    for wrong in ("nothing", "tiny"):  # not an encoder; the reference itself
        with pytest.raises(InputError, match=f"experiment.lipsync_baseline: '{wrong}' is not"):
            wrong_one = LIPSYNC_SUITE + f"  lipsync_baseline: {wrong}\n"
            experiment_from_config(config_with(tmp_path, wrong_one))
