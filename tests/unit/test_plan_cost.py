"""The cost model behind ``marlinflow plan``: every stage of the paper's experiment costed, numbers
that follow the config and the data linearly, and rates that say where they come from."""

from __future__ import annotations

import json
import math

import pandas as pd
import pytest
import yaml

from marlinflow import datasets
from marlinflow.cli import main
from marlinflow.config import load_config
from marlinflow.experiment.cost import STAGE_NAMES, estimate
from marlinflow.experiment.rates import RATES, clip_rate
from marlinflow.experiment.spec import experiment_from_config
from marlinflow.models import get_size, resolve_size
from tests.conftest import REPO_ROOT

BASE = REPO_ROOT / "config/config.yaml"
PAPER = REPO_ROOT / "config/experiments/marlin_paper.yaml"
SNAKEFILE, PROFILE = REPO_ROOT / "Snakefile", REPO_ROOT / "workflow/profiles/slurm"


def plan_of(*files):
    config = load_config(BASE, *files)
    return estimate(experiment_from_config(config), config, SNAKEFILE, PROFILE)


def write_yaml(path, document: dict) -> str:
    path.write_text(yaml.safe_dump(document))
    return str(path)


@pytest.fixture(scope="module")
def paper():
    config = load_config(BASE, PAPER)
    return estimate(experiment_from_config(config), config, SNAKEFILE, PROFILE)


def test_the_paper_experiment_is_costed_stage_by_stage(paper):
    for stage in STAGE_NAMES:
        assert paper.stages[stage].cpu_hours > 0, stage
    lipsync = ("lip-sync expert", "lip-sync generator", "lip-sync scoring")
    for stage in ("pretrain", "feature extraction", "fine-tune", *lipsync):
        assert paper.stages[stage].gpu_hours > 0, stage
    for stage in ("download", "track", "parse", "audio", "pretrain", "feature extraction"):
        assert paper.stages[stage].bytes > 0, stage
    # every model size the experiment pretrains and evaluates, with its own GPU-hours
    assert set(paper.gpu_by_size) == {"small", "base", "large"}
    base, large = paper.gpu_by_size["base"], paper.gpu_by_size["large"]
    assert large["feature extraction"] > 0 and base["pretrain"] > large["pretrain"] / 10
    # the data sets' files are not here: their published sizes, with the paper named
    assert paper.sizes["celebvhq"].videos == 35_666
    assert paper.sizes["ytf"].videos == 3_425
    assert all(s.source.startswith("published: ") for s in paper.sizes.values())
    # every data set of the paper has more than 2,000 videos: shards of 500 (dataset.shard_size)
    shards = sum(math.ceil(s.videos / 500) for s in paper.sizes.values())
    assert "download_video" not in paper.jobs.rules
    assert paper.jobs.rules["download_shard"] == paper.jobs.rules["parse_shard"] == shards


def test_the_table_states_its_rates_and_where_each_comes_from(capsys, monkeypatch):
    monkeypatch.chdir(REPO_ROOT)
    assert main(["plan", str(PAPER)]) == 0
    text = capsys.readouterr().out
    for stage in (*STAGE_NAMES, "total", "GPU-hours by model size", "SLURM submissions"):
        assert stage in text, stage
    assert "bench/bench_gpu.py" in text and "NVIDIA H200" in text  # command and machine
    assert "*finetune.gpu.32.base" in text  # no measured rate: marked, and said so
    assert main(["plan", str(PAPER), "--json"]) == 0
    document = json.loads(capsys.readouterr().out)
    assert set(document["stages"]) == set(STAGE_NAMES)
    rates = document["rates"]
    assert rates["pretrain.gpu.32.base"] == {**vars(RATES["pretrain.gpu.32.base"])}


def test_tasks_are_costed_on_their_own_rows(paper):
    ffpp, mosei = paper.sizes["ffpp"], paper.sizes["mosei"]
    assert sum(ffpp.task_splits({"options": {}}).values()) == pytest.approx(5000)
    one_method = ffpp.task_splits({"options": {"methods": ["Deepfakes"]}})
    assert sum(one_method.values()) == pytest.approx(2000)  # the originals and one method
    assert one_method["train"] == pytest.approx(2000 * 0.72)  # the official split's share
    assert sum(mosei.task_splits({"options": {}}).values()) == pytest.approx(23_453)  # segments


def test_pretraining_cost_doubles_with_the_epochs(paper, tmp_path):
    doubled = plan_of(PAPER, write_yaml(tmp_path / "long.yaml", {"pretrain": {"epochs": 4000}}))
    for stage in STAGE_NAMES:
        before, after = paper.stages[stage], doubled.stages[stage]
        factor = 2 if stage == "pretrain" else 1
        assert after.gpu_hours == pytest.approx(factor * before.gpu_hours), stage
        assert after.cpu_hours == pytest.approx(factor * before.cpu_hours), stage


def manifest_config(tmp_path, n: int) -> str:
    rows = [
        {"id": f"v{i:04d}", "source": f"videos/v{i:04d}.mp4", "split": "train"} for i in range(n)
    ]
    path = tmp_path / f"manifest{n}.tsv"
    pd.DataFrame(rows).to_csv(path, sep="\t", index=False)
    dataset = {"name": "mine", "builder": "manifest", "manifest": str(path)}
    document = {"dataset": dataset, "downstream": {"tasks": []}, "model": "small"}
    return write_yaml(tmp_path / f"mine{n}.yaml", document)


def test_every_per_video_and_training_row_doubles_with_the_videos(tmp_path):
    one, two = (plan_of(manifest_config(tmp_path, n)) for n in (100, 200))
    assert (one.sizes["mine"].videos, two.sizes["mine"].videos) == (100, 200)
    assert one.sizes["mine"].source == "manifest: 100 rows"  # counted, not published
    for stage in ("download", "track", "parse", "pretrain"):
        assert two.stages[stage].cpu_hours == pytest.approx(2 * one.stages[stage].cpu_hours)
    for stage in ("download", "track", "parse"):
        assert two.stages[stage].bytes == pytest.approx(2 * one.stages[stage].bytes)
    assert two.stages["pretrain"].gpu_hours == pytest.approx(2 * one.stages["pretrain"].gpu_hours)
    assert two.jobs.rules["track_video"] == 2 * one.jobs.rules["track_video"] == 200
    assert two.jobs.groups == {"preprocess": 25}  # 200 videos' steps, 8 videos a job
    # nothing publishes this data set's lengths: the assumption is stated
    assert any(note.startswith("mine all: not known: assumed 10 s") for note in one.notes)


def test_rates_without_a_measurement_say_so():
    for name, rate in RATES.items():
        assert rate.measured == ("BENCHMARKS.md" in rate.source), name
        assert rate.measured or rate.source.startswith("not measured"), name
    name, measured = clip_rate("pretrain", get_size("base"), "gpu", "bf16-mixed")
    assert (name, measured) == ("pretrain.gpu.bf16.base", RATES["pretrain.gpu.bf16.base"])
    for args in (
        ("pretrain", get_size("base"), "cpu", "32"),  # measured on a CPU for small only
        ("finetune", get_size("large"), "gpu", "32"),  # fine-tuning measured on a CPU only
        ("extract", get_size("mini"), "gpu", "bf16-mixed"),  # a size never measured
        ("extract", get_size("base"), "gpu", "16-mixed"),  # fp16 autocast never measured
        ("extract", resolve_size({"name": "base", "enc_depth": 6}), "gpu", "32"),  # changed
    ):
        _, rate = clip_rate(*args)
        assert not rate.measured and rate.source.startswith("not measured: "), args
        assert "BENCHMARKS.md" in rate.source  # and what it was derived from
    changed, _ = clip_rate("extract", resolve_size({"name": "base", "enc_depth": 6}), "gpu", "32")
    assert changed.startswith("extract.gpu.32.base-")  # not the measured base's name
    _, base_cpu = clip_rate("pretrain", get_size("base"), "cpu", "32")
    assert base_cpu.value < RATES["pretrain.cpu.32.small"].value / 3  # base: ~4x small's work


def test_cpu_mixed_precision_is_costed_at_its_measured_rate():
    """bf16 extraction was measured on a CPU: small's rate is that row, other sizes scale it,
    and 16-mixed (which runs as bf16 there) takes it too; a kind never measured at bf16 on a
    CPU is costed as fp32, saying so."""
    name, small = clip_rate("extract", get_size("small"), "cpu", "bf16-mixed")
    assert (name, small) == ("extract.cpu.bf16.small", RATES["extract.cpu.bf16.small"])
    assert small.value > RATES["extract.cpu.32.small"].value
    _, base = clip_rate("extract", get_size("base"), "cpu", "bf16-mixed")
    assert not base.measured and base.value < small.value / 3
    _, fp16 = clip_rate("extract", get_size("base"), "cpu", "16-mixed")
    assert fp16.value == base.value and "runs as bf16-mixed" in fp16.source
    _, step = clip_rate("finetune", get_size("small"), "cpu", "bf16-mixed")
    assert step.value == RATES["finetune.cpu.32.small"].value and "costed as fp32" in step.source


def test_a_run_pinned_to_the_cpu_is_costed_in_cpu_hours_with_its_assumptions(tmp_path):
    pinned = plan_of(PAPER, write_yaml(tmp_path / "cpu.yaml", {"pretrain": {"accelerator": "cpu"}}))
    assert pinned.stages["pretrain"].gpu_hours == 0
    assert pinned.stages["pretrain"].cpu_hours > 0
    assert not pinned.rates["pretrain.cpu.32.base"].measured
    assert pinned.rates["pretrain.cpu.32.small"].measured


def test_every_gated_data_set_publishes_its_size():
    for name, dataset in datasets.registered().items():
        if dataset.gate is None:
            continue
        facts = dataset.published
        assert facts is not None and facts.source, name
        assert facts.videos > 0 and facts.seconds > 0 and facts.fps > 0, name
        assert sum(facts.splits.values()) == pytest.approx(1), name


def test_lip_sync_is_costed_by_its_steps_and_its_test_videos(paper, tmp_path):
    """The paper's LRS2 evaluation: an expert per encoder and two generators, their hours
    following the steps set; the audio stage CPU work per video; and the GPU rates, measured on
    CPUs only, derived and saying so."""
    assert paper.sizes["lrs2"].videos > 40_000
    assert paper.stages["audio"].gpu_hours == 0 and paper.stages["audio"].cpu_hours > 0
    steps = {"lipsync": {"generator": {"steps": 200_000}, "expert": {"steps": 1}}}
    changed = plan_of(PAPER, write_yaml(tmp_path / "ls.yaml", steps))
    generator, scoring = "lip-sync generator", "lip-sync scoring"
    assert changed.stages[generator].gpu_hours == pytest.approx(
        2 * paper.stages[generator].gpu_hours
    )
    assert changed.stages[scoring].gpu_hours == pytest.approx(paper.stages[scoring].gpu_hours)
    # one step instead of 50,000: what is left is the offset search on the test videos
    expert = changed.stages["lip-sync expert"].gpu_hours
    assert 0 < expert < paper.stages["lip-sync expert"].gpu_hours / 10
    for name in ("lipsync_expert.gpu.32.base", "lipsync_generator.gpu.32.base"):
        assert not paper.rates[name].measured and "x " in paper.rates[name].source
        assert paper.rates[name].unit.endswith("on one GPU")
    for name in ("lipsync_expert", "lipsync_generator", "lipsync_score"):
        assert RATES[f"{name}.cpu.32.small"].measured, name
    on_cpu = plan_of(PAPER, write_yaml(tmp_path / "cpu.yaml", {"lipsync": {"device": "cpu"}}))
    assert on_cpu.stages[generator].gpu_hours == 0 < on_cpu.stages[generator].cpu_hours
    assert any("lipsync.expert.steps" in note for note in paper.notes)
