"""Each setting is declared once, in the config schema; settings classes and CLI flags are made
from that declaration.

A section of ``workflow/schemas/config.schema.yaml`` (``track``, ``downstream.probe``, ...) gives
a frozen dataclass whose fields, types and defaults are the section's properties
(:func:`settings_class`); the command-line flags of the verb that takes the section are made from
the same properties (:mod:`marlinflow.commands._flags`). Adding a setting is adding it to the
schema: the class, the flag, its help and the workflow's options
(:func:`marlinflow.config.cli_options`) follow.
"""

from __future__ import annotations

import contextlib
import copy
import dataclasses
import sys
from typing import Any

import jsonschema
import yaml

from marlinflow.config.schemas import describe_error, load_schema, resolved
from marlinflow.errors import InputError

PYTHON_TYPES = {
    "integer": int,
    "number": float,
    "string": str,
    "boolean": bool,
    "array": list,
    "object": dict,
}


def section_schema(path: str) -> dict[str, Any]:
    """The schema of a config section, by its dotted path (``downstream.probe``)."""
    schema = load_schema("config")
    for key in path.split("."):
        properties = schema.get("properties", {})
        if key not in properties:
            raise KeyError(f"the config schema has no section {path!r}")
        schema = properties[key]
    return schema


def properties(path: str) -> dict[str, dict[str, Any]]:
    """The settings of a section: name -> property schema (a ``$ref`` filled in), leaf values
    only (not subsections)."""
    return {
        name: resolved(spec)
        for name, spec in section_schema(path).get("properties", {}).items()
        if "properties" not in spec
    }


def types_of(spec: dict[str, Any]) -> list[str]:
    types = spec.get("type", [])
    return [types] if isinstance(types, str) else list(types)


def _annotation(spec: dict[str, Any]) -> str:
    names = [PYTHON_TYPES[t].__name__ if t in PYTHON_TYPES else "None" for t in types_of(spec)]
    return " | ".join(names) or "Any"


def _field(spec: dict[str, Any]) -> dataclasses.Field:
    default = spec.get("default")
    if isinstance(default, (list, dict)):
        return dataclasses.field(default_factory=lambda: copy.deepcopy(default))
    return dataclasses.field(default=default)


def coerce_strings(config: dict[str, Any], schema: dict[str, Any]) -> None:
    """Read values as the schema types them, in place: strings as YAML where the schema wants no
    string (``--config`` values arrive as text), and numbers as text where it wants only text
    (YAML reads ``precision: 32`` as a number)."""
    for key, sub in schema.get("properties", {}).items():
        if key in config:
            config[key] = _coerce(config[key], resolved(sub))


def _coerce(value: Any, schema: dict[str, Any]) -> Any:
    types = types_of(schema)
    if isinstance(value, dict):
        coerce_strings(value, schema)
    elif isinstance(value, list) and "items" in schema:
        return [_coerce(item, resolved(schema["items"])) for item in value]
    elif isinstance(value, str) and types and "string" not in types:
        with contextlib.suppress(yaml.YAMLError):  # validation reports it
            return yaml.safe_load(value)
    elif isinstance(value, str) and "string" in types and len(types) > 1:
        # text or a number (shard_size: auto or 500): a number given as text is the number
        with contextlib.suppress(yaml.YAMLError):
            read = yaml.safe_load(value)
            kind = _json_type(read)
            wanted = set(types) - {"string", "null"}
            if kind in wanted or (kind == "integer" and "number" in wanted):
                return read
    elif isinstance(value, int | float) and not isinstance(value, bool) and types == ["string"]:
        return str(value)
    return value


def _json_type(value: Any) -> str:
    kinds = ((bool, "boolean"), (int, "integer"), (float, "number"), (list, "array"))
    return next((name for kind, name in kinds if isinstance(value, kind)), "object")


class Settings:
    """What every generated settings class can do besides holding its values."""

    SECTION: str = ""
    EXTRA: dict[str, dict[str, Any]] = {}

    @classmethod
    def schema(cls) -> dict[str, Any]:
        """The section's schema, with the class's extra (workflow-owned) properties."""
        props = {**properties(cls.SECTION), **cls.EXTRA}
        return with_defs({"type": "object", "properties": props, "additionalProperties": False})

    @classmethod
    def from_dict(cls, data: dict[str, Any], source: str = "<settings>"):
        """Settings from a mapping: missing keys get their defaults, every key is checked."""
        data = copy.deepcopy(dict(data))
        schema = cls.schema()
        coerce_strings(data, schema)
        unknown = sorted(set(data) - set(schema["properties"]))
        if unknown:
            known = ", ".join(schema["properties"])
            raise InputError(source, f"unknown {cls.SECTION} settings {unknown}; known: {known}")
        for name, spec in schema["properties"].items():
            data.setdefault(name, copy.deepcopy(spec.get("default")))
        errors = sorted(validator_of(schema).iter_errors(data), key=str)
        if errors:
            where = f"{source} ({cls.SECTION})" if cls.SECTION else source
            raise InputError(where, "; ".join(map(describe_error, errors)))
        return cls(**data)

    @classmethod
    def from_args(cls, args: Any):
        """Settings from parsed flags (an ``argparse.Namespace``: one attribute a field)."""
        values = vars(args)
        return cls(**{f.name: values[f.name] for f in dataclasses.fields(cls) if f.name in values})

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    def replace(self, **changes):
        return dataclasses.replace(self, **changes)


def with_defs(schema: dict[str, Any]) -> dict[str, Any]:
    """A piece of the config schema made whole: its ``$ref`` s point into the root's ``$defs``."""
    return {**schema, "$defs": load_schema("config").get("$defs", {})}


def validator_of(schema: dict[str, Any]) -> jsonschema.protocols.Validator:
    return jsonschema.validators.validator_for(schema)(schema)


def settings_class(
    section: str, name: str, extra: dict[str, dict[str, Any]] | None = None, doc: str = ""
) -> type:
    """A frozen dataclass of a schema section's settings, with their schema defaults.

    ``extra`` declares properties that are not user config (paths the workflow sets), in the
    schema's own terms, so they are typed, defaulted and checked the same way.
    """
    props = {**properties(section), **(extra or {})}
    fields = [(key, _annotation(spec), _field(spec)) for key, spec in props.items()]
    description = section_schema(section).get("description", "")
    namespace = {
        "SECTION": section,
        "EXTRA": dict(extra or {}),
        "__doc__": doc or f"Settings of ``{section}``: {' '.join(description.split())}",
    }
    cls = dataclasses.make_dataclass(
        name, fields, bases=(Settings,), frozen=True, namespace=namespace
    )
    # the module that binds it, as namedtuple does: instances pickle (to worker processes)
    cls.__module__ = sys._getframe(1).f_globals.get("__name__", __name__)
    return cls
