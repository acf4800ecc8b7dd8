"""The data set registry: names come from the data set modules, and a new data set is one module."""

from __future__ import annotations

import os
import sys
from importlib.metadata import EntryPoint

import pandas as pd
import pytest

from marlinflow import cli, datasets
from marlinflow.commands.task import workflow_arguments
from marlinflow.config import validate_config
from marlinflow.config.schemas import load_schema
from marlinflow.datasets import registry
from marlinflow.downstream.tasks import load_task
from marlinflow.errors import InputError
from marlinflow.experiment.plan import label_budgets
from marlinflow.experiment.spec import experiment_from_config

# A data set nobody ships: clips in <root>/clips/, a smile score per clip in <root>/smiles.csv.
SMILES = '''"""Smiles: short clips, each with a smile score."""

import pandas as pd

from marlinflow.datasets import Dataset, Gate, Option, TaskBuilder
from marlinflow.datasets.common import require_root
from marlinflow.downstream.splits import split_of
from marlinflow.downstream.tasks import Task


def manifest(cfg):
    root = require_root(DATASET, cfg["root"])
    clips = sorted((root / "clips").glob("*.mp4"))
    return pd.DataFrame(
        {"id": c.stem, "source": f"clips/{c.name}", "split": split_of(c.stem, seed=cfg["seed"])}
        for c in clips
    )


def score(source, seed, scale):
    table = pd.read_csv(source, dtype={"id": str})
    table["split"] = [split_of(i, seed=seed) for i in table["id"]]
    table["label"] = table["smile"] * scale
    return Task("smiles_score", "regression", [], table[["id", "split", "label"]])


SCALE = Option("scale", "what the scores are multiplied by", type=float, default=1.0)
DATASET = Dataset(
    "smiles",
    "Smiles",
    manifest,
    gate=Gate("https://example.org/smiles", "clips", "put the clips in <root>/clips/"),
    tasks=(TaskBuilder("smiles_score", "smiles.csv", score, "regression", options=(SCALE,)),),
)
'''


@pytest.fixture
def fresh_registry(tmp_path):
    """A registry read anew, and forgotten with the modules it imported from ``tmp_path``."""
    registry._discover.cache_clear()
    yield
    registry._discover.cache_clear()
    for name, module in list(sys.modules.items()):
        if str(getattr(module, "__file__", None) or "").startswith(str(tmp_path)):
            del sys.modules[name]


@pytest.fixture
def plugins(tmp_path, monkeypatch, fresh_registry):
    """A folder on the registry's search path."""
    folder = tmp_path / "plugins"
    folder.mkdir()
    monkeypatch.setattr(datasets, "__path__", [*datasets.__path__, str(folder)])
    return folder


@pytest.fixture
def smiles_root(tmp_path):
    root = tmp_path / "smiles"
    (root / "clips").mkdir(parents=True)
    for name in ("a", "b", "c", "d"):
        (root / "clips" / f"{name}.mp4").touch()
    (root / "smiles.csv").write_text("id,smile\na,0.5\nb,1.5\nc,0\nd,2\n")
    return root


def test_lookups_name_the_known_names():
    with pytest.raises(
        datasets.UnknownName, match=r"data set 'nope'.*'celebv_hq'.*'youtube_faces'"
    ):
        datasets.get("nope")
    with pytest.raises(datasets.UnknownName, match=r"task 'nope'.*'csv'.*'dfew'"):
        datasets.task("nope")
    assert datasets.get("faceforensics").tasks == (datasets.task("faceforensics"),)


def test_config_names_and_task_options_are_checked_against_the_registry():
    tasks = [
        {"name": "a", "adapter": "nope"},
        {"name": "b", "adapter": "faceforensics", "options": {"compression": "c0", "fold": 1}},
        {"name": "c", "adapter": "dfew", "options": {"fold": 6}},
    ]
    with pytest.raises(InputError) as err:
        validate_config({"dataset": {"builder": "nope"}, "downstream": {"tasks": tasks}}, "c.yaml")
    message = str(err.value)
    assert message.startswith("c.yaml: invalid config:")
    assert "dataset.builder: 'nope' is not one of ['celebv_hq'," in message
    assert "downstream.tasks.0.adapter: 'nope' is not one of ['celebv_hq_action'," in message
    assert (
        "downstream.tasks.1.options.compression: 'c0' is not one of ['raw', 'c23', 'c40']"
        in message
    )
    assert "downstream.tasks.1.options.fold: not an option of task 'faceforensics'" in message
    assert "downstream.tasks.2.options.fold: 6 is not one of [1, 2, 3, 4, 5]" in message
    entry = {"builder": "sample", "tasks": [{"name": "t", "adapter": "csv", "options": {"x": 1}}]}
    with pytest.raises(InputError, match=r"experiment\.datasets\.s\.tasks\.0\.options\.x"):
        validate_config({"experiment": {"datasets": {"s": entry}}})


def test_faceforensics_compressions_are_the_schema_s_and_name_the_folders(tmp_path, capsys):
    schema = load_schema("config")["properties"]["dataset"]["properties"]["compression"]["enum"]
    options = {option.name: option for option in datasets.task("faceforensics").options}
    assert options["compression"].choices == tuple(schema) == ("raw", "c23", "c40")
    argv = ["task", "faceforensics", str(tmp_path), "--out", str(tmp_path / "t.tsv")]
    with pytest.raises(SystemExit):
        cli.main([*argv, "--compression", "c0"])
    assert "invalid choice: 'c0'" in capsys.readouterr().err
    assert cli.main([*argv, "--compression", "raw"]) == 2  # accepted, but nothing downloaded
    assert "splits/train.json" in capsys.readouterr().err


def test_a_new_data_set_is_one_module(plugins, smiles_root, tmp_path):
    (plugins / "smiles.py").write_text(SMILES)
    task = {
        "name": "score",
        "adapter": "smiles_score",
        "source": "smiles.csv",
        "options": {"scale": 2},
    }
    config = validate_config(
        {
            "dataset": {"name": "mine", "builder": "smiles", "root": str(smiles_root)},
            "downstream": {"tasks": [task], "low_label": {"fractions": [0.5], "k_per_class": [1]}},
        }
    )
    # what the workflow does with it (workflow/rules/common.smk)
    experiment = experiment_from_config(config)
    dataset = experiment.datasets["mine"]
    manifest = datasets.build_manifest(dataset.config)
    assert manifest["id"].tolist() == ["a", "b", "c", "d"]
    assert datasets.source_root(dataset.config) == str(smiles_root)
    spec = dataset.tasks["score"]
    # a regression task: a share of the train rows, but no k per class
    assert list(label_budgets(config["downstream"]["low_label"], spec)) == ["frac0.5"]
    out = tmp_path / "tasks" / "score.tsv"
    source = os.path.join(smiles_root, spec["source"])
    argv = workflow_arguments(spec, source, dataset.config["seed"], str(smiles_root))
    assert cli.main(["task", *argv, "--out", str(out)]) == 0
    table = load_task(out).table.set_index("id")
    assert table["label"].to_dict() == {"a": 1.0, "b": 3.0, "c": 0.0, "d": 4.0}
    with pytest.raises(InputError, match=r"Smiles is read from .*example\.org/smiles"):
        datasets.build_manifest(validate_config({"dataset": {"builder": "smiles"}})["dataset"])


def test_installed_packages_add_data_sets_through_entry_points(
    tmp_path, monkeypatch, fresh_registry
):
    (tmp_path / "smiles_plugin.py").write_text(SMILES)
    monkeypatch.syspath_prepend(str(tmp_path))
    entry = EntryPoint("smiles", "smiles_plugin", registry.ENTRY_POINTS)
    monkeypatch.setattr(registry, "entry_points", lambda group: [entry])
    assert datasets.get("smiles").title == "Smiles"
    assert datasets.task("smiles_score").kind == "regression"


@pytest.mark.parametrize(
    ("module", "error"),
    [
        (SMILES.replace('"smiles",', '"dfew",'), r"plugins.*\['dfew'\] already taken"),
        (SMILES.replace('"smiles_score"', '"csv"'), r"\['csv'\] already taken"),
        ("SOMETHING = 1\n", "exposes DATASET"),
    ],
)
def test_a_module_must_declare_one_data_set_of_new_names(plugins, module, error):
    (plugins / "plugins_mine.py").write_text(module)
    with pytest.raises((ValueError, TypeError), match=error):
        datasets.registered()


def test_task_builders_fill_option_defaults_and_refuse_unknown_options(tmp_path):
    path = tmp_path / "mine.csv"
    pd.DataFrame({"id": ["a", "b"], "mood": ["calm", "tense"]}).to_csv(path, index=False)
    task = datasets.task("csv").make(path, kind="multiclass", label_columns=["mood"])
    assert task.name == "mine" and task.classes == ["calm", "tense"]
    with pytest.raises(TypeError, match="no option"):
        datasets.task("csv").make(path, colour="red")


def test_workflow_arguments_take_spec_keys_and_files_under_the_root():
    csv = {"name": "fake", "adapter": "csv", "kind": "binary", "label_columns": ["fake"]}
    csv["options"] = {}
    arguments = " ".join(workflow_arguments(csv, "m.tsv", 3, "/data"))
    assert arguments == "csv m.tsv --seed 3 --task-name fake --kind binary --label-columns fake"
    mosei = {"name": "e", "adapter": "cmu_mosei_emotion", "kind": None, "label_columns": None}
    mosei["options"] = {"folds": "folds.py"}
    assert workflow_arguments(mosei, "/data/l.csd", 0, "/data")[-2:] == [
        "--folds",
        "/data/folds.py",
    ]
