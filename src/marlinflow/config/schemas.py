"""The JSON Schemas (YAML) that document and validate configs and manifests.

They live in ``workflow/schemas/`` (where Snakemake validates the config against them) and are
packaged as ``marlinflow/schemas/`` in wheels, so the library and the workflow share one truth.
"""

from __future__ import annotations

import copy
from functools import cache
from pathlib import Path
from typing import Any

import jsonschema
import yaml

_PACKAGED = Path(__file__).parents[1] / "schemas"
_SOURCE_TREE = Path(__file__).resolve().parents[3] / "workflow" / "schemas"


def schema_path(name: str) -> Path:
    """Path of ``<name>.schema.yaml``, in the installed package or the source tree."""
    for folder in (_PACKAGED, _SOURCE_TREE):
        path = folder / f"{name}.schema.yaml"
        if path.is_file():
            return path
    raise FileNotFoundError(f"schema {name!r} not found in {_PACKAGED} or {_SOURCE_TREE}")


@cache
def load_schema(name: str) -> dict[str, Any]:
    return yaml.safe_load(schema_path(name).read_text())


def resolved(spec: dict[str, Any], name: str = "config") -> dict[str, Any]:
    """A property of schema ``name`` with its ``$ref`` into the schema's ``$defs`` filled in:
    the definition's keys with the property's on top, and the property's description followed
    by the definition's (a shared choice, such as ``precision``, is declared once)."""
    ref = spec.get("$ref", "")
    if not ref.startswith("#/$defs/"):
        return spec
    definition = load_schema(name)["$defs"][ref.removeprefix("#/$defs/")]
    merged = {**definition, **{k: v for k, v in spec.items() if k != "$ref"}}
    descriptions = [spec.get("description", ""), definition.get("description", "")]
    merged["description"] = " ".join(" ".join(d.split()) for d in descriptions if d)
    return merged


def _with_defaults(validator_class):
    """A validator that fills in each property's ``default`` before validating it."""
    validate_properties = validator_class.VALIDATORS["properties"]

    def set_defaults(validator, properties, instance, schema):
        if isinstance(instance, dict):
            for key, sub in properties.items():
                if "default" in sub and key not in instance:
                    instance[key] = copy.deepcopy(sub["default"])
        yield from validate_properties(validator, properties, instance, schema)

    return jsonschema.validators.extend(validator_class, {"properties": set_defaults})


def validator(name: str, fill_defaults: bool = False) -> jsonschema.protocols.Validator:
    schema = load_schema(name)
    cls = jsonschema.validators.validator_for(schema)
    return (_with_defaults(cls) if fill_defaults else cls)(schema)


def describe_error(error: jsonschema.ValidationError) -> str:
    """``key.sub: reason`` for a validation error."""
    where = ".".join(str(p) for p in error.absolute_path) or "(top level)"
    return f"{where}: {error.message}"
