"""The settings of one pretraining run: the config's ``pretrain`` section and its ``model``, plus
the run's inputs (the parse records) and its folder; read from YAML or JSON.

Every setting, its default (the official one unless its description says otherwise) and its
constraints are declared in the config schema (:mod:`marlinflow.config.settings`).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import yaml

from marlinflow.config.settings import section_schema, settings_class
from marlinflow.errors import InputError

# set by the workflow per run, not pretraining settings
INPUTS = ("index", "run_dir", "model", "groups")
_RUN = {
    "model": section_schema("model"),
    "index": {
        "type": "array",
        "items": {"type": "string"},
        "default": [],
        "description": "Parse records, folders of them, or .txt lists of them.",
    },
    "groups": {
        "type": "object",
        "additionalProperties": {"type": "string"},
        "default": {},
        "description": (
            "The group of each video ('<data set>/<id>' -> group: a person, a source video), "
            "from the manifests' group column: the validation split holds out whole groups. "
            "A video not named is a group of its own."
        ),
    },
    "run_dir": {
        "type": "string",
        "default": "results/pretrain/run",
        "description": "The run's folder: last.ckpt, encoder.pt, metrics.*, reconstructions/.",
    },
}


class PretrainConfig(settings_class("pretrain", "PretrainSettings", extra=_RUN)):
    """A pretraining run's settings; ``index`` may also be given as one path."""

    @classmethod
    def from_dict(cls, data: dict[str, Any], source: str | Path = "<config>") -> PretrainConfig:
        if isinstance(data.get("index"), str):
            data = {**data, "index": [data["index"]]}
        return super().from_dict(data, str(source))

    @classmethod
    def load(cls, path: str | Path) -> PretrainConfig:
        """Read YAML or JSON (JSON is YAML); a ``pretrain:`` section is used if present."""
        try:
            text = Path(path).read_text()
            # JSON through json: YAML 1.1 reads JSON's 1e-05 (no dot) as a string
            data = (json.loads(text) if str(path).endswith(".json") else yaml.safe_load(text)) or {}
        except (OSError, ValueError, yaml.YAMLError) as err:
            raise InputError(path, f"not a readable config ({err})") from err
        if not isinstance(data, dict):
            raise InputError(path, "a pretrain config is a mapping of settings")
        return cls.from_dict(data.get("pretrain", data), path)
