"""Summarise a stage's video records: usable or not, why, and each video's statistics (a run).

Per-video stage records are the receipts that let one unusable video drop out without stopping
the run. Every per-video step writes ``<out_dir>/<id>.status.json`` last (atomically), after its data
files. The record says whether the video is usable after this stage, why not, which data files
the stage wrote, and what it measured. A step whose upstream record is not ok writes a record
that says so and does nothing else; later steps and the report read these records.

``marlinflow summary`` turns a stage's records into its summary TSV (one row per video, its
statistics as ``stats/<name>`` columns) and records it as the stage's tracked run
(``summarize_<stage>``, see :mod:`marlinflow.tracking`): the same rows as its ``video_stats`` table,
and the aggregates (usable counts, reasons by class, means, jitter percentiles, totals).
"""

from __future__ import annotations

import argparse
import json
import logging
import re
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from marlinflow.atomic import atomic_path, write_json
from marlinflow.errors import InputError

if TYPE_CHECKING:  # pandas is imported where a table is made: per-video steps do not need it
    import pandas as pd

log = logging.getLogger(__name__)
STATUS_SUFFIX = ".status.json"


@dataclass
class StageRecord:
    id: str
    stage: str
    ok: bool
    reason: str = ""
    outputs: dict[str, str] = field(default_factory=dict)
    stats: dict[str, Any] = field(default_factory=dict)
    seconds: float = 0.0

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
        raise ValueError(f"{status_path}: a stage record's name ends in {STATUS_SUFFIX}")
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
            record = StageRecord(video_id, stage, False, reason)
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
        record = StageRecord(video_id, stage, False, str(err))
    record.seconds = round(time.perf_counter() - started, 3)
    record.save(out_status)
    return record


def usable_outputs(status_paths: list[str | Path], key: str) -> list[str]:
    """The ``key`` output of every usable video, in the order of the records."""
    return [r.outputs[key] for r in collect(status_paths) if r.ok]


def write_usable_list(status_paths: list[str | Path], out: str | Path, key: str = "video") -> Path:
    """:func:`usable_outputs` as a list file, one path a line (written atomically): what the
    workflow gives every protocol, so that all of them see the same videos."""
    with atomic_path(out) as tmp:
        tmp.write_text("".join(f"{path}\n" for path in usable_outputs(status_paths, key)))
    return Path(out)


def collect(status_paths: list[str | Path]) -> list[StageRecord]:
    """Load the records of a set of videos (for aggregating steps and the report)."""
    return [StageRecord.load(p) for p in status_paths]


# Failure classes for the report, first match wins; the texts are those the stages write.
REASON_CATEGORIES = [
    ("skipped", r"^skipped:"),
    ("data set not downloaded", r"not found: .* \(see https?://"),
    ("checksum mismatch", r"sha256 mismatch"),
    ("not found", r"HTTP (Error )?(404|410)|no such file"),
    ("refused", r"HTTP (Error )?4\d\d"),
    ("not a video", r"not a video|no video stream|no frames|unreadable image|no frame images"),
    ("network", r"gave up after|cannot connect|timed out|unable to download|connection"),
    ("unavailable", r"unavailable|private video|been removed|terminated|copyright|sign in to"),
    ("corrupt", r"corrupt|truncated"),
    ("no face", r"no face|face in only"),
]


def reason_category(reason: str) -> str:
    """A short class for a failure reason, so the report can count them ("" when usable)."""
    if not reason:
        return ""
    for category, pattern in REASON_CATEGORIES:
        if re.search(pattern, reason, flags=re.IGNORECASE):
            return category
    return "other"


SUMMARY_COLUMNS = ["id", "stage", "ok", "category", "reason", "seconds"]
STATS_PREFIX = "stats/"
STATS_TABLE = "video_stats"  # the summary's rows as the run's table
# Statistics summed over the videos as well as averaged (the rest are only averaged).
TOTALED_STATS = ("frames", "bytes", "seconds")
PERCENTILES = (50, 90)  # of the jitter statistics (*_px), with the maximum


def flat_stats(stats: dict[str, Any], prefix: str = STATS_PREFIX) -> dict[str, Any]:
    """``{"frames": 40, "label_coverage": {"skin": 0.4}}`` -> ``{"stats/frames": 40,
    "stats/label_coverage/skin": 0.4}``."""
    flat: dict[str, Any] = {}
    for key, value in stats.items():
        if isinstance(value, dict):
            flat.update(flat_stats(value, f"{prefix}{key}/"))
        else:
            flat[f"{prefix}{key}"] = value
    return flat


def summary_table(records: list[StageRecord]) -> pd.DataFrame:
    """One row per record (id, stage, ok, category, reason, seconds, then its statistics as
    ``stats/<name>`` columns), the unusable first."""
    import pandas as pd

    rows = [
        {"id": r.id, "stage": r.stage, "ok": r.ok, "category": reason_category(r.reason),
         "reason": r.reason, "seconds": r.seconds, **flat_stats(r.stats)}
        for r in records
    ]  # fmt: skip
    stats_columns = list(
        dict.fromkeys(k for row in rows for k in row if k.startswith(STATS_PREFIX))
    )
    table = pd.DataFrame(rows, columns=SUMMARY_COLUMNS + stats_columns)
    return table.sort_values(["ok", "id"], kind="stable").reset_index(drop=True)


def stats_aggregates(usable: pd.DataFrame) -> dict[str, float]:
    """Means of the usable videos' numeric statistics, totals of counts, jitter percentiles."""
    import pandas as pd

    aggregates: dict[str, float] = {}
    for column in [c for c in usable if c.startswith(STATS_PREFIX)]:
        values = pd.to_numeric(usable[column], errors="coerce").dropna()
        if values.empty or usable[column].dtype == bool:
            continue
        aggregates[f"{column}/mean"] = float(values.mean())
        if column.rsplit("/", 1)[-1] in TOTALED_STATS:
            aggregates[f"{column}/total"] = float(values.sum())
        if column.endswith("_px"):
            for q in PERCENTILES:
                aggregates[f"{column}/p{q}"] = float(values.quantile(q / 100))
            aggregates[f"{column}/max"] = float(values.max())
    return aggregates


def stage_aggregates(table: pd.DataFrame) -> dict[str, float]:
    """A stage in numbers: videos, usable, unusable by reason class, then :func:`stats_aggregates`."""
    ok = table["ok"].astype(bool)
    aggregates: dict[str, float] = {"videos/total": len(table), "videos/usable": int(ok.sum()),
                                    "videos/unusable": int((~ok).sum()),
                                    "seconds/total": float(table["seconds"].sum())}  # fmt: skip
    for category, count in table.loc[~ok, "category"].value_counts().sort_index().items():
        aggregates[f"unusable/{category}"] = int(count)
    return aggregates | stats_aggregates(table[ok])


def summarize_stage(paths: list[Path], out: Path, run_dir: Path | None = None) -> pd.DataFrame:
    """Write the summary TSV ``out`` of the records at ``paths`` and record it as the run
    ``summarize_<stage>`` in ``run_dir`` (default ``<out's folder>/runs/<job type>``)."""
    from marlinflow.tracking import track_run

    table = summary_table(collect(paths))
    stages = list(dict.fromkeys(table["stage"]))
    job_type = "summarize_" + "_".join(stages)
    folders = sorted({str(Path(p).parent) for p in paths})
    config = {"stages": stages, "records": len(paths), "folders": folders, "out": str(out)}
    with track_run(job_type, config, out_dir=run_dir or out.parent / "runs" / job_type) as tracked:
        with atomic_path(out) as tmp:
            table.to_csv(tmp, sep="\t", index=False)
        tracked.log_table(STATS_TABLE, table, step=0)
        aggregates = stage_aggregates(table)
        tracked.log(aggregates, step=0)
        tracked.summarize(aggregates)
    log.info("%s: run recorded in %s (W&B %s)", out, tracked.out_dir, tracked.mode)
    return table


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("records", nargs="+", type=Path, help="stage records (*.status.json)")
    parser.add_argument("--out", type=Path, required=True, help="summary TSV to write")
    parser.add_argument("--run-dir", type=Path,
                        help="folder of the tracked run (default OUT's folder/runs/summarize_<stage>)")  # fmt: skip


def run(args: argparse.Namespace) -> int:
    """Summarise stage records: which videos are usable, why the others are not, statistics."""
    table = summarize_stage(args.records, args.out, args.run_dir)
    bad = table[~table["ok"]]
    print(f"{args.out}: {len(table) - len(bad)} usable, {len(bad)} not")
    for row in bad.itertuples():
        print(f"  {row.id}: {row.reason}")
    return 0
