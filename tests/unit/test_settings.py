"""Each setting is declared once, in the config schema: the settings classes, the verbs' flags,
their help and defaults, and the workflow's options all come from that declaration."""

from __future__ import annotations

import copy
import dataclasses

import pytest

from marlinflow import cli, masking
from marlinflow.commands import _flags
from marlinflow.compute.precision import PRECISIONS
from marlinflow.config import cli_options, settings, validate_config
from marlinflow.config.schemas import load_schema
from marlinflow.download.http import RetryPolicy
from marlinflow.downstream.finetune import FinetuneSettings
from marlinflow.downstream.probe import ProbeSettings
from marlinflow.errors import InputError
from marlinflow.extract import FeatureSettings
from marlinflow.face import align
from marlinflow.face.detect import BACKENDS
from marlinflow.face.parsing_step import ParseSettings
from marlinflow.face.pipeline import TrackConfig
from marlinflow.lipsync.evaluate import EvalSettings
from marlinflow.lipsync.generate import GeneratorSettings
from marlinflow.lipsync.train import ExpertTraining
from marlinflow.models import LAYER_INITS
from marlinflow.pretrain.config import PretrainConfig
from marlinflow.pretrain.schedule import SCHEDULES
from marlinflow.tracking.settings import TrackingSettings

# The section each settings class is made from.
CLASSES = {
    "track": TrackConfig,
    "parse": ParseSettings,
    "download": RetryPolicy,
    "pretrain": PretrainConfig,
    "downstream.probe": ProbeSettings,
    "downstream.finetune": FinetuneSettings,
    "downstream.features": FeatureSettings,
    "tracking": TrackingSettings,
    "lipsync.expert": ExpertTraining,
    "lipsync.generator": GeneratorSettings,
    "lipsync.eval": EvalSettings,
}
# Sections the workflow reads as validated mappings (defaults filled by the schema), not as
# settings of one verb.
WORKFLOW_SECTIONS = {
    "dataset",
    "experiment",
    "downstream",
    "downstream.low_label",
    "report",
    "compute",
    "lipsync",  # its weights files: the workflow gives them to lipsync-eval (--syncnet, --inception)
}
# The verb that takes each section as its flags.
VERBS = [
    ("track", TrackConfig),
    ("parse", ParseSettings),
    ("download", RetryPolicy),
    ("probe", ProbeSettings),
    ("finetune", FinetuneSettings),
    ("extract", FeatureSettings),
    ("lipsync-expert", ExpertTraining),
    ("lipsync-generator", GeneratorSettings),
    ("lipsync-eval", EvalSettings),
]
NOT_FLAGS = {"chunk_size"}  # RetryPolicy's extra: how the code reads, not a user setting


def sections(schema: dict, prefix: str = "") -> dict[str, dict]:
    """Every section with settings of its own, by dotted path."""
    found = {}
    for name, spec in schema.get("properties", {}).items():
        path = f"{prefix}{name}"
        if "properties" in spec:
            if any("properties" not in sub for sub in spec["properties"].values()):
                found[path] = spec
            found |= sections(spec, path + ".")
    return found


def test_every_section_has_one_home():
    assert set(sections(load_schema("config"))) == set(CLASSES) | WORKFLOW_SECTIONS


def test_every_setting_is_documented():
    for path in sections(load_schema("config")):
        for name, spec in settings.properties(path).items():
            assert " ".join(spec.get("description", "").split()), f"{path}.{name}"


@pytest.mark.parametrize("section", sorted(CLASSES))
def test_a_settings_class_is_its_section(section):
    cls = CLASSES[section]
    props = {**settings.properties(section), **cls.EXTRA}
    fields = {field.name: field for field in dataclasses.fields(cls)}
    assert list(fields) == list(props)
    made = cls()
    for name, spec in props.items():
        assert getattr(made, name) == spec.get("default"), f"{section}.{name}"


@pytest.mark.parametrize(("verb", "cls"), VERBS, ids=[verb for verb, _ in VERBS])
def test_a_verb_takes_its_section_as_flags(verb, cls):
    parser = cli.build_parser(verb)
    actions = {a.dest: a for a in parser._subparsers._group_actions[0].choices[verb]._actions}
    for name, spec in cls.schema()["properties"].items():
        if name in NOT_FLAGS:
            continue
        action = actions[name]
        assert action.option_strings[0] == "--" + name.replace("_", "-")
        assert action.default == spec.get("default")
        first_words = " ".join(spec["description"].split()[:4])
        assert first_words in action.help, name


@pytest.mark.parametrize(("verb", "cls"), VERBS, ids=[verb for verb, _ in VERBS])
def test_config_to_flags_to_settings_round_trip(verb, cls):
    """What the workflow passes (``cli_options`` of the section) is what the verb reads."""
    changed = {}
    for name, spec in cls.schema()["properties"].items():
        if name in NOT_FLAGS or spec.get("default") is None:
            continue
        value = spec["default"]
        if "enum" in spec:
            value = spec["enum"][-1]
        elif isinstance(value, bool):
            value = not value
        elif isinstance(value, (int, float)):  # half, or one: inside every range here
            value = (value // 2 if isinstance(value, int) else value / 2) if value else 1
            if value < spec.get("minimum", value):  # a default at its minimum: one more
                value = spec["default"] + 1
        changed[name] = value
    positional = {
        "track": ["in.mp4", "o.status.json"],
        "parse": ["in.json", "o.status.json"],
        "download": ["o.status.json", "--source", "x.mp4"],
        "probe": ["f", "t.tsv", "--out", "o"],
        "finetune": ["t.tsv", "--usable", "u", "--encoder", "e.pt", "--out", "o"],
        "extract": ["v.mp4", "--model", "m", "--out", "o"],
        "lipsync-expert": ["--encoder", "e", "--clips", "c", "--mels", "m", "--out", "o"],
        "lipsync-generator": ["--expert", "e", "--clips", "c", "--mels", "m", "--out", "o"],
        "lipsync-eval": [
            *["--generator", "g", "--clips", "c", "--mels", "m", "--sources", "s"],
            *["--tracks", "t", "--syncnet", "n", "--out", "o"],
        ],
    }[verb]
    args = cli.build_parser(verb).parse_args([verb, *positional, *cli_options(changed)])
    expected = cls.from_dict({**cls().to_dict(), **changed})
    assert cls.from_args(args) == expected


def test_false_is_every_boolean_default():
    """The workflow leaves false flags out (``cli_options``): that is only the same when no
    boolean setting defaults to true."""
    for path in sections(load_schema("config")):
        for name, spec in settings.properties(path).items():
            if spec.get("type") == "boolean":
                assert spec["default"] is False, f"{path}.{name}"


def test_flag_values_are_checked_against_the_schema(capsys):
    with pytest.raises(SystemExit):
        cli.build_parser("track").parse_args(["track", "a.mp4", "o.status.json", "--size", "10"])
    assert "--size: '10': 10 is less than the minimum of 32" in capsys.readouterr().err
    parser = cli.build_parser("probe")
    args = parser.parse_args(["probe", "f", "t.tsv", "--out", "o", "--lr", "1e-3"])
    assert args.lr == 0.001  # YAML 1.1 alone would read 1e-3 as text


def test_mappings_are_checked_and_name_their_source():
    with pytest.raises(InputError, match=r"run.yaml: unknown track settings \['sise'\]"):
        TrackConfig.from_dict({"sise": 100}, "run.yaml")
    with pytest.raises(InputError, match="run.yaml \\(track\\): size: 10 is less than the min"):
        TrackConfig.from_dict({"size": 10}, "run.yaml")
    assert TrackConfig.from_dict({"size": 112}) == TrackConfig(size=112)


def test_code_constants_agree_with_the_schema():
    """Names the code dispatches on, checked against the schema's choices."""
    pretrain, track = settings.properties("pretrain"), settings.properties("track")
    assert tuple(pretrain["mask_strategy"]["enum"]) == tuple(masking.STRATEGIES)
    assert tuple(pretrain["lr_schedule"]["enum"]) == tuple(SCHEDULES)
    assert tuple(track["crop_mode"]["enum"]) == tuple(align.MODES)
    assert tuple(track["backend"]["enum"]) == tuple(BACKENDS)
    assert tuple(pretrain["layer_init"]["enum"]) == tuple(LAYER_INITS)
    for section in ("pretrain", "downstream.features", "downstream.finetune"):
        assert tuple(settings.properties(section)["precision"]["enum"]) == PRECISIONS


def test_a_shared_definition_is_declared_once():
    """The precision choices are one $defs entry that three settings refer to: each setting
    reads as the definition with its own default, and its help says both."""
    definition = load_schema("config")["$defs"]["precision"]
    for cls in (PretrainConfig, FeatureSettings, FinetuneSettings):
        spec = cls.schema()["properties"]["precision"]
        assert spec["enum"] == definition["enum"] and spec["default"] == "32"
        assert spec["description"].endswith(" ".join(definition["description"].split()))
    parser = cli.build_parser("extract")
    args = parser.parse_args(["extract", "v.mp4", "--model", "m", "--out", "o"])
    assert FeatureSettings.from_args(args).precision == "32"
    with pytest.raises(SystemExit):
        parser.parse_args(["extract", "v.mp4", "--model", "m", "--out", "o", "--precision", "8"])


def test_a_number_where_text_is_wanted_reads_as_text():
    """YAML reads ``precision: 32`` as a number; the setting is Lightning's text "32"."""
    assert PretrainConfig.from_dict({"precision": 32}).precision == "32"
    config = {"pretrain": {"precision": 32}, "downstream": {"finetune": {"precision": 32}}}
    checked = validate_config(config)
    assert checked["pretrain"]["precision"] == checked["downstream"]["finetune"]["precision"]
    assert checked["pretrain"]["precision"] == "32"
    with pytest.raises(InputError, match="'16' is not one of"):
        PretrainConfig.from_dict({"precision": 16})


def test_a_new_setting_is_one_declaration(monkeypatch):
    """Add a property to the schema: the class, its default, the flag and its help follow."""
    schema = copy.deepcopy(load_schema("config"))
    schema["properties"]["track"]["properties"]["blur_limit"] = {
        "type": "number",
        "minimum": 0,
        "default": 2.5,
        "description": "Drop frames blurrier than this (a new setting).",
    }
    monkeypatch.setattr(settings, "load_schema", lambda name: schema)
    cls = settings.settings_class("track", "TrackConfig")
    assert cls().blur_limit == 2.5 and cls.from_dict({"blur_limit": 1}).blur_limit == 1
    import argparse

    parser = argparse.ArgumentParser()
    _flags.add_arguments(parser, cls)
    assert cls.from_args(parser.parse_args(["--blur-limit", "4"])).blur_limit == 4.0
    assert "Drop frames blurrier than this" in parser.format_help()
