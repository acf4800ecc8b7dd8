"""Per-video stage records, the runner that writes them, and the classes of their failures.

Per-video stage records are the receipts that let one unusable video drop out without stopping
the run. Every per-video step writes ``<out_dir>/<id>.status.json`` last (atomically), after its data
files. The record says whether the video is usable after this stage, why not, which data files
the stage wrote, and what it measured. A step whose upstream record is not ok writes a record
that says so and does nothing else; later steps, the stage summaries
(:mod:`marlinflow.report.stage_summary`) and the report read these records.

A record that is not ok also names the class of its failure, one of :class:`Category`: the class
the error gave when the code that failed knows it, else the class its reason's text matches
(:data:`REASON_PATTERNS`: messages of servers and yt-dlp).
"""

from __future__ import annotations

import contextvars
import json
import logging
import re
import time
from collections.abc import Callable, Iterable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from marlinflow.atomic import atomic_path, write_json
from marlinflow.errors import Category, InputError

log = logging.getLogger(__name__)
STATUS_SUFFIX = ".status.json"
# The key a shard job's step stamps on the record it writes (marlinflow.shards.video_key): set by
# the shard's worker around each video, so that the record is written once, key and all.
RECORD_KEY: contextvars.ContextVar[str] = contextvars.ContextVar("record_key", default="")


@dataclass
class StageRecord:
    id: str
    stage: str
    ok: bool
    reason: str = ""
    outputs: dict[str, str] = field(default_factory=dict)
    stats: dict[str, Any] = field(default_factory=dict)
    seconds: float = 0.0
    category: str = ""  # a Category value when not ok ("" in records written before it existed)
    key: str = ""  # what a shard job made it from (marlinflow.shards.video_key); "" otherwise

    @property
    def failure_class(self) -> str:
        """The record's :class:`Category` value ("" when usable), also for older records."""
        return "" if self.ok else self.category or reason_category(self.reason)

    def save(self, path: str | Path) -> None:
        write_json(path, asdict(self))

    @classmethod
    def load(cls, path: str | Path) -> StageRecord:
        try:
            return cls(**json.loads(Path(path).read_text()))
        except (OSError, ValueError, TypeError) as err:
            raise InputError(path, f"not a readable stage record ({err})") from err


def is_status_path(path: str | Path) -> bool:
    return str(path).endswith(STATUS_SUFFIX)


def video_id_of(status_path: str | Path) -> str:
    """``data/raw/ytf/abc.status.json`` -> ``abc``."""
    name = Path(status_path).name
    if not name.endswith(STATUS_SUFFIX):
        raise InputError(status_path, f"a stage record's name ends in {STATUS_SUFFIX}")
    return name[: -len(STATUS_SUFFIX)]


def sibling(status_path: str | Path, suffix: str) -> Path:
    """A data file beside a stage record: (``faces/abc.status.json``, ``.mp4``) -> ``faces/abc.mp4``."""
    return Path(status_path).with_name(video_id_of(status_path) + suffix)


def run_stage(
    stage: str,
    upstream: str | Path | None,
    out_status: str | Path,
    work: Callable[[dict[str, str]], tuple[dict[str, str], dict[str, Any]]],
) -> StageRecord:
    """Run one per-video step and write its record, whatever happens to the video.

    ``upstream`` is the previous stage's record (or None for a first stage). ``work`` gets the
    upstream outputs and returns (outputs, stats); an :class:`InputError` it raises marks the video
    unusable with that reason. Other exceptions are bugs and propagate.
    """
    video_id = video_id_of(out_status)
    started = time.perf_counter()
    inputs: dict[str, str] = {}
    if upstream is not None:
        prior = StageRecord.load(upstream)
        if not prior.ok:
            # name the stage that dropped the video, not every stage that passed it on
            reason = (
                prior.reason
                if prior.reason.startswith("skipped:")
                else f"skipped: {prior.stage}: {prior.reason}"
            )
            record = StageRecord(video_id, stage, False, reason, category=Category.SKIPPED.value)
            record.key = RECORD_KEY.get()
            record.save(out_status)
            return record
        inputs = prior.outputs
    try:
        outputs, stats = work(inputs)
        record = StageRecord(
            video_id, stage, True, "", {k: str(v) for k, v in outputs.items()}, stats
        )
    except InputError as err:
        log.warning("%s: %s: %s", stage, video_id, err)
        category = err.category.value if err.category else reason_category(str(err))
        record = StageRecord(video_id, stage, False, str(err), category=category)
    record.seconds = round(time.perf_counter() - started, 3)
    record.key = RECORD_KEY.get()
    record.save(out_status)
    return record


def usable_outputs(status_paths: list[str | Path], key: str) -> list[str]:
    """The ``key`` output of every usable video, in the order of the records (records, folders
    or lists of them: :func:`record_paths`)."""
    return [r.outputs[key] for r in collect(record_paths(status_paths)) if r.ok]


def write_usable_list(status_paths: list[str | Path], out: str | Path, key: str = "video") -> Path:
    """:func:`usable_outputs` as a list file, one path a line (written atomically): what the
    workflow gives every protocol, so that all of them see the same videos."""
    with atomic_path(out) as tmp:
        tmp.write_text("".join(f"{path}\n" for path in usable_outputs(status_paths, key)))
    return Path(out)


def record_paths(entries: Iterable[str | Path]) -> list[Path]:
    """Every record the entries name: each a record, a folder of them, or a ``.txt`` list of
    record paths, one a line (a shard job's list, :mod:`marlinflow.shards`)."""
    return [path for entry in entries for path in _record_paths(Path(entry))]


def _record_paths(entry: Path) -> list[Path]:
    if entry.is_dir():
        return sorted(entry.glob(f"*{STATUS_SUFFIX}"))
    if entry.suffix == ".txt":
        lines = entry.read_text().splitlines()
        return [Path(line.strip()) for line in lines if line.strip()]
    return [entry]


def collect(status_paths: list[str | Path]) -> list[StageRecord]:
    """Load the records of a set of videos (for aggregating steps and the report)."""
    return [StageRecord.load(p) for p in status_paths]


# The class of a reason whose error named none, first match wins: texts of servers, yt-dlp and
# records written before errors named their class.
REASON_PATTERNS: list[tuple[Category, str]] = [
    (Category.SKIPPED, r"^skipped:"),
    (Category.NOT_DOWNLOADED, r"not found: .* \(see https?://"),
    (Category.CHECKSUM_MISMATCH, r"sha256 mismatch"),
    (Category.NOT_FOUND, r"HTTP (Error )?(404|410)|no such file"),
    (Category.REFUSED, r"HTTP (Error )?4\d\d"),
    (Category.CORRUPT, r"corrupt|truncated"),
    (Category.NOT_A_VIDEO, r"not a (readable )?video|no video stream|no frames|unreadable image"),
    (Category.NETWORK, r"gave up after|cannot connect|timed out|unable to download|connection"),
    (Category.UNAVAILABLE, r"unavailable|private video|been removed|terminated|copyright|sign in"),
    (Category.TOO_SHORT, r"too short"),
    (Category.FACE_TOO_SMALL, r"face too small"),
    (Category.NO_FACE, r"no face|face in only"),
    (Category.NO_AUDIO, r"no audio"),
]


def reason_category(reason: str) -> str:
    """The :class:`Category` value a failure's reason text matches ("" when there is no reason)."""
    if not reason:
        return ""
    for category, pattern in REASON_PATTERNS:
        if re.search(pattern, reason, flags=re.IGNORECASE):
            return category.value
    return Category.OTHER.value
