"""Read a workflow config the way Snakemake sees it: YAML validated by the schema, defaults filled."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

import yaml

from marlinflow.config.schemas import describe_error, load_schema, validator
from marlinflow.config.settings import coerce_strings
from marlinflow.errors import InputError


def validate_config(config: dict[str, Any], source: str | Path = "<config>") -> dict[str, Any]:
    """Fill defaults in place and check every key; report all problems with their key paths.

    Data set and task names are checked against the registry (:mod:`marlinflow.datasets`), not
    the schema: a data set module brings its names with it.
    """
    coerce_strings(config, load_schema("config"))
    errors = sorted(validator("config", fill_defaults=True).iter_errors(config), key=str)
    # The names come from the data set modules, which sit above the config: asked at call time.
    from marlinflow.datasets.checks import config_problems

    problems = [describe_error(error) for error in errors] + config_problems(config)
    if problems:
        raise InputError(source, "invalid config:\n  " + "\n  ".join(problems))
    return config


def load_config(*paths: str | Path) -> dict[str, Any]:
    """Merge YAML files left to right (later keys win, recursively), then validate."""
    merged: dict[str, Any] = {}
    for path in paths:
        merge(merged, read_config_file(path))
    return validate_config(merged, " + ".join(map(str, paths)))


def read_config_file(path: str | Path) -> dict[str, Any]:
    """One YAML config file as a mapping (not validated: it may be one layer of several)."""
    try:
        data = yaml.safe_load(Path(path).read_text()) or {}
    except (OSError, yaml.YAMLError) as err:
        raise InputError(path, f"not a readable YAML config ({err})") from err
    if not isinstance(data, dict):
        raise InputError(path, "a config file must be a mapping of keys")
    return data


def merge(into: dict[str, Any], update: dict[str, Any]) -> dict[str, Any]:
    for key, value in update.items():
        if isinstance(value, dict) and isinstance(into.get(key), dict):
            merge(into[key], value)
        else:
            into[key] = value
    return into


def cli_options(section: dict[str, Any]) -> list[str]:
    """A config section as a step's command options, so the rules copy no key by hand.

    ``{"max_gap": 5, "smooth": True, "cut": False, "weights": None, "seeds": [0, 1]}`` ->
    ``["--max-gap", "5", "--smooth", "--seeds", "0", "1"]``: true flags are given, false and null
    ones left out (the commands' flags default to off); a mapping is given as JSON.
    """
    options = []
    for key, value in section.items():
        if value is True:
            options.append(flag(key))
        elif isinstance(value, list):
            options += [flag(key), *map(str, value)]
        elif isinstance(value, dict):
            options += [flag(key), json.dumps(value)]
        elif value is not None and value is not False:
            options += [flag(key), str(value)]
    return options


def flag(key: str) -> str:
    """The command option of a config key: ``max_gap`` -> ``--max-gap``."""
    return "--" + key.replace("_", "-")


def model_tag(model: str | dict[str, Any]) -> str:
    """A folder name for a model setting: the size name, plus a digest when fields are overridden."""
    if isinstance(model, str):
        return model
    return f"{model.get('name', 'custom')}-{digest(model)[:8]}"


def digest(value: Any) -> str:
    """A stable fingerprint of a JSON value (keys sorted): the SHA-256 of its JSON, in hex."""
    return hashlib.sha256(json.dumps(value, sort_keys=True).encode()).hexdigest()
