"""Command-line flags made from the config schema: one flag per setting, its help the setting's
description, its default the schema's, its value checked against the setting's schema as it is
read. The settings classes of :mod:`marlinflow.config.settings` read the parsed flags back."""

from __future__ import annotations

import argparse
import copy
from collections.abc import Callable, Iterable
from typing import Any

import jsonschema
import yaml

from marlinflow.config import flag
from marlinflow.config.settings import Settings, properties, types_of, validator_of, with_defs


def add_arguments(
    parser: argparse.ArgumentParser | argparse._ArgumentGroup,
    settings: type[Settings],
    *,
    only: Iterable[str] | None = None,
    exclude: Iterable[str] = (),
) -> None:
    """One flag per setting (``--max-gap`` for ``max_gap``), its help and default from the schema.

    Booleans are ``--flag/--no-flag``; lists take several values; anything else is read as YAML
    when the setting is not a plain string, and checked against the property's schema.
    """
    props = settings.schema()["properties"]
    names = [n for n in (props if only is None else only) if n not in set(exclude)]
    for key in names:
        parser.add_argument(flag(key), dest=key, **_flag(key, props[key]))


def add_setting(parser: argparse.ArgumentParser, path: str) -> None:
    """The flag of one setting, by its dotted path (``dataset.fps`` is ``--fps``)."""
    section, _, key = path.rpartition(".")
    spec = properties(section)[key]
    parser.add_argument(flag(key), dest=key, **_flag(key, spec))


def _flag(key: str, spec: dict[str, Any]) -> dict[str, Any]:
    default = copy.deepcopy(spec.get("default"))
    help_text = _help(spec) + (" (default: %(default)s)" if default is not None else "")
    if types_of(spec) == ["boolean"]:
        return {"action": argparse.BooleanOptionalAction, "default": default, "help": help_text}
    option: dict[str, Any] = {"default": default, "help": help_text}
    if "array" in types_of(spec):
        option |= {"nargs": "+", "type": _reader(key, spec.get("items", {}))}
    elif "enum" in spec:
        option |= {"choices": spec["enum"]}
    else:
        option |= {"type": _reader(key, spec), "metavar": key.upper()}
    return option


def _help(spec: dict[str, Any]) -> str:
    text = " ".join(spec.get("description", "").split())
    return text.replace("%", "%%")  # argparse formats help with %


def _reader(key: str, spec: dict[str, Any]) -> Callable[[str], Any]:
    """Text -> value of the property's type, checked against its schema (range, pattern)."""
    schema = with_defs({k: v for k, v in spec.items() if k not in ("default", "description")})

    def read(text: str) -> Any:
        value = _parse(text, types_of(spec))
        error = jsonschema.exceptions.best_match(validator_of(schema).iter_errors(value))
        if error is not None:
            raise argparse.ArgumentTypeError(f"{text!r}: {error.message}")
        return value

    read.__name__ = key  # argparse names the type in its messages
    return read


def _parse(text: str, types: list[str]) -> Any:
    """Text as the first of the setting's types it reads as (YAML 1.1 takes ``1e-3`` for text)."""
    if types == ["string"]:
        return text
    for name, convert in (("integer", int), ("number", float)):
        if name in types:
            try:
                return convert(text)
            except ValueError:
                pass
    try:
        return yaml.safe_load(text)
    except yaml.YAMLError as err:
        raise argparse.ArgumentTypeError(f"{text!r} is not a value ({err})") from None
