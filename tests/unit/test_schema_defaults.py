"""The workflow schema documents the steps' settings; its defaults must be the steps' own."""

import dataclasses

import pytest

from marlinflow.face.pipeline import TrackConfig
from marlinflow.pretrain.config import PretrainConfig
from marlinflow.schemas import load_schema

# Set by the workflow itself (paths, the shared model key), not by users.
WORKFLOW_OWNED = {"index", "run_dir", "model"}


@pytest.mark.parametrize(
    ("section", "settings"), [("track", TrackConfig), ("pretrain", PretrainConfig)]
)
def test_schema_section_matches_the_settings_class(section, settings):
    properties = load_schema("config")["properties"][section]["properties"]
    defaults = {f.name: _default(f) for f in dataclasses.fields(settings)}
    assert set(properties) == set(defaults) - WORKFLOW_OWNED
    for key, spec in properties.items():
        expected = defaults[key]
        expected = list(expected) if isinstance(expected, tuple) else expected
        assert spec["default"] == expected, key
        assert spec.get("description"), f"{section}.{key} needs a description"


def test_model_default_is_the_settings_default():
    assert load_schema("config")["properties"]["model"]["default"] == PretrainConfig().model


def _default(field):
    if field.default is not dataclasses.MISSING:
        return field.default
    return field.default_factory()
