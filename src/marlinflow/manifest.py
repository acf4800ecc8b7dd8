"""Data set manifests: one TSV row per video (id, source, split, optional start/end/sha256/group,
labels).

Rows are validated against ``workflow/schemas/manifest.schema.yaml``; every problem is reported
with the file, the row number (counting the header as line 1) and the column, all at once. A
``group`` (a person, a source video) whose videos sit in more than one split is refused: training
on one side would see the faces the other side evaluates on.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from marlinflow.atomic import atomic_path
from marlinflow.config.schemas import describe_error, load_schema, validator
from marlinflow.errors import InputError

REQUIRED = ("id", "source", "split")
OPTIONAL_NUMBERS = ("start", "end")
MAX_REPORTED = 20


def read_manifest(path: str | Path) -> pd.DataFrame:
    """Read and validate a manifest TSV; raises :class:`InputError` naming every bad row."""
    path = Path(path)
    if not path.is_file():
        raise InputError(path, "manifest not found")
    try:
        table = pd.read_csv(path, sep="\t", dtype=str, keep_default_na=False, comment=None)
    except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError) as err:
        raise InputError(path, f"not a readable TSV manifest ({err})") from err
    return validate_manifest(table, path)


def validate_manifest(table: pd.DataFrame, path: str | Path = "<manifest>") -> pd.DataFrame:
    """Check columns, each row against the schema, and id uniqueness; return a typed copy."""
    missing = [c for c in REQUIRED if c not in table.columns]
    if missing:
        raise InputError(path, f"missing column(s) {', '.join(missing)}; has {list(table.columns)}")
    if table.empty:
        raise InputError(path, "manifest has no rows")
    table = table.copy()
    problems = _row_problems(table) + _duplicate_problems(table) + _group_problems(table)
    if problems:
        shown = problems[:MAX_REPORTED]
        more = (
            f"\n  ... and {len(problems) - MAX_REPORTED} more"
            if len(problems) > MAX_REPORTED
            else ""
        )
        raise InputError(path, "invalid manifest:\n  " + "\n  ".join(shown) + more)
    for column in OPTIONAL_NUMBERS:
        if column in table:
            table[column] = pd.to_numeric(table[column].replace("", None), errors="coerce")
    return table.reset_index(drop=True)


def _line(index: int) -> int:
    return index + 2  # header is line 1


def _row_problems(table: pd.DataFrame) -> list[str]:
    """Every row's problems, described by the schema's validator: only the rows the column-wise
    screen (:func:`_suspect_rows`) cannot clear are validated one by one, so a manifest of a
    million good rows is checked in seconds."""
    check = validator("manifest")
    problems = []
    suspect = np.flatnonzero(_suspect_rows(table))
    for index, row in zip(suspect, table.iloc[suspect].to_dict("records"), strict=True):
        record, bad_numbers = _typed(row)
        problems += [f"row {_line(index)}: {c}: not a number: {row[c]!r}" for c in bad_numbers]
        for error in sorted(check.iter_errors(record), key=str):
            problems.append(f"row {_line(index)} (id={row['id']!r}): {describe_error(error)}")
        start, end = record.get("start"), record.get("end")
        if start is not None and end is not None and end <= start:
            problems.append(f"row {_line(index)} (id={row['id']!r}): end {end} <= start {start}")
    return problems


# The schema keywords the column-wise screen understands; a property with any other keyword makes
# every row suspect, so the screen never clears a row the schema would refuse.
_SCREENED = {"type", "pattern", "enum", "minLength", "minimum", "exclusiveMinimum", "description"}
_JSON_TYPES = {"string": (str,), "number": (int, float), "integer": (int,), "null": (type(None),)}


def _suspect_rows(table: pd.DataFrame) -> np.ndarray:
    """A boolean per row: True where a row may break the manifest schema (or end <= start).

    Each schema property is checked on its whole column at once, on the cells as :func:`_typed`
    reads them (empty -> None, start and end -> numbers). A True is only a reason to look."""
    properties = load_schema("manifest")["properties"]
    suspect = np.zeros(len(table), dtype=bool)
    numbers, blank = {}, {}
    for column in OPTIONAL_NUMBERS:
        if column in table:
            cells = table[column]
            blank[column] = cells.map(type).isin([type(None)]).to_numpy() | (cells == "").to_numpy()
            numbers[column] = pd.to_numeric(cells.where(~blank[column], None), errors="coerce")
            suspect |= ~blank[column] & numbers[column].isna().to_numpy()  # not a number
    for key, spec in properties.items():
        if key not in table:
            continue
        if set(spec) - _SCREENED:
            return np.ones(len(table), dtype=bool)
        types = spec.get("type", [])
        types = {types} if isinstance(types, str) else set(types)
        if key in numbers:  # parsed above: each cell a number or empty
            cells, empty = numbers[key], blank[key]
            text, number = np.zeros(len(table), dtype=bool), ~empty
            ok = number & bool(types & {"number"})
        else:
            cells = table[key]
            kinds = cells.map(type)
            empty = kinds.isin([type(None)]).to_numpy() | (cells.astype(object) == "").to_numpy()
            text = kinds.isin([str]).to_numpy() & ~empty
            number = kinds.isin([int, float]).to_numpy() & ~empty & ~cells.isna().to_numpy()
            ok = (text & ("string" in types)) | (number & bool(types & {"number"}))
        ok |= empty & ("null" in types)
        as_text = cells.where(text, "").astype(str)
        if "pattern" in spec:
            ok &= ~text | as_text.str.contains(spec["pattern"]).to_numpy()
        if "minLength" in spec:
            ok &= ~text | (as_text.str.len() >= spec["minLength"]).to_numpy()
        if "enum" in spec:
            ok &= cells.isin(spec["enum"]).to_numpy() | (empty & ("null" in types))
        values = pd.to_numeric(cells.where(number, 0), errors="coerce")
        if "minimum" in spec:
            ok &= ~number | (values >= spec["minimum"]).to_numpy()
        if "exclusiveMinimum" in spec:
            ok &= ~number | (values > spec["exclusiveMinimum"]).to_numpy()
        suspect |= ~ok
    if len(numbers) == 2:
        suspect |= (numbers["end"] <= numbers["start"]).to_numpy()
    return suspect


def _typed(row: dict[str, str]) -> tuple[dict, list[str]]:
    """Empty optional cells become None, numbers become floats; return unparseable columns too."""
    record: dict = {k: (v if v != "" else None) for k, v in row.items()}
    bad = []
    for column in OPTIONAL_NUMBERS:
        if record.get(column) is not None:
            try:
                record[column] = float(record[column])
            except ValueError:
                bad.append(column)
                record[column] = None
    for column in ("sha256",):
        if record.get(column) is None:
            record.pop(column, None)
    return record, bad


def _duplicate_problems(table: pd.DataFrame) -> list[str]:
    first_seen: dict[str, int] = {}
    problems = []
    for index, video_id in enumerate(table["id"]):
        if video_id in first_seen:
            problems.append(
                f"row {_line(index)}: id {video_id!r} repeats row {_line(first_seen[video_id])}"
            )
        first_seen.setdefault(video_id, index)
    return problems


def _group_problems(table: pd.DataFrame) -> list[str]:
    if "group" not in table:
        return []
    groups = table["group"].where(table["group"].notna(), "").astype(str)
    splits = table[groups != ""].groupby(groups[groups != ""])["split"].unique()
    return [
        f"group {group!r} is in several splits ({', '.join(sorted(map(str, found)))}): "
        "a group's videos share one split"
        for group, found in splits.items()
        if len(found) > 1
    ]


def write_manifest(table: pd.DataFrame, path: str | Path) -> None:
    """Write a manifest TSV atomically (validated first, so a bad one is never written)."""
    table = validate_manifest(table, path)
    with atomic_path(path) as tmp:
        table.to_csv(tmp, sep="\t", index=False, float_format="%.3f")
